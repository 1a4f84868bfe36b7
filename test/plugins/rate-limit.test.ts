/**
 * `rate-limit` behaviour through real in-process gateways (memory store): headers, the 429
 * envelope, per-dimension counters, concurrency slots released after a stream ends or the client
 * goes away, token reservations settled with the real usage, per-key overrides from `ctx.auth`,
 * and fail-open / fail-closed when Redis is unreachable.
 */
import t from 'tap';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI from 'openai';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { ConfigLoadError } from '../../core/config/load.js';
import { formatReset } from '../../plugins/rate-limit/response.js';

/** A fake `auth`: `x-test-key: name[:rpm[:tpm[:concurrency]]]` becomes `ctx.auth` with those limits. */
const FAKE_AUTH = `
export default {
  name: 'fake-auth',
  schema: { type: 'object' },
  create() {
    return {
      async handle(ctx, next) {
        const sent = ctx.headers['x-test-key'];
        if (typeof sent === 'string') {
          const [keyId, rpm, tpm, concurrency] = sent.split(':');
          const limits = {};
          if (rpm) limits.rpm = Number(rpm);
          if (tpm) limits.tpm = Number(tpm);
          if (concurrency) limits.concurrency = Number(concurrency);
          ctx.auth = { method: 'static_key', orgId: 'org-' + keyId, keyId, scopes: ['write'], environment: 'live', allowedModels: [], allowedIps: [], allowedReferrers: [], limits, metadata: {} };
        }
        await next();
      },
    };
  },
};
`;

let pluginDir: string;
t.before(async () => {
  pluginDir = await mkdtemp(join(tmpdir(), 'switchyard-rl-'));
  await writeFile(join(pluginDir, 'fake-auth.mjs'), FAKE_AUTH);
});
t.teardown(() => rm(pluginDir, { recursive: true, force: true }));

interface Options {
  kv?: string;
  fakeAuth?: boolean;
  mock?: string;
}

/** A gateway with the offline `mock` provider (usage: prompt and completion at 4 characters per token). */
async function gateway(rateLimit: string, options: Options = {}): Promise<TestGateway> {
  return startGateway(
    `version: 1
server: { trusted_proxies: [127.0.0.1] }
stores: { kv: ${options.kv ?? 'memory'} }
providers:
  demo: { adapter: mock${options.mock ? `, ${options.mock}` : ''} }
models:
  demo: { targets: [{ provider: demo }] }
  other: { targets: [{ provider: demo }] }
pipeline:
${options.fakeAuth ? `  - use: "${join(pluginDir, 'fake-auth.mjs')}"\n` : ''}  - rate-limit:
${rateLimit
  .split('\n')
  .map((l) => `      ${l}`)
  .join('\n')}
  - route
`,
    { level: 'silent' },
  );
}

function chat(gw: TestGateway, body: Record<string, unknown> = {}, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hi' }], ...body }),
    signal,
  });
}

const ip = (n: number) => ({ 'x-forwarded-for': `203.0.113.${n}` });

t.test('every response carries OpenAI rate-limit headers for the tightest request and token limit', async (t) => {
  const gw = await gateway('limits:\n  - { per: key, rpm: 5, tpm: 10000 }\n  - { per: global, requests: 100, window: 1h }');
  t.teardown(() => gw.close());
  const res = await chat(gw, { max_tokens: 100 });
  t.equal(res.status, 200);
  await res.text();
  t.equal(res.headers.get('x-ratelimit-limit-requests'), '5', 'the per-key limit has less room than the hourly one');
  t.equal(res.headers.get('x-ratelimit-remaining-requests'), '4');
  t.match(res.headers.get('x-ratelimit-reset-requests'), /^(\d+(\.\d+)?s|1m\d+(\.\d+)?s)$/);
  t.equal(res.headers.get('x-ratelimit-limit-tokens'), '10000');
  t.equal(res.headers.get('x-ratelimit-remaining-tokens'), String(10000 - 101), 'reserved: 1 prompt token + max_tokens');
  t.ok(res.headers.get('x-ratelimit-reset-tokens'));
});

