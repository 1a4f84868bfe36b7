/**
 * Chaos: routing under load-shaped faults from a loopback upstream (`startChaosUpstream`) whose
 * latency, error share or hang is set per upstream model. What route-resilience.test.ts proves
 * request by request (retries, deadline, streams cut before or after the first chunk), this proves
 * over many requests: breakers take a flaky target out, the attempt budget holds under a total
 * outage, weights hold end to end, least-latency finds the fast target, a hang is cut at its
 * timeout. `GET /admin/targets` and the metrics are checked against what happened.
 */
import t from 'tap';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startChaosUpstream, type ChaosUpstream } from '../helpers/fault-upstream.js';

const ADMIN = 'chaos-admin-secret-0123456789';
let up: ChaosUpstream;
let gw: TestGateway;

t.before(async () => {
  process.env['SWITCHYARD_ADMIN_KEY'] = ADMIN;
  up = await startChaosUpstream();
  const u = up.baseUrl;
  up.set('half-bad', { failRate: 0.5 });
  for (const m of ['bad1', 'bad2', 'bad3']) up.set(m, { failRate: 1 });
  up.set('slow5', { latencyMs: 25 });
  up.set('fast1', { latencyMs: 5 });
  up.set('hangs', { hang: true });
  gw = await startGateway(`version: 1
providers:
  a: { adapter: openai, base_url: "${u}", api_key: k }
  b: { adapter: openai, base_url: "${u}", api_key: k }
  c: { adapter: openai, base_url: "${u}", api_key: k }
  slow: { adapter: openai, base_url: "${u}", api_key: k, timeouts: { first_byte: 150ms } }
models:
  flaky-pair: { strategy: weighted, targets: [{ provider: a, model: half-bad }, { provider: b, model: good1 }] }
  outage: { strategy: weighted, retries: 1, max_attempts: 3, targets: [{ provider: a, model: bad1, weight: 2 }, { model: outage-chain }] }
  outage-chain: { targets: [{ provider: b, model: bad2 }, { provider: c, model: bad3 }] }
  shares: { strategy: weighted, targets: [{ provider: a, model: w5, weight: 5 }, { provider: b, model: w3, weight: 3 }, { provider: c, model: w2, weight: 2 }] }
  latency: { strategy: least-latency, targets: [{ provider: a, model: slow5 }, { provider: b, model: fast1 }] }
  hang: { deadline: 1s, targets: [{ provider: slow, model: hangs }, { provider: b, model: rescue }] }
pipeline:
  - route:
      backoff: { base: 5ms, cap: 20ms }
      breaker: { failures: 5, failure_rate: 0.5, min_requests: 20, window: 30s, cooldown: 5m }
`);
});
t.teardown(async () => {
  await gw.close();
  await up.close();
  delete process.env['SWITCHYARD_ADMIN_KEY'];
});

interface Answer {
  status: number;
  model: string | null;
  attempts: number;
  ms: number;
  text: string;
}

async function chat(model: string, stream = false): Promise<Answer> {
  const started = performance.now();
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream, messages: [{ role: 'user', content: 'hi' }] }),
  });
  const text = await res.text();
  return { status: res.status, model: res.headers.get('x-switchyard-model'), attempts: Number(res.headers.get('x-switchyard-attempts')), ms: performance.now() - started, text };
}

/** Runs `n` requests, `concurrency` at a time. */
async function load(n: number, concurrency: number, one: (i: number) => Promise<Answer>): Promise<Answer[]> {
  const out: Answer[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) out.push(await one(next++));
    }),
  );
  return out;
}

async function adminTargets(): Promise<Record<string, { breaker: string; healthy: boolean; calls: number; failures: number; in_flight: number; latency_ms: number | null }>> {
  const res = await fetch(`${gw.url}/admin/targets`, { headers: { authorization: `Bearer ${ADMIN}` } });
  t.equal(res.status, 200);
  const body = (await res.json()) as { data: { target: string }[] };
  return Object.fromEntries(body.data.map((d) => [d.target, d])) as never;
}

