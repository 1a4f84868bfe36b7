/**
 * The one behaviour suite every `KvStore` must pass (memory in `kv-memory.test.ts`, Redis in
 * `test/services/kv-redis.test.ts`). Real time, short windows: what a caller sees, not how the
 * store keeps it.
 */
import type { Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KvStore, LimitCheck } from '../../core/stores/kv.js';
import { slotWidth } from '../../core/stores/sliding-window.js';

export interface KvSuiteOptions {
  /** Opens a store; every call must reach the same data when `shared` (Redis), or a fresh one (memory). */
  open(): KvStore;
  /** True when two opened stores share state (separate connections to one Redis). */
  shared: boolean;
}

const unique = (label: string): string => `${label}:${randomBytes(6).toString('hex')}`;

export function runKvSuite(t: Test, options: KvSuiteOptions): void {
  let store: KvStore;
  t.before(() => {
    store = options.open();
  });
  t.teardown(() => store.close());

  t.test('values', async (t) => {
    t.test('get returns what set stored, as bytes, and undefined when absent', async (t) => {
      const key = unique('v');
      t.equal(await store.get(key), undefined);
      await store.set(key, 'héllo', 10_000);
      t.same((await store.get(key))?.toString('utf8'), 'héllo');
      await store.set(key, Buffer.from([0, 255, 1]), 10_000);
      t.same([...((await store.get(key)) ?? [])], [0, 255, 1], 'a later set replaces the value; binary survives');
    });

    t.test('a value is gone once its TTL has passed', async (t) => {
      const key = unique('ttl');
      await store.set(key, 'x', 80);
      t.ok(await store.get(key), 'present before expiry');
      await sleep(160);
      t.equal(await store.get(key), undefined, 'absent after expiry');
    });

    t.test('setIfAbsent stores only when the key is absent or expired', async (t) => {
      const key = unique('nx');
      t.equal(await store.setIfAbsent(key, 'first', 80), true);
      t.equal(await store.setIfAbsent(key, 'second', 10_000), false);
      t.equal((await store.get(key))?.toString(), 'first', 'the first value stays');
      await sleep(160);
      t.equal(await store.setIfAbsent(key, 'third', 10_000), true, 'an expired key counts as absent');
      t.equal((await store.get(key))?.toString(), 'third');
    });

    t.test('delete reports whether something was deleted', async (t) => {
      const key = unique('del');
      await store.set(key, 'x', 10_000);
      t.equal(await store.delete(key), true);
      t.equal(await store.get(key), undefined);
      t.equal(await store.delete(key), false);
    });

    t.test('deletePrefix deletes exactly the keys under the prefix, glob characters taken literally', async (t) => {
      const base = unique('dp');
      await store.set(`${base}:a*:1`, '1', 10_000);
      await store.set(`${base}:a*:2`, '2', 10_000);
      await store.set(`${base}:ab:3`, '3', 10_000);
      await store.set(`${base}:b:4`, '4', 10_000);
      t.equal(await store.deletePrefix(`${base}:a*:`), 2);
      t.equal(await store.get(`${base}:a*:1`), undefined);
      t.ok(await store.get(`${base}:ab:3`), 'a key that only matches the prefix as a glob stays');
      t.ok(await store.get(`${base}:b:4`));
      t.equal(await store.deletePrefix(`${base}:`), 2);
      t.equal(await store.deletePrefix(`${base}:`), 0);
    });

    t.test('deletePrefix with an infix deletes the keys under the prefix that contain it after the prefix', async (t) => {
      const base = unique('dpi');
      for (const key of ['o1:m*:h1', 'o2:m*:h2', 'o3:mx:h3', 'o4:m:h4', 'm*:o5:h5']) await store.set(`${base}:${key}`, key, 10_000);
      t.equal(await store.deletePrefix(`${base}:`, ':m*:'), 2, 'the infix is literal text, glob characters too');
      t.equal(await store.get(`${base}:o1:m*:h1`), undefined);
      t.ok(await store.get(`${base}:o3:mx:h3`));
      t.ok(await store.get(`${base}:m*:o5:h5`), 'the infix must come after the prefix, not be part of it');
      t.equal(await store.deletePrefix(`${base}:`, ':m:'), 1);
      t.equal(await store.deletePrefix(`${base}:`), 2);
    });
  });

  t.test('pub/sub', async (t) => {
    t.test('a message reaches every subscriber of the channel, and none after unsubscribing', async (t) => {
      const channel = unique('ch');
      const other = options.shared ? options.open() : store;
      t.teardown(() => (other === store ? undefined : other.close()));
      const got: string[] = [];
      const gotOther: string[] = [];
      const off = await store.subscribe(channel, (m) => got.push(`a:${m}`));
      const offOther = await other.subscribe(channel, (m) => gotOther.push(`b:${m}`));
      await store.subscribe(unique('elsewhere'), (m) => got.push(`wrong:${m}`));
      await store.publish(channel, 'one');
      await waitFor(() => got.length >= 1 && gotOther.length >= 1);
      t.same(got, ['a:one']);
      t.same(gotOther, ['b:one'], options.shared ? 'delivered across connections' : 'delivered to a second subscriber');
      await off();
      await offOther();
      await store.publish(channel, 'two');
      await sleep(100);
      t.same([...got, ...gotOther], ['a:one', 'b:one'], 'nothing after unsubscribe');
    });
  });

  t.test('limits', async (t) => {
    const check = (key: string, limit: number, windowMs: number, cost = 1): LimitCheck => ({ key, limit, windowMs, cost });

    t.test('consume counts down remaining and reports when the window resets', async (t) => {
      const key = unique('rl');
      const first = await store.limits.consume([check(key, 3, 60_000)]);
      t.equal(first.allowed, true);
      t.equal(first.retryAfterMs, 0);
      t.same(first.states.map((s) => [s.limit, s.remaining]), [[3, 2]]);
      t.ok(first.states[0]!.resetMs > 0 && first.states[0]!.resetMs <= 60_000 + slotWidth(60_000), `resetMs ${first.states[0]!.resetMs}`);
      await store.limits.consume([check(key, 3, 60_000)]);
      const third = await store.limits.consume([check(key, 3, 60_000)]);
      t.same(third.states[0]!.remaining, 0);
      const fourth = await store.limits.consume([check(key, 3, 60_000)]);
      t.equal(fourth.allowed, false);
      t.equal(fourth.states[0]!.remaining, 0);
      t.ok(fourth.retryAfterMs > 55_000 && fourth.retryAfterMs <= 60_000 + slotWidth(60_000), `retryAfterMs ${fourth.retryAfterMs}`);
    });

    t.test('consume is all-or-nothing across windows', async (t) => {
      const minute = unique('rpm');
      const tokens = unique('tpm');
      await store.limits.consume([check(tokens, 100, 60_000, 90)]);
      const denied = await store.limits.consume([check(minute, 10, 60_000), check(tokens, 100, 60_000, 20)]);
      t.equal(denied.allowed, false);
      t.same(denied.states.map((s) => s.remaining), [10, 10], 'the window with room was not charged');
      const allowed = await store.limits.consume([check(minute, 10, 60_000), check(tokens, 100, 60_000, 10)]);
      t.equal(allowed.allowed, true);
      t.same(allowed.states.map((s) => s.remaining), [9, 0]);
    });

    t.test('N concurrent requests at a limit of L admit exactly min(N, L)', async (t) => {
      const key = unique('flood');
      const decisions = await Promise.all(Array.from({ length: 60 }, () => store.limits.consume([check(key, 25, 60_000)])));
      t.equal(decisions.filter((d) => d.allowed).length, 25);
      t.ok(decisions.filter((d) => !d.allowed).every((d) => d.retryAfterMs > 0), 'every denial says when to retry');
    });

    t.test('the window slides: no burst at a window edge, room again once usage has slid out', async (t) => {
      const key = unique('slide');
      const windowMs = 600;
      const started = performance.now();
      for (let i = 0; i < 5; i++) t.equal((await store.limits.consume([check(key, 5, windowMs)])).allowed, true);
      const denied = await store.limits.consume([check(key, 5, windowMs)]);
      t.equal(denied.allowed, false);
      let admittedAt = 0;
      while (!admittedAt) {
        await sleep(15);
        if ((await store.limits.consume([check(key, 5, windowMs)])).allowed) admittedAt = performance.now();
      }
      const waited = admittedAt - started;
      t.ok(waited >= windowMs, `nothing admitted within ${windowMs} ms of the first five (waited ${waited.toFixed(0)} ms)`);
      t.ok(waited <= windowMs + 2 * slotWidth(windowMs) + 150, `room again soon after the window (waited ${waited.toFixed(0)} ms)`);
      t.ok(denied.retryAfterMs > windowMs - 200 && denied.retryAfterMs <= windowMs + slotWidth(windowMs), `retryAfterMs ${denied.retryAfterMs}`);
    });

    t.test('usage spread over a window leaves it oldest first', async (t) => {
      const key = unique('spread');
      const windowMs = 900;
      await store.limits.consume([check(key, 10, windowMs, 6)]);
      await sleep(450);
      await store.limits.consume([check(key, 10, windowMs, 4)]);
      const full = await store.limits.consume([check(key, 10, windowMs, 5)]);
      t.equal(full.allowed, false);
      t.ok(full.retryAfterMs > 200 && full.retryAfterMs <= 450 + slotWidth(windowMs) + 50, `room as soon as the first 6 leave (retryAfterMs ${full.retryAfterMs})`);
      await sleep(full.retryAfterMs + 40);
      const after = await store.limits.consume([check(key, 10, windowMs, 5)]);
      t.equal(after.allowed, true, 'the older usage left');
      t.equal(after.states[0]!.remaining, 1, 'the newer usage still counts');
    });

    t.test('a cost larger than the limit is never admitted', async (t) => {
      const decision = await store.limits.consume([check(unique('big'), 10, 60_000, 11)]);
      t.equal(decision.allowed, false);
      t.equal(decision.states[0]!.remaining, 10);
    });

    t.test('adjust charges and gives back units without checking', async (t) => {
      const key = unique('adj');
      await store.limits.consume([check(key, 100, 60_000, 50)]);
      await store.limits.adjust(key, 60_000, 30);
      t.equal((await store.limits.consume([check(key, 100, 60_000, 0)])).states[0]!.remaining, 20, 'a positive adjust charges');
      await store.limits.adjust(key, 60_000, -60);
      t.equal((await store.limits.consume([check(key, 100, 60_000, 0)])).states[0]!.remaining, 80, 'a negative adjust gives back');
      await store.limits.adjust(key, 60_000, -500);
      t.equal((await store.limits.consume([check(key, 100, 60_000, 0)])).states[0]!.remaining, 100, 'never more room than the limit');
      t.equal((await store.limits.consume([check(key, 100, 60_000, 100)])).allowed, true);
      t.equal((await store.limits.consume([check(key, 100, 60_000, 1)])).allowed, false, 'over-returning earned no credit');
      await store.limits.adjust(key, 60_000, 20);
      const over = await store.limits.consume([check(key, 100, 60_000)]);
      t.equal(over.allowed, false, 'usage past the limit blocks further requests');
      t.equal(over.states[0]!.remaining, 0);
    });

    t.test('concurrency slots: acquire up to max, release gives one back', async (t) => {
      const key = unique('conc');
      t.same(await store.limits.acquire(key, 2, 60_000), { acquired: true, inUse: 1 });
      t.same(await store.limits.acquire(key, 2, 60_000), { acquired: true, inUse: 2 });
      t.same(await store.limits.acquire(key, 2, 60_000), { acquired: false, inUse: 2 });
      await store.limits.release(key);
      t.same(await store.limits.acquire(key, 2, 60_000), { acquired: true, inUse: 2 });
    });

    t.test('concurrent acquires at max M take exactly M slots', async (t) => {
      const key = unique('conc-flood');
      const results = await Promise.all(Array.from({ length: 30 }, () => store.limits.acquire(key, 7, 60_000)));
      t.equal(results.filter((r) => r.acquired).length, 7);
    });

    t.test('a slot never released expires after its TTL', async (t) => {
      const key = unique('conc-ttl');
      t.equal((await store.limits.acquire(key, 1, 100)).acquired, true);
      t.equal((await store.limits.acquire(key, 1, 100)).acquired, false);
      await sleep(180);
      t.equal((await store.limits.acquire(key, 1, 100)).acquired, true);
    });

    if (options.shared) {
      t.test('two connections share one limit', async (t) => {
        const other = options.open();
        t.teardown(() => other.close());
        const key = unique('shared');
        const decisions = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? store : other).limits.consume([check(key, 15, 60_000)])));
        t.equal(decisions.filter((d) => d.allowed).length, 15);
      });
    }
  });
}

async function waitFor(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition() && Date.now() < until) await sleep(5);
}