t.test('over the limit: a 429 in OpenAI shape with Retry-After, as the OpenAI SDK sees it', async (t) => {
  const gw = await gateway('limits:\n  - { per: key, rpm: 2 }');
  t.teardown(() => gw.close());
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-secret-never-echoed', maxRetries: 0 });
  await client.chat.completions.create({ model: 'demo', messages: [{ role: 'user', content: 'a' }] });
  await client.chat.completions.create({ model: 'demo', messages: [{ role: 'user', content: 'b' }] });
  const err = await client.chat.completions.create({ model: 'demo', messages: [{ role: 'user', content: 'c' }] }).catch((e: unknown) => e);
  t.ok(err instanceof OpenAI.RateLimitError, 'the SDK raises RateLimitError');
  const e = err as InstanceType<typeof OpenAI.RateLimitError>;
  t.equal(e.status, 429);
  t.equal(e.type, 'rate_limit_error');
  t.equal(e.code, 'rate_limit_exceeded');
  t.match(e.message, /Rate limit reached for requests per minute \(per key\): Limit 2, Used 2, Requested 1\. Please try again in (\d+m)?\d+(\.\d+)?s\./);
  t.notMatch(e.message, /sk-secret/);
  const retryAfter = Number(e.headers.get('retry-after'));
  t.ok(Number.isInteger(retryAfter) && retryAfter >= 55 && retryAfter <= 62, `retry-after ${retryAfter}`);
  t.ok(Number(e.headers.get('retry-after-ms')) > 55_000);
  t.equal(e.headers.get('x-ratelimit-remaining-requests'), '0');
  t.ok(e.headers.get('x-request-id'), 'the core wrote it, with the request id');
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  t.match(metrics, /switchyard_rate_limited_total\{dimension="key",limit="requests"\} 1/);
});

t.test('without auth, per-key limits count per client IP, whatever credentials the client sends', async (t) => {
  const gw = await gateway('limits:\n  - { per: key, rpm: 1 }');
  t.teardown(() => gw.close());
  t.equal((await chat(gw, {}, { ...ip(1), authorization: 'Bearer a' })).status, 200);
  t.equal((await chat(gw, {}, { ...ip(1), authorization: 'Bearer b' })).status, 429, 'a new bearer value does not dodge the limit');
  t.equal((await chat(gw, {}, ip(2))).status, 200, 'another IP has its own counter');
});

t.test('combined dimensions and model globs each get their own counters', async (t) => {
  const gw = await gateway('limits:\n  - { per: [ip, model], rpm: 1 }\n  - { per: global, rpm: 3, models: ["oth*"] }');
  t.teardown(() => gw.close());
  t.equal((await chat(gw, {}, ip(1))).status, 200);
  t.equal((await chat(gw, {}, ip(1))).status, 429, 'same IP and model');
  t.equal((await chat(gw, { model: 'other' }, ip(1))).status, 200, 'same IP, other model');
  t.equal((await chat(gw, {}, ip(2))).status, 200, 'other IP, same model');
  t.equal((await chat(gw, { model: 'other' }, ip(2))).status, 200);
  t.equal((await chat(gw, { model: 'other' }, ip(3))).status, 200);
  const fourth = await chat(gw, { model: 'other' }, ip(4));
  t.equal(fourth.status, 429, 'the global limit for oth* models is spent');
  t.match(((await fourth.json()) as { error: { message: string } }).error.message, /\(per global\)/);
  t.equal((await chat(gw, {}, ip(5))).status, 200, 'demo is not under the oth* limit');
});

t.test('concurrency: a slot is held until the stream ends', async (t) => {
  const gw = await gateway('limits:\n  - { per: global, concurrency: 1 }', { mock: 'chunk_delay: 40ms, words_per_chunk: 1' });
  t.teardown(() => gw.close());
  const stream = await chat(gw, { stream: true, messages: [{ role: 'user', content: 'one two three four five' }] });
  t.equal(stream.status, 200);
  const second = await chat(gw);
  t.equal(second.status, 429, 'the stream still holds the only slot');
  t.match(((await second.json()) as { error: { message: string } }).error.message, /Too many concurrent requests \(per global\): Limit 1/);
  t.equal(second.headers.get('retry-after'), '1');
  await stream.text();
  await sleep(20);
  t.equal((await chat(gw)).status, 200, 'free again once the stream ended');
});

