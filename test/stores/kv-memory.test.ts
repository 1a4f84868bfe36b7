/**
 * The in-process store: the shared suite, plus what only memory promises — a byte bound with LRU
 * eviction, limit counters that cache pressure never evicts, and sweeping of expired counters.
 */
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { entryBytes, ENTRY_OVERHEAD_BYTES, MemoryKvStore } from '../../core/stores/memory-kv.js';
import { openKvStore } from '../../core/stores/open-kv.js';
import { createLogger } from '../../core/log.js';
import { runKvSuite } from './kv-suite.js';

t.test('memory store: shared suite', async (t) => {
  runKvSuite(t, { open: () => new MemoryKvStore(), shared: false });
});

const kb = (n: number): Buffer => Buffer.alloc(n * 1024, 1);

t.test('values past max_bytes evict the least recently used first', async (t) => {
  const store = new MemoryKvStore({ maxBytes: 10 * 1024 });
  t.teardown(() => store.close());
  await store.set('a', kb(3), 60_000);
  await store.set('b', kb(3), 60_000);
  await store.set('c', kb(3), 60_000);
  await store.get('a');
  await store.set('d', kb(3), 60_000);
  t.ok(await store.get('a'), 'recently read value stays');
  t.equal(await store.get('b'), undefined, 'least recently used value went');
  t.ok(await store.get('c'));
  t.ok(await store.get('d'));
  const stats = store.stats();
  t.equal(stats.entries, 3);
  t.equal(stats.evictions, 1);
  t.ok(stats.bytes <= 10 * 1024, `bytes ${stats.bytes} within the bound`);
});

t.test('a flood of unique values stays within the byte bound', async (t) => {
  const store = new MemoryKvStore({ maxBytes: 64 * 1024 });
  t.teardown(() => store.close());
  for (let i = 0; i < 5_000; i++) await store.set(`k${i}`, kb(1), 60_000);
  const stats = store.stats();
  t.ok(stats.bytes <= 64 * 1024, `bytes ${stats.bytes}`);
  t.ok(stats.entries > 30 && stats.entries < 64, `entries ${stats.entries}`);
  t.equal(stats.evictions, 5_000 - stats.entries);
});

t.test('a value larger than the whole store is not kept and evicts nothing', async (t) => {
  const store = new MemoryKvStore({ maxBytes: 4 * 1024 });
  t.teardown(() => store.close());
  await store.set('small', 'x', 60_000);
  await store.set('huge', kb(8), 60_000);
  t.equal(await store.get('huge'), undefined);
  t.ok(await store.get('small'));
  t.equal(await store.setIfAbsent('huge', kb(8), 60_000), false, 'setIfAbsent reports it did not store it');
});

t.test('cache pressure never evicts a rate-limit counter', async (t) => {
  const store = new MemoryKvStore({ maxBytes: 8 * 1024 });
  t.teardown(() => store.close());
  await store.limits.consume([{ key: 'rl:k', limit: 2, windowMs: 60_000, cost: 2 }]);
  for (let i = 0; i < 200; i++) await store.set(`cache:${i}`, kb(1), 60_000);
  t.ok(store.stats().evictions > 100, 'values were evicted');
  t.equal((await store.limits.consume([{ key: 'rl:k', limit: 2, windowMs: 60_000, cost: 1 }])).allowed, false, 'the counter still holds its usage');
});

t.test('expired counters, slots and values are swept', async (t) => {
  const store = new MemoryKvStore();
  t.teardown(() => store.close());
  for (let i = 0; i < 1_000; i++) await store.limits.consume([{ key: `rl:ip:${i}`, limit: 5, windowMs: 50, cost: 1 }]);
  await store.limits.acquire('conc', 3, 50);
  await store.set('v', 'x', 50);
  t.equal(store.limits.size, 1_001);
  store.sweep();
  t.equal(store.limits.size, 1_001, 'live counters stay');
  await sleep(200);
  store.sweep();
  t.equal(store.limits.size, 0, 'every expired counter and slot set is gone');
  t.equal(store.stats().entries, 0);
  t.equal(store.stats().bytes, 0);
});

