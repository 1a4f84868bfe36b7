/**
 * Retries, fallbacks, the attempt budget, the deadline and circuit breakers, driven by a mock
 * upstream that plays scheduled faults (per upstream model name, one per request): error statuses
 * with `Retry-After`, hangs, streams that fail before or after their first chunk. Every test uses
 * its own upstream model names, so breakers and schedules never cross between tests.
 */
import t from 'tap';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startMockOpenAI, scheduledFaults, type MockOpenAI, type ScheduledFault } from '../helpers/mock-openai.js';

let upstream: MockOpenAI;
let gw: TestGateway;
const schedule = new Map<string, ScheduledFault[]>();
const repeat = new Map<string, ScheduledFault>();
/** `performance.now()` of each call the upstream saw, by upstream model. */
const seen = new Map<string, number[]>();

const calls = (model: string): number => seen.get(model)?.length ?? 0;

t.before(async () => {
  upstream = await startMockOpenAI();
  const play = scheduledFaults(schedule, repeat);
  upstream.on('/v1/chat/completions', (req, res, body) => {
    const model = String(body?.['model']);
    seen.set(model, [...(seen.get(model) ?? []), performance.now()]);
    return play(req, res, body);
  });
  const u = upstream.baseUrl;
  gw = await startGateway(`version: 1
providers:
  a: { adapter: openai, base_url: "${u}", api_key: k }
  b: { adapter: openai, base_url: "${u}", api_key: k }
models:
  retry-then-ok: { retries: 2, targets: [{ provider: a, model: r1 }] }
  retry-after: { retries: 1, targets: [{ provider: a, model: ra1 }] }
  retry-after-capped: { retries: 1, targets: [{ provider: a, model: ra2 }] }
  retry-after-ms: { retries: 1, targets: [{ provider: a, model: ra3 }] }
  all-fail: { retries: 1, targets: [{ provider: a, model: f1 }, { provider: b, model: f2 }, { provider: a, model: f3 }] }
  all-fail-2: { max_attempts: 2, retries: 5, targets: [{ provider: a, model: g1 }, { provider: b, model: g2 }] }
  hang: { deadline: 300ms, targets: [{ provider: a, model: hang1 }, { provider: b, model: hang2 }] }
  stream-error: { retries: 0, targets: [{ provider: a, model: se1 }, { provider: b, model: se-good }] }
  stream-cut: { retries: 0, targets: [{ provider: a, model: sc1 }, { provider: b, model: sc-good }] }
  stream-late-cut: { targets: [{ provider: a, model: lc1 }, { provider: b, model: lc-good }] }
  flaky: { retries: 0, targets: [{ provider: a, model: br1 }, { provider: b, model: br-good }] }
  dead: { retries: 0, targets: [{ provider: a, model: dead1 }] }
  bad-request: { targets: [{ provider: a, model: bad1 }, { provider: b, model: bad2 }] }
  context: { retry_on: [context_length], targets: [{ provider: a, model: small }, { provider: b, model: large }] }
pipeline:
  - route:
      backoff: { base: 20ms, cap: 80ms }
      retry_after_cap: 300ms
      breaker: { failures: 3, cooldown: 1s }
`);
});
t.teardown(async () => {
  await gw.close();
  await upstream.close();
});

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  ms: number;
}

async function chat(model: string, stream = false): Promise<Answer> {
  const started = performance.now();
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream, messages: [{ role: 'user', content: 'hi' }] }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, ms: performance.now() - started };
}

/** The `data:` payloads of an SSE answer. */
const events = (text: string): string[] => text.split('\n\n').filter(Boolean).map((e) => e.replace(/^data: /, ''));

const gap = (model: string): number => seen.get(model)![1]! - seen.get(model)![0]!;