t.test('concurrency: a slot is released when the client goes away mid-stream', async (t) => {
  const gw = await gateway('limits:\n  - { per: global, concurrency: 1 }', { mock: 'chunk_delay: 100ms, words_per_chunk: 1' });
  t.teardown(() => gw.close());
  const abort = new AbortController();
  const stream = await chat(gw, { stream: true, messages: [{ role: 'user', content: 'a b c d e f g h i j' }] }, {}, abort.signal);
  const reader = stream.body!.getReader();
  await reader.read();
  t.equal((await chat(gw)).status, 429);
  // The slot is given back by the request's post-response work, which runs before its record.
  const recorded = new Promise<number>((resolve) => gw.gateway.records.subscribe((r) => r.status === 499 && resolve(r.status)));
  abort.abort();
  t.equal(await recorded, 499, 'the abandoned stream is over');
  t.equal((await chat(gw)).status, 200, 'the abandoned stream gave its slot back');
});

t.test('concurrency: a slot is released when the request fails', async (t) => {
  const gw = await gateway('limits:\n  - { per: global, concurrency: 1 }');
  t.teardown(() => gw.close());
  const failed = await chat(gw, { model: 'no-such-model' });
  t.equal(failed.status, 404);
  await sleep(20);
  t.equal((await chat(gw)).status, 200);
});

t.test('tokens: the reservation is settled with the real usage after the response', async (t) => {
  const gw = await gateway('limits:\n  - { per: global, tpm: 100 }');
  t.teardown(() => gw.close());
  // 40 characters → 10 prompt tokens; the mock echoes them → 10 completion tokens. Reserved: 10 + 50.
  const body = { max_tokens: 50, messages: [{ role: 'user', content: 'x'.repeat(40) }] };
  const first = await chat(gw, body);
  t.equal(first.headers.get('x-ratelimit-remaining-tokens'), '40', 'reserved 60 of 100');
  await first.text();
  await sleep(20);
  const second = await chat(gw, body);
  t.equal(second.status, 200, 'room again: the first request really used 20, not 60');
  t.equal(second.headers.get('x-ratelimit-remaining-tokens'), '20', '100 - 20 used - 60 reserved');
  await second.text();
  await sleep(20);
  const stream = await chat(gw, { ...body, stream: true });
  await stream.text();
  await sleep(20);
  const probe = await chat(gw, { max_tokens: 1, messages: [{ role: 'user', content: '' }] });
  t.equal(probe.headers.get('x-ratelimit-remaining-tokens'), String(100 - 60 - 1), 'the stream settled at its end too (3 × 20 used, 1 reserved)');
});

t.test('tokens: usage above the reservation is charged, and blocks once past the limit', async (t) => {
  const gw = await gateway('limits:\n  - { per: global, tpm: 100 }\ncompletion_allowance: 1');
  t.teardown(() => gw.close());
  // 200 characters: 50 prompt + 50 completion tokens really used; reserved only 50 + 1.
  const body = { messages: [{ role: 'user', content: 'y'.repeat(200) }] };
  t.equal((await chat(gw, body)).headers.get('x-ratelimit-remaining-tokens'), '49');
  await sleep(20);
  const small = { max_tokens: 1, messages: [{ role: 'user', content: '' }] };
  t.equal((await chat(gw, small)).headers.get('x-ratelimit-remaining-tokens'), '0', '100 used, 1 more reserved... only when room');
  await sleep(20);
  t.equal((await chat(gw, small)).status, 429, 'the real usage filled the window');
});

t.test('ctx.auth limits replace per-key values; other keys keep the YAML ones', async (t) => {
  const gw = await gateway('limits:\n  - { per: key, rpm: 3 }', { fakeAuth: true });
  t.teardown(() => gw.close());
  const statuses = async (key: string, n: number) => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push((await chat(gw, {}, { 'x-test-key': key })).status);
    return out;
  };
  t.same(await statuses('a:1', 2), [200, 429], 'key a: rpm 1 from ctx.auth');
  t.same(await statuses('b', 4), [200, 200, 200, 429], 'key b: rpm 3 from YAML');
  t.same(await statuses('c:5', 6), [200, 200, 200, 200, 200, 429], 'key c: a higher override raises the limit');
});

