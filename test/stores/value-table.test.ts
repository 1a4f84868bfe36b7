/**
 * The memory store's hash table: whatever mix of inserts, removals, touches and growth, it finds
 * exactly the keys a plain Map holds, and its LRU order is the order of last use.
 */
import t from 'tap';
import { hashKey, ValueTable } from '../../core/stores/value-table.js';

/** A small deterministic PRNG, so a failure replays. */
function random(seed: number): () => number {
  return () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
}

function order(table: ValueTable<number>): string[] {
  const keys: string[] = [];
  for (let entry = table.oldest; entry !== -1; entry = table.newer(entry)) keys.push(table.key(entry));
  return keys;
}

t.test('finds exactly what a Map holds through inserts, removals, touches and growth', async (t) => {
  const table = new ValueTable<number>();
  const model = new Map<string, number>();
  const next = random(42);
  // Few distinct keys and colliding home slots: long probe runs that removals must shift back.
  const keyOf = (n: number) => `cache:_:m:${n}`;
  let wrong = 0;
  for (let step = 0; step < 60_000; step++) {
    const key = keyOf(Math.floor(next() * 3_000));
    const hash = hashKey(key);
    const entry = table.find(key, hash);
    if ((entry !== -1) !== model.has(key) || (entry !== -1 && table.value(entry) !== model.get(key))) wrong++;
    if (entry !== -1) {
      if (next() < 0.5) {
        table.remove(entry);
        model.delete(key);
      } else {
        table.touch(entry);
        model.delete(key);
        model.set(key, table.value(entry));
      }
    } else {
      table.insert(key, hash, step, step, 1);
      model.set(key, step);
    }
  }
  t.equal(wrong, 0, 'every lookup agreed with the Map');
  t.equal(table.size, model.size);
  for (const [key, value] of model) if (table.value(table.find(key, hashKey(key))) !== value) wrong++;
  t.equal(wrong, 0, 'every key the Map holds is found with its value');
  t.same(order(table), [...model.keys()], 'LRU order is the order of last use');
});

t.test('removing every entry leaves an empty table that still works', async (t) => {
  const table = new ValueTable<number>();
  for (let i = 0; i < 1_000; i++) table.insert(`k${i}`, hashKey(`k${i}`), i, 0, 1);
  while (table.oldest !== -1) table.remove(table.oldest);
  t.equal(table.size, 0);
  for (let i = 0; i < 1_000; i++) t.equal(table.find(`k${i}`, hashKey(`k${i}`)), -1);
  table.insert('again', hashKey('again'), 7, 0, 1);
  t.equal(table.value(table.find('again', hashKey('again'))), 7);
});