t.test('a target that fails twice with 5xx is retried with backoff and its third answer is the client\'s', async (t) => {
  schedule.set('r1', [{ status: 500 }, { status: 503 }]);
  const res = await chat('retry-then-ok');
  t.equal(res.status, 200);
  t.match(JSON.parse(res.text), { choices: [{ message: { content: 'upstream says: hi' } }] });
  t.equal(calls('r1'), 3);
  t.equal(res.headers.get('x-switchyard-attempts'), '3');
  const [first, second, third] = seen.get('r1')!;
  t.ok(second! - first! <= 20 + 80 && third! - second! <= 40 + 80, `backoff waits stay within base × 2^n (plus slack for a busy machine): ${(second! - first!).toFixed(0)}, ${(third! - second!).toFixed(0)} ms`);
});

t.test('Retry-After in seconds is honoured up to retry_after_cap', async (t) => {
  schedule.set('ra2', [{ status: 429, headers: { 'retry-after': '3600' } }]);
  const res = await chat('retry-after-capped');
  t.equal(res.status, 200);
  t.equal(calls('ra2'), 2);
  t.ok(gap('ra2') >= 295 && gap('ra2') < 300 + 100, `waited the cap, not an hour: ${gap('ra2').toFixed(0)} ms`);
});

t.test('Retry-After as an HTTP date and retry-after-ms are honoured', async (t) => {
  schedule.set('ra1', [{ status: 503, headers: { 'retry-after': new Date(Date.now() + 2000).toUTCString() } }]);
  schedule.set('ra3', [{ status: 429, headers: { 'retry-after-ms': '150' } }]);
  const [date, ms] = await Promise.all([chat('retry-after'), chat('retry-after-ms')]);
  t.equal(date.status, 200);
  t.equal(ms.status, 200);
  // An HTTP date has whole seconds: 1–2 s away, capped at 300 ms.
  t.ok(gap('ra1') >= 295 && gap('ra1') < 400, `date: ${gap('ra1').toFixed(0)} ms`);
  t.ok(gap('ra3') >= 145 && gap('ra3') < 250, `retry-after-ms: ${gap('ra3').toFixed(0)} ms`);
});

t.test('with every target failing 500, the upstream calls never exceed the attempt budget', async (t) => {
  for (const m of ['f1', 'f2', 'f3', 'g1', 'g2']) repeat.set(m, { status: 500 });
  const res = await chat('all-fail');
  t.equal(res.status, 502);
  t.match(JSON.parse(res.text), { error: { type: 'upstream_error', code: 'upstream_error' } });
  t.equal(calls('f1') + calls('f2') + calls('f3'), 3, 'route.max_attempts (3), not 3 targets × 2 calls');
  t.equal(calls('f1'), 2, 'the first target got its retry');
  t.equal(calls('f2'), 1, 'the second its first call');
  t.equal(calls('f3'), 0);
  t.equal(res.headers.get('x-switchyard-attempts'), '3');
  const two = await chat('all-fail-2');
  t.equal(two.status, 502);
  t.equal(calls('g1') + calls('g2'), 2, "the model's own max_attempts (2), though retries is 5");
});

t.test('the deadline bounds the whole request: a hanging target is cut and the fallback gets no time past it', async (t) => {
  repeat.set('hang1', 'hang');
  repeat.set('hang2', 'hang');
  const res = await chat('hang');
  t.equal(res.status, 504);
  t.match(JSON.parse(res.text), { error: { type: 'timeout_error', code: 'deadline_exceeded', message: /model 'hang'.*300 ms/ } });
  t.ok(res.ms >= 295 && res.ms < 300 + 100, `answered at the deadline: ${res.ms.toFixed(0)} ms`);
  t.equal(calls('hang1'), 1);
  t.equal(calls('hang2'), 0);
});

t.test('a stream that sends an error event before its first chunk falls back; the client gets a clean stream', async (t) => {
  repeat.set('se1', 'stream-error-before-first');
  const res = await chat('stream-error', true);
  t.equal(res.status, 200);
  const data = events(res.text);
  t.equal(data.at(-1), '[DONE]');
  t.notMatch(res.text, /"error"/);
  t.match(res.text, /"content":"upstream "/);
  t.equal(calls('se1'), 1);
  t.equal(calls('se-good'), 1);
  t.equal(res.headers.get('x-switchyard-attempts'), '2');
  t.equal(res.headers.get('x-switchyard-model'), 'se-good');
});