t.test('ctx.auth limits are enforced even with no per-key limits in YAML', async (t) => {
  const gw = await gateway('limits: []', { fakeAuth: true });
  t.teardown(() => gw.close());
  t.equal((await chat(gw, {}, { 'x-test-key': 'a:1' })).status, 200);
  const denied = await chat(gw, {}, { 'x-test-key': 'a:1' });
  t.equal(denied.status, 429);
  t.equal((await chat(gw, {}, { 'x-test-key': 'a2:1' })).status, 200, 'a different key');
  t.equal((await chat(gw, {}, { 'x-test-key': 'b' })).status, 200, 'no override, no limit');
  t.equal((await chat(gw, {}, { 'x-test-key': 'b' })).status, 200);
});

t.test('a ctx.auth limit of 0 blocks the key; a reservation above the limit is capped to it', async (t) => {
  const gw = await gateway('limits:\n  - { per: key, tpm: 50 }', { fakeAuth: true });
  t.teardown(() => gw.close());
  t.equal((await chat(gw, {}, { 'x-test-key': 'z:0' })).status, 429, 'rpm 0');
  t.equal((await chat(gw, {}, { 'x-test-key': 'z2::0' })).status, 429, 'tpm 0');
  const big = await chat(gw, { max_tokens: 1000 }, { 'x-test-key': 'y' });
  t.equal(big.status, 200, 'max_tokens above tpm is admitted into an empty window');
  t.equal(big.headers.get('x-ratelimit-remaining-tokens'), '0');
});

t.test('ctx.auth concurrency override', async (t) => {
  const gw = await gateway('limits: []', { fakeAuth: true, mock: 'chunk_delay: 50ms, words_per_chunk: 1' });
  t.teardown(() => gw.close());
  const stream = await chat(gw, { stream: true, messages: [{ role: 'user', content: 'a b c d' }] }, { 'x-test-key': 'k:::1' });
  t.equal((await chat(gw, {}, { 'x-test-key': 'k:::1' })).status, 429);
  t.equal((await chat(gw, {}, { 'x-test-key': 'other:::1' })).status, 200, 'another key has its own slots');
  await stream.text();
});

t.test('Redis unreachable with fail_open: requests pass, limits hold per process, the outage is counted', async (t) => {
  const gw = await gateway('limits:\n  - { per: global, rpm: 2 }', { kv: '{ redis: "redis://127.0.0.1:1" }' });
  t.teardown(() => gw.close());
  t.same([(await chat(gw)).status, (await chat(gw)).status, (await chat(gw)).status], [200, 200, 429], 'the in-process backstop still limits');
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  t.match(metrics, /switchyard_rate_limit_store_errors_total\{outcome="allowed_by_backstop"\} 3/);
});

t.test('Redis unreachable with fail_open: false answers 503', async (t) => {
  const gw = await gateway('fail_open: false\nlimits:\n  - { per: global, rpm: 2 }', { kv: '{ redis: "redis://127.0.0.1:1" }' });
  t.teardown(() => gw.close());
  const res = await chat(gw);
  t.equal(res.status, 503);
  const body = (await res.json()) as { error: { type: string; code: string } };
  t.same([body.error.type, body.error.code], ['server_error', 'rate_limiter_unavailable']);
  t.equal(res.headers.get('retry-after'), '1');
});

t.test('two limits that count the same thing are a config error naming the entry', async (t) => {
  const err = await gateway('limits:\n  - { per: key, rpm: 5 }\n  - { per: key, rpm: 9 }').then(
    (gw) => gw.close().then(() => undefined),
    (e: unknown) => e,
  );
  t.ok(err instanceof ConfigLoadError);
  t.match((err as Error).message, /limits\[1\].*same requests per key as limits\[0\]/);
});

t.test('reset times are written the way OpenAI writes them', async (t) => {
  t.equal(formatReset(17), '17ms');
  t.equal(formatReset(1_000), '1s');
  t.equal(formatReset(2_301), '2.31s');
  t.equal(formatReset(360_000), '6m0s');
  t.equal(formatReset(61_810), '1m1.81s');
  t.equal(formatReset(3_723_000), '1h2m3s');
});