t.test('one of two targets failing 50%: no client failure over 1,000 requests, and the failing target gets no traffic once its breaker opens', async (t) => {
  const first = await load(100, 10, () => chat('flaky-pair'));
  const afterOpen = up.count('half-bad');
  t.ok(afterOpen >= 20 && afterOpen <= 40, `the breaker opened on its failure rate after ${afterOpen} calls (min_requests 20, plus the ones in flight)`);
  const rest = await load(900, 10, () => chat('flaky-pair'));
  const all = [...first, ...rest];
  t.equal(all.filter((a) => a.status !== 200).length, 0, '0 client failures in 1,000 requests');
  t.equal(up.count('half-bad'), afterOpen, 'not one call to the failing target in the last 900 requests');
  t.ok(rest.every((a) => a.model === 'good1' && a.attempts === 1), 'the open target is skipped, costing no attempt');
  const targets = await adminTargets();
  t.match(targets['a/half-bad'], { breaker: 'open', healthy: false, calls: afterOpen, in_flight: 0 });
  t.equal(targets['a/half-bad']!.failures, Math.floor(afterOpen / 2), 'every second call failed');
  t.match(targets['b/good1'], { breaker: 'closed', healthy: true, failures: 0, in_flight: 0 });
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  t.match(metrics, /switchyard_route_target_breaker_state\{provider="a",model="half-bad",target="a\/half-bad"\} 2/);
  t.match(metrics, /switchyard_route_target_healthy\{provider="b",model="good1",target="b\/good1"\} 1/);
  t.match(metrics, new RegExp(`switchyard_route_target_calls_total\\{provider="a",model="half-bad",target="a/half-bad",outcome="failure"\\} ${Math.floor(afterOpen / 2)}`));
  t.notMatch(metrics, /api_key|Bearer/, 'no key in any label');
});

t.test('every target returning 500: the upstream calls never exceed the attempt budget, and open breakers then fail fast', async (t) => {
  const answers = await load(40, 4, () => chat('outage'));
  const upstreamCalls = up.count('bad1') + up.count('bad2') + up.count('bad3');
  const attempts = answers.reduce((sum, a) => sum + a.attempts, 0);
  t.ok(answers.every((a) => a.attempts <= 3), `no request made more than max_attempts (3) calls: ${[...new Set(answers.map((a) => a.attempts))].join(', ')}`);
  t.equal(upstreamCalls, attempts, 'the upstream saw exactly the calls the requests report');
  t.ok(upstreamCalls <= 40 * 3, `${upstreamCalls} calls for 40 requests`);
  t.ok(answers.every((a) => a.status === 502 || a.status === 503), 'each request failed cleanly');
  const last = answers.slice(-5);
  t.ok(last.every((a) => a.status === 503 && a.attempts === 0 && a.ms < 100), 'once every breaker is open: 503 at once, no upstream call');
  t.match(JSON.parse(last[0]!.text), { error: { code: 'all_targets_unavailable', message: /model 'outage'/ } });
});

t.test('weights hold end to end: 5 : 3 : 2 over 200 concurrent requests (10,000 picks: route.strategies.test.ts)', async (t) => {
  const answers = await load(200, 10, () => chat('shares'));
  t.ok(answers.every((a) => a.status === 200));
  const share = (m: string) => up.count(m) / 200;
  t.ok(Math.abs(share('w5') - 0.5) <= 0.03 && Math.abs(share('w3') - 0.3) <= 0.03 && Math.abs(share('w2') - 0.2) <= 0.03, `${up.count('w5')} / ${up.count('w3')} / ${up.count('w2')}`);
});

t.test('least-latency sends at least 90% of 200 requests to a target 5× faster', async (t) => {
  const answers = await load(200, 1, () => chat('latency'));
  t.ok(answers.every((a) => a.status === 200));
  const fast = answers.filter((a) => a.model === 'fast1').length;
  t.ok(fast >= 180, `${fast} of 200 to the fast target`);
  t.ok(up.count('slow5') >= 2, 'the slow target is still explored now and then');
  const targets = await adminTargets();
  t.ok(targets['b/fast1']!.latency_ms! < targets['a/slow5']!.latency_ms!, `EWMA ${targets['b/fast1']!.latency_ms} ms < ${targets['a/slow5']!.latency_ms} ms`);
});

t.test('a hanging upstream is cut at its first-byte timeout and the fallback answers within the deadline', async (t) => {
  for (const stream of [false, true]) {
    const res = await chat('hang', stream);
    t.equal(res.status, 200);
    t.equal(res.model, 'rescue');
    t.equal(res.attempts, 2);
    t.ok(res.ms >= 145 && res.ms < 1000, `${stream ? 'stream' : 'JSON'}: answered after the 150 ms timeout, within the 1 s deadline: ${res.ms.toFixed(0)} ms`);
    if (stream) t.match(res.text, /from rescue[\s\S]*\[DONE\]/);
  }
});
