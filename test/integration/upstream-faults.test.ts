/**
 * Faults after the connection was made are not "unreachable": an upstream that closes or resets
 * before answering, cuts a body short, resets mid-body or mid-stream, or does not speak HTTP gets
 * the code that says so — `upstream_invalid_response` for a response that never came whole,
 * `upstream_stream_error` in a stream — on model endpoints and raw proxy routes alike, driven by
 * a fault-injecting TCP upstream.
 */
import t from 'tap';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startFaultUpstream, FAULTS, type FaultUpstream } from '../helpers/fault-upstream.js';

let faulty: FaultUpstream;
let gw: TestGateway;
let deadUrl: string;

t.before(async () => {
  faulty = await startFaultUpstream();
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  deadUrl = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  await new Promise<void>((r) => s.close(() => r()));
  const faults = Object.keys(FAULTS);
  gw = await startGateway(`version: 1
providers:
${faults.map((f) => `  ${f}: { adapter: openai, base_url: "${faulty.url}/${f}/v1", api_key: k }`).join('\n')}
  refused: { adapter: openai, base_url: "${deadUrl}/v1", api_key: k }
models:
${faults.map((f) => `  ${f}: { targets: [{ provider: ${f} }] }`).join('\n')}
  refused: { targets: [{ provider: refused }] }
routes:
  - { path: /raw/*, upstream: "${faulty.url}", strip_prefix: true }
`);
});
t.teardown(async () => {
  await gw.close();
  await faulty.close();
});

t.jobs = 4;

async function chat(model: string, stream = false): Promise<{ status: number; text: string }> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream, messages: [{ role: 'user', content: 'hi' }] }),
  });
  return { status: res.status, text: await res.text() };
}

const invalidResponse = (message: RegExp) => ({ error: { type: 'upstream_error', code: 'upstream_invalid_response', message } });

t.test('an upstream that closes the connection before answering is a 502 upstream_invalid_response', async (t) => {
  const res = await chat('close-before-headers');
  t.equal(res.status, 502);
  t.match(JSON.parse(res.text), invalidResponse(/closed the connection without answering/));
});

t.test('an upstream that resets the connection before answering is a 502 upstream_invalid_response', async (t) => {
  const res = await chat('reset-before-headers');
  t.equal(res.status, 502);
  t.match(JSON.parse(res.text), invalidResponse(/closed the connection without answering \((ECONNRESET|UND_ERR_SOCKET)\)/));
});

t.test('a JSON body cut short of its content-length is a 502 upstream_invalid_response', async (t) => {
  const res = await chat('truncated-body');
  t.equal(res.status, 502);
  t.match(JSON.parse(res.text), invalidResponse(/broke off its response/));
});

t.test('a connection reset in the middle of a JSON body is a 502 upstream_invalid_response', async (t) => {
  const res = await chat('reset-mid-body');
  t.equal(res.status, 502);
  t.match(JSON.parse(res.text), invalidResponse(/broke off its response/));
});

t.test('a stream reset after its first event ends with an upstream_stream_error event, not "unreachable"', async (t) => {
  const res = await chat('reset-mid-stream', true);
  t.equal(res.status, 200);
  const events = res.text.split('\n\n').filter(Boolean);
  t.match(events[0], /"content":"one"/);
  const last = JSON.parse(events.at(-1)!.replace(/^data: /, '')) as { error: { message: string } };
  t.match(last, { error: { type: 'upstream_error', code: 'upstream_stream_error', message: /the stream broke off/ } });
  t.notMatch(last.error.message, /could not be reached/);
});

t.test('an answer that is not HTTP is a 502 upstream_invalid_response', async (t) => {
  const res = await chat('not-http');
  t.equal(res.status, 502);
  t.match(JSON.parse(res.text), invalidResponse(/malformed HTTP response/));
});

t.test('a refused connection is still upstream_unreachable', async (t) => {
  const res = await chat('refused');
  t.equal(res.status, 502);
  t.match(JSON.parse(res.text), { error: { code: 'upstream_unreachable', message: /could not be reached \(ECONNREFUSED\)/ } });
});

t.test('a raw proxy route whose upstream closes or resets before answering is a 502 upstream_invalid_response', async (t) => {
  for (const fault of ['close-before-headers', 'reset-before-headers']) {
    const res = await fetch(`${gw.url}/raw/${fault}/x`, { method: 'POST', body: 'payload' });
    t.equal(res.status, 502, fault);
    t.match(await res.json(), invalidResponse(/closed the connection without answering/), fault);
  }
});

t.test('a raw proxy route whose upstream does not speak HTTP is a 502 upstream_invalid_response', async (t) => {
  const res = await fetch(`${gw.url}/raw/not-http/x`);
  t.equal(res.status, 502);
  t.match(await res.json(), invalidResponse(/malformed HTTP response \(HPE_/));
});
