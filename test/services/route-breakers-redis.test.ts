/**
 * Circuit breakers shared by two gateways through the real Redis on 127.0.0.1:6379 (REDIS_URL):
 * once one replica opens a target's breaker the other stops sending there at once (at most one
 * further request), the half-open probe is one for both replicas together, and a successful probe
 * closes the breaker in both. Fails — never skips — when Redis is unreachable. The run uses its
 * own key prefix and cleans up.
 */
import t from 'tap';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startChaosUpstream, type ChaosUpstream } from '../helpers/fault-upstream.js';
import { createScratchRedis, REDIS_URL } from './scratch-redis.js';

const scratch = createScratchRedis('route-breakers');
const ADMIN = 'route-breakers-admin-0123456789';
let up: ChaosUpstream;
let a: TestGateway;
let b: TestGateway;

t.before(async () => {
  t.equal(await scratch.check(), 'PONG', `Redis answers at ${REDIS_URL}`);
  process.env['SWITCHYARD_ADMIN_KEY'] = ADMIN;
  up = await startChaosUpstream();
  const yaml = `version: 1
stores: { kv: { redis: { url: "${REDIS_URL}", prefix: "${scratch.prefix}" } } }
providers:
  p: { adapter: openai, base_url: "${up.baseUrl}", api_key: k }
  q: { adapter: openai, base_url: "${up.baseUrl}", api_key: k }
models:
  m1: { targets: [{ provider: p, model: x1 }, { provider: q, model: good }] }
  m2: { targets: [{ provider: p, model: x2 }, { provider: q, model: good }] }
pipeline:
  - route:
      breaker: { failures: 3, cooldown: 2s, half_open_probes: 1 }
`;
  a = await startGateway(yaml);
  b = await startGateway(yaml);
  // Both replicas must be listening before a breaker opens: wait for the two subscriptions.
  const channel = `${scratch.prefix}route:breakers`;
  for (let i = 0; i < 200; i++) {
    const [, count] = (await scratch.raw.pubsub('NUMSUB', channel)) as [string, number];
    if (Number(count) >= 2) break;
    await new Promise((r) => setTimeout(r, 10));
  }
});
t.teardown(async () => {
  await a.close();
  await b.close();
  await up.close();
  await scratch.drop();
  delete process.env['SWITCHYARD_ADMIN_KEY'];
});

async function chat(gw: TestGateway, model: string): Promise<{ status: number; model: string | null }> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });
  await res.text();
  return { status: res.status, model: res.headers.get('x-switchyard-model') };
}

async function breakerOf(gw: TestGateway, target: string): Promise<string | undefined> {
  const res = await fetch(`${gw.url}/admin/targets`, { headers: { authorization: `Bearer ${ADMIN}` } });
  const body = (await res.json()) as { data: { target: string; breaker: string }[] };
  return body.data.find((d) => d.target === target)?.breaker;
}

t.test('after one replica opens a breaker, the other sends no more than one further request there', async (t) => {
  up.set('x1', { failRate: 1 });
  for (let i = 0; i < 3; i++) t.equal((await chat(a, 'm1')).status, 200, 'replica A falls back');
  t.equal(up.count('x1'), 3);
  t.equal(await breakerOf(a, 'p/x1'), 'open');
  // Replica B, at once: its own breaker has seen no failure.
  const answers: { status: number; model: string | null }[] = [];
  for (let i = 0; i < 5; i++) answers.push(await chat(b, 'm1'));
  t.ok(answers.every((r) => r.status === 200 && r.model === 'good'));
  t.ok(up.count('x1') <= 4, `B sent ${up.count('x1') - 3} request(s) to the open target`);
  t.equal(await breakerOf(b, 'p/x1'), 'open', "B's breaker is open too, without failures of its own");
});

t.test('after the cooldown one probe serves both replicas, and its success closes the breaker in both', async (t) => {
  up.set('x2', { failRate: 1 });
  for (let i = 0; i < 3; i++) await chat(a, 'm2');
  t.equal(up.count('x2'), 3);
  up.set('x2', { latencyMs: 80 });
  // The cooldown is a span of time, not an event: wait it out.
  await new Promise((r) => setTimeout(r, 2050));
  const burst = await Promise.all([...Array.from({ length: 6 }, () => chat(a, 'm2')), ...Array.from({ length: 6 }, () => chat(b, 'm2'))]);
  t.ok(burst.every((r) => r.status === 200));
  t.equal(up.count('x2'), 4, 'one probe for the two replicas; the rest went to the fallback meanwhile');
  t.equal(burst.filter((r) => r.model === 'x2').length, 1);
  for (const gw of [a, b]) {
    let closed = false;
    for (let i = 0; i < 100 && !closed; i++) closed = (await breakerOf(gw, 'p/x2')) === 'closed' || (await new Promise((r) => setTimeout(r, 5)), false);
    t.ok(closed, `closed in ${gw === a ? 'A' : 'B'}`);
  }
  t.equal((await chat(b, 'm2')).model, 'x2', 'B sends to the recovered target again');
});
