/**
 * newId: a v4 UUID as ONE flat string. crypto.randomUUID()'s string is a tree of pieces ~7× the
 * size; usage rows queued while the database is away hold one each, so the difference is tens of MB.
 */
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { newId } from '../../core/ids.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap bytes per string kept, for 20,000 strings made by `make`. */
function bytesPerId(make: () => string): number {
  gc();
  const before = process.memoryUsage().heapUsed;
  const kept = Array.from({ length: 20_000 }, make);
  gc();
  const per = (process.memoryUsage().heapUsed - before) / kept.length;
  t.equal(kept.length, 20_000);
  return per;
}

t.test('a v4 UUID, different each time', async (t) => {
  const ids = new Set(Array.from({ length: 1000 }, newId));
  t.equal(ids.size, 1000);
  for (const id of [...ids].slice(0, 20)) t.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

t.test('kept, it costs a flat string, a fraction of what randomUUID() keeps', async (t) => {
  const tree = bytesPerId(randomUUID);
  const flat = bytesPerId(newId);
  t.ok(flat < 120, `~64 bytes each (${flat.toFixed(0)})`);
  t.ok(flat * 3 < tree, `${flat.toFixed(0)} bytes against randomUUID()'s ${tree.toFixed(0)}`);
});