t.test('openKvStore reads memory and max_bytes, and rejects a bad size', async (t) => {
  const log = createLogger({ level: 'silent' });
  const plain = openKvStore('memory', log);
  const sized = openKvStore({ memory: { max_bytes: '1kb' } }, log);
  t.equal(plain.kind, 'memory');
  await sized.set('a', kb(2), 60_000);
  t.equal(await sized.get('a'), undefined, 'a 1kb store keeps no 2kb value');
  t.throws(() => openKvStore({ memory: { max_bytes: 'lots' } }, log), /max_bytes/);
  await Promise.all([plain.close(), sized.close()]);
});

t.test('text comes back as it went in, as text and as UTF-8 bytes', async (t) => {
  const store = new MemoryKvStore();
  t.teardown(() => store.close());
  const text = '{"content":"héllo ✓ 𝄞"}';
  t.ok(store.setSync('t', text, 60_000));
  t.equal(store.getTextSync('t'), text);
  t.same(await store.get('t'), Buffer.from(text, 'utf8'));
  await store.set('b', Buffer.from([0, 255, 1]), 60_000);
  t.same(await store.get('b'), Buffer.from([0, 255, 1]), 'binary values are kept byte for byte');
});

t.test('max_bytes counts what an entry holds in memory, not only its value', async (t) => {
  const store = new MemoryKvStore();
  t.teardown(() => store.close());
  const value = 'v'.repeat(500);
  for (let i = 0; i < 100; i++) store.setSync(`cache:org:model:${i}`, value, 60_000);
  let expected = 0;
  for (let i = 0; i < 100; i++) expected += entryBytes(`cache:org:model:${i}`, 500);
  t.equal(store.stats().bytes, expected);
  t.ok(entryBytes('k', 500) >= 500 + ENTRY_OVERHEAD_BYTES, 'the overhead is counted');
  // A bound of 10 such entries keeps 10, whatever the share of their values in it.
  const bounded = new MemoryKvStore({ maxBytes: 10 * entryBytes('cache:org:model:00', 500) });
  t.teardown(() => bounded.close());
  for (let i = 0; i < 100; i++) bounded.setSync(`cache:org:model:${String(i).padStart(2, '0')}`, value, 60_000);
  t.equal(bounded.stats().entries, 10);
});

t.test('text values are kept off V8 heap: a full cache adds little to the heap', async (t) => {
  // A collection on demand, without starting the test process with --expose-gc.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const store = new MemoryKvStore();
  t.teardown(() => store.close());
  const entries = 20_000;
  // ~480 bytes of JSON text per entry, as the cache stores (each a new string, built per request).
  const text = (i: number): string => `{"at":1764770000000}\n{"id":"chatcmpl-${i}","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"request ${i} ${'x'.repeat(300)}"}}]}`;
  gc();
  const before = process.memoryUsage();
  let valueBytes = 0;
  let transient = 0;
  for (let i = 0; i < entries; i++) {
    valueBytes += Buffer.byteLength(text(i));
    store.setSync(`cache:dev:demo:${i}`, text(i), 60_000);
    // Short-lived buffers in between, as a request makes: they must not stay resident with the values.
    transient += Buffer.from(`request ${i} ${'y'.repeat(300)}`).length;
  }
  gc();
  gc();
  const after = process.memoryUsage();
  const perEntry = (after.heapUsed - before.heapUsed) / entries;
  t.equal(store.stats().entries, entries);
  t.ok(transient > 0);
  // A string value alone would take its ~480 bytes on the heap; what stays is the key, the
  // Buffer view and the table's row (~150 bytes, measured).
  t.ok(perEntry < 300, `heap per entry ${Math.round(perEntry)} bytes`);
  // Outside the heap: the values' bytes and the table's rows and index (~90 bytes an entry at this
  // size), not the transient buffers allocated between them (with Node's shared Buffer pool: ~500).
  const beyondValues = (after.arrayBuffers - before.arrayBuffers - valueBytes) / entries;
  t.ok(beyondValues < 150, `${Math.round(beyondValues)} bytes outside the heap per entry beyond its ${Math.round(valueBytes / entries)}-byte value`);
  t.equal(store.getTextSync('cache:dev:demo:7'), text(7));
});