t.test('a stream cut before its first chunk falls back; the client gets a clean stream', async (t) => {
  repeat.set('sc1', 'stream-cut-before-first');
  const res = await chat('stream-cut', true);
  t.equal(res.status, 200);
  t.equal(events(res.text).at(-1), '[DONE]');
  t.notMatch(res.text, /"error"/);
  t.equal(calls('sc1'), 1);
  t.equal(calls('sc-good'), 1);
});

t.test('a stream cut after its first chunks ends with an error event, and is not retried', async (t) => {
  repeat.set('lc1', { cutAfter: 3 });
  const res = await chat('stream-late-cut', true);
  t.equal(res.status, 200);
  const data = events(res.text);
  t.match(res.text, /part1 .*part2 /s);
  t.match(JSON.parse(data.at(-1)!), { error: { code: 'upstream_stream_error' } });
  t.notOk(data.includes('[DONE]'));
  t.equal(calls('lc1'), 1);
  t.equal(calls('lc-good'), 0);
});

t.test('a breaker opens after 3 failures, its target stops getting traffic, and a probe after the cooldown closes it', async (t) => {
  repeat.set('br1', { status: 500 });
  for (let i = 0; i < 3; i++) t.equal((await chat('flaky')).status, 200, `request ${i + 1} falls back`);
  t.equal(calls('br1'), 3);
  for (let i = 0; i < 5; i++) {
    const res = await chat('flaky');
    t.equal(res.status, 200);
    t.equal(res.headers.get('x-switchyard-attempts'), '1', 'the open target is skipped, not called');
  }
  t.equal(calls('br1'), 3, 'no traffic to the open target');
  t.equal(calls('br-good'), 8);
  repeat.delete('br1');
  // The cooldown is a span of time, not an event: wait it out.
  await new Promise((r) => setTimeout(r, 1020));
  const probe = await chat('flaky');
  t.equal(probe.status, 200);
  t.equal(probe.headers.get('x-switchyard-model'), 'br1', 'the half-open probe went to the recovered target');
  t.equal((await chat('flaky')).headers.get('x-switchyard-model'), 'br1', 'closed again: traffic is back');
  t.equal(calls('br1'), 5);
});

t.test('when every target of a model is open, the request fails fast with a 503 naming the model', async (t) => {
  repeat.set('dead1', { status: 500 });
  for (let i = 0; i < 3; i++) t.equal((await chat('dead')).status, 502);
  const res = await chat('dead');
  t.equal(res.status, 503);
  t.match(JSON.parse(res.text), { error: { code: 'all_targets_unavailable', message: /model 'dead'/ } });
  t.ok(Number(res.headers.get('retry-after')) >= 1, 'Retry-After says when to come back');
  t.ok(res.ms < 50, `fast: ${res.ms.toFixed(1)} ms`);
  t.equal(calls('dead1'), 3);
});

t.test("the client's own 400 is neither retried nor passed to a fallback", async (t) => {
  repeat.set('bad1', { status: 400, message: "Invalid value for 'temperature'." });
  const res = await chat('bad-request');
  t.equal(res.status, 400);
  t.match(JSON.parse(res.text), { error: { message: /temperature/ } });
  t.equal(calls('bad1'), 1);
  t.equal(calls('bad2'), 0);
});

t.test('a context-length error falls back to the next target when retry_on lists context_length', async (t) => {
  repeat.set('small', { status: 400, code: 'context_length_exceeded', message: "This model's maximum context length is 8192 tokens." });
  const res = await chat('context');
  t.equal(res.status, 200);
  t.equal(res.headers.get('x-switchyard-model'), 'large');
  t.equal(calls('small'), 1, 'not retried on the same target: no other call there would fit');
});
