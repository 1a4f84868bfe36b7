/**
 * The in-process store: the shared suite, plus what only memory promises — a byte bound with LRU
 * eviction, limit counters that cache pressure never evicts, and sweeping of expired counters.
 */
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryKvStore } from '../../core/stores/memory-kv.js';
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
