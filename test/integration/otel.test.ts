/**
 * OpenTelemetry traces, received by an in-process OTLP/HTTP collector on loopback that decodes the
 * exporter's JSON: the request span with the GenAI and HTTP attributes, one child span per upstream
 * attempt (a fallback shows as two), plugin refusals as span events, a client's `traceparent`
 * continued and passed on to the provider with the attempt span as parent, hot reload turning
 * tracing off and on, and nothing at all exported when tracing is off.
 */
import t from 'tap';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventEmitter, once } from 'node:events';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startMockOpenAI, sendError, chunk, sse, type MockOpenAI } from '../helpers/mock-openai.js';

interface OtlpValue {
  stringValue?: string;
  intValue?: number | string;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: OtlpValue[] };
}
interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: OtlpAttribute[];
  events?: { name: string; attributes: OtlpAttribute[] }[];
  status?: { code?: number };
}
/** A decoded span: its attributes as plain values. */
interface Received extends OtlpSpan {
  attrs: Record<string, unknown>;
  resource: Record<string, unknown>;
}

const plain = (v: OtlpValue): unknown =>
  v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.doubleValue ?? v.boolValue ?? v.arrayValue?.values?.map(plain)));
const attrsOf = (list: OtlpAttribute[] = []): Record<string, unknown> => Object.fromEntries(list.map((a) => [a.key, plain(a.value)]));

/** An OTLP/HTTP JSON trace receiver: every span it is sent, and the headers each export came with. */
class Collector extends EventEmitter {
  readonly spans: Received[] = [];
  readonly exportHeaders: Record<string, string | string[] | undefined>[] = [];
  server!: Server;
  url = '';

  async start(): Promise<this> {
    this.server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      if (req.url !== '/v1/traces' || !String(req.headers['content-type']).includes('application/json')) {
        res.writeHead(415).end();
        return;
      }
      this.exportHeaders.push(req.headers);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans: { resource: { attributes: OtlpAttribute[] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
      };
      for (const rs of body.resourceSpans) {
        const resource = attrsOf(rs.resource.attributes);
        for (const ss of rs.scopeSpans) for (const span of ss.spans) this.spans.push({ ...span, attrs: attrsOf(span.attributes), resource });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      this.emit('spans');
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Waits until spans matching `match` have arrived (at least `count`), then returns them. */
  async waitFor(match: (s: Received) => boolean, count = 1): Promise<Received[]> {
    for (;;) {
      const found = this.spans.filter(match);
      if (found.length >= count) return found;
      await once(this, 'spans');
    }
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

const KEY = 'sk-static-otel-test-key-0001';
const ADMIN_KEY = 'admin-otel-test-key-0123456789abcdef';

let collector: Collector;
let upstream: MockOpenAI;
let gw: TestGateway;

function config(tracing: string): string {
  const u = upstream.baseUrl;
  return `version: 1
providers:
  up: { adapter: openai, base_url: "${u}", api_key: sk-upstream-secret }
  backup: { adapter: openai, base_url: "${u}", api_key: sk-upstream-secret }
models:
  gpt-4o-mini: { targets: [{ provider: up }] }
  smart: { retries: 0, targets: [{ provider: up, model: broken-model }, { provider: backup, model: gpt-4o-mini }] }
pipeline:
  - auth: { keys: [static], static: [{ name: t, key: "${KEY}", org: acme, scopes: [read, write] }] }
  - route
${tracing}`;
}

const tracingOn = () => `tracing:
  endpoint: ${collector.url}
  headers: { x-otlp-token: "\${OTLP_TOKEN}" }
  service_name: switchyard-test
  resource_attributes: { deployment.environment.name: test }
  batch: { delay: 10ms }
`;

const chat = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}`, ...headers },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], ...body }),
  });

const requestSpan = (id: string) => (s: Received) => s.attrs['switchyard.request_id'] === id;

t.before(async () => {
  collector = await new Collector().start();
  upstream = await startMockOpenAI();
  upstream.on('/v1/chat/completions', (req, res, body) => {
    if (body?.['model'] === 'broken-model') return sendError(res, 503, 'overloaded', 'server_error');
    if (body?.['stream'] === true) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const model = `${String(body['model'])}-2024-07-18`;
      sse(res, chunk(model, { role: 'assistant', content: 'o' }));
      sse(res, chunk(model, { content: 'k' }));
      sse(res, chunk(model, {}, 'length'));
      sse(res, { id: 'chatcmpl-123', object: 'chat.completion.chunk', created: 1, model, choices: [], usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 } });
      sse(res, '[DONE]');
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        id: 'chatcmpl-otel',
        object: 'chat.completion',
        created: 1,
        model: `${String(body?.['model'])}-2024-07-18`,
        choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21 },
      }),
    );
  });
  gw = await startGateway(config(tracingOn()), { env: { ...process.env, OTLP_TOKEN: 'otlp-secret-token', SWITCHYARD_ADMIN_KEY: ADMIN_KEY } });
});

t.teardown(async () => {
  await gw?.close();
  await upstream?.close();
  await collector?.close();
});

t.test('a request span carries the GenAI and HTTP attributes, and one attempt span is its child', async (t) => {
  const res = await chat({ model: 'gpt-4o-mini', max_tokens: 50, temperature: 0.2 }, { 'x-request-id': 'otel-basic' });
  t.equal(res.status, 200);
  await res.text();
  const [span] = await collector.waitFor(requestSpan('otel-basic'));
  const a = span!.attrs;
  t.equal(span!.name, 'POST /v1/chat/completions');
  t.equal(span!.kind, 2, 'SERVER');
  t.match(a, {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': 'openai',
    'gen_ai.request.model': 'gpt-4o-mini',
    'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
    'gen_ai.response.id': 'chatcmpl-otel',
    'gen_ai.usage.input_tokens': 9,
    'gen_ai.usage.output_tokens': 12,
    'gen_ai.request.max_tokens': 50,
    'gen_ai.request.temperature': 0.2,
    'http.request.method': 'POST',
    'http.route': '/v1/chat/completions',
    'http.response.status_code': 200,
    'url.path': '/v1/chat/completions',
    'switchyard.org': 'acme',
    'switchyard.provider': 'up',
  });
  t.same(a['gen_ai.response.finish_reasons'], ['stop']);
  t.notOk('gen_ai.system' in a, 'the current attribute name only (gen_ai.provider.name)');
  t.equal(span!.parentSpanId || undefined, undefined, 'a root span when the client sent no traceparent');
  t.match(span!.resource, { 'service.name': 'switchyard-test', 'deployment.environment.name': 'test' });
  t.equal(collector.exportHeaders[0]!['x-otlp-token'], 'otlp-secret-token', 'export headers interpolated from the environment');

  const attempts = await collector.waitFor((s) => s.parentSpanId === span!.spanId);
  t.equal(attempts.length, 1);
  t.equal(attempts[0]!.name, 'chat gpt-4o-mini');
  t.equal(attempts[0]!.kind, 3, 'CLIENT');
  t.equal(attempts[0]!.traceId, span!.traceId);
  t.match(attempts[0]!.attrs, { 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o-mini', 'switchyard.attempt': 1, 'http.response.status_code': 200, 'server.address': '127.0.0.1', 'gen_ai.usage.output_tokens': 12 });
});

t.test('a streamed answer: finish reasons and response model read from the chunks as they pass', async (t) => {
  const res = await chat({ model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true } }, { 'x-request-id': 'otel-stream' });
  t.equal(res.status, 200);
  t.match(await res.text(), /data: \[DONE\]/);
  const [span] = await collector.waitFor(requestSpan('otel-stream'));
  t.match(span!.attrs, { 'gen_ai.response.model': 'gpt-4o-mini-2024-07-18', 'gen_ai.usage.input_tokens': 5, 'gen_ai.usage.output_tokens': 2 });
  t.same(span!.attrs['gen_ai.response.finish_reasons'], ['length']);
  t.type(span!.attrs['switchyard.ttft_ms'], 'number');
});

t.test('a fallback shows as two attempt spans: the failed first target, then the one that answered', async (t) => {
  const res = await chat({ model: 'smart' }, { 'x-request-id': 'otel-fallback' });
  t.equal(res.status, 200);
  await res.text();
  const [span] = await collector.waitFor(requestSpan('otel-fallback'));
  t.equal(span!.attrs['switchyard.attempts'], 2);
  t.equal(span!.attrs['switchyard.provider'], 'backup');
  const attempts = (await collector.waitFor((s) => s.parentSpanId === span!.spanId, 2)).sort((x, y) => Number(x.attrs['switchyard.attempt']) - Number(y.attrs['switchyard.attempt']));
  t.equal(attempts.length, 2);
  t.match(attempts[0]!.attrs, { 'switchyard.provider': 'up', 'gen_ai.request.model': 'broken-model', 'http.response.status_code': 503, 'error.type': String });
  t.equal(attempts[0]!.status?.code, 2, 'the failed attempt is an error span');
  t.match(attempts[1]!.attrs, { 'switchyard.provider': 'backup', 'gen_ai.request.model': 'gpt-4o-mini', 'http.response.status_code': 200 });
  t.ok(BigInt(attempts[0]!.endTimeUnixNano) <= BigInt(attempts[1]!.startTimeUnixNano), 'the fallback started after the first attempt ended');
  t.ok(BigInt(span!.startTimeUnixNano) <= BigInt(attempts[0]!.startTimeUnixNano) && BigInt(attempts[1]!.endTimeUnixNano) <= BigInt(span!.endTimeUnixNano), 'attempts lie within the request');
});

t.test("a plugin's refusal is an event on the request span, naming the plugin and the code", async (t) => {
  const res = await chat({ model: 'gpt-4o-mini' }, { authorization: 'Bearer sk-wrong-key', 'x-request-id': 'otel-refused' });
  t.equal(res.status, 401);
  const code = ((await res.json()) as { error: { code: string } }).error.code;
  const [span] = await collector.waitFor(requestSpan('otel-refused'));
  t.equal(span!.attrs['http.response.status_code'], 401);
  t.equal(span!.attrs['gen_ai.request.model'], 'gpt-4o-mini', 'the model asked for, from the body, even though it was never resolved');
  const events = (span!.events ?? []).filter((e) => e.name === 'switchyard.plugin.refusal');
  t.equal(events.length, 1, 'one event, not one per plugin the error passed through');
  t.same(attrsOf(events[0]!.attributes), { 'switchyard.plugin': 'auth', 'error.type': code, 'http.response.status_code': 401 });
  t.notOk(collector.spans.some((s) => s.parentSpanId === span!.spanId), 'no attempt was made');
});

t.test("a client's traceparent is continued, and the provider gets one whose parent is the attempt span", async (t) => {
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const clientSpan = '00f067aa0ba902b7';
  const before = upstream.requests.length;
  const res = await chat({ model: 'gpt-4o-mini' }, { traceparent: `00-${traceId}-${clientSpan}-01`, tracestate: 'vendor=abc', 'x-request-id': 'otel-parent' });
  t.equal(res.status, 200);
  await res.text();
  const [span] = await collector.waitFor(requestSpan('otel-parent'));
  t.equal(span!.traceId, traceId, 'same trace');
  t.equal(span!.parentSpanId, clientSpan, "the client's span is the parent");
  const [attempt] = await collector.waitFor((s) => s.parentSpanId === span!.spanId);
  const sent = upstream.requests.slice(before).find((r) => r.url.endsWith('/chat/completions'))!;
  t.equal(sent.headers['traceparent'], `00-${traceId}-${attempt!.spanId}-01`, 'the upstream request names the attempt span as its parent');
  t.equal(sent.headers['tracestate'], 'vendor=abc', 'tracestate goes along');
});

t.test('an unsampled client trace is not exported, but its traceparent still reaches the provider', async (t) => {
  const traceId = '0af7651916cd43dd8448eb211c80319c';
  const before = upstream.requests.length;
  const res = await chat({ model: 'gpt-4o-mini' }, { traceparent: `00-${traceId}-b7ad6b7169203331-00`, 'x-request-id': 'otel-unsampled' });
  await res.text();
  // A sampled request after it: once its span arrived, the unsampled one would have too.
  await (await chat({ model: 'gpt-4o-mini' }, { 'x-request-id': 'otel-after-unsampled' })).text();
  await collector.waitFor(requestSpan('otel-after-unsampled'));
  t.notOk(collector.spans.some((s) => s.traceId === traceId), 'nothing of the unsampled trace is exported');
  const sent = upstream.requests.slice(before).find((r) => String(r.headers['traceparent']).includes(traceId));
  t.match(sent?.headers['traceparent'], new RegExp(`^00-${traceId}-[0-9a-f]{16}-00$`));
});

t.test('the export headers are redacted in GET /admin/config', async (t) => {
  const res = await fetch(`${gw.url}/admin/config`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  const text = await res.text();
  t.equal(res.status, 200);
  t.notMatch(text, 'otlp-secret-token');
  t.match(JSON.parse(text), { config: { tracing: { headers: { 'x-otlp-token': '[redacted]' } } } });
});

t.test('hot reload turns tracing off (no more spans, no more traceparent upstream) and on again', async (t) => {
  await gw.write(config(`tracing:\n  enabled: false\n  endpoint: ${collector.url}\n`));
  t.match(await gw.gateway.reload(), { ok: true, changed: true });
  t.equal(gw.gateway.tracing.current, undefined);
  const before = upstream.requests.length;
  await (await chat({ model: 'gpt-4o-mini' }, { 'x-request-id': 'otel-while-off' })).text();
  t.notOk(upstream.requests.slice(before).some((r) => r.headers['traceparent'] !== undefined), 'no traceparent while off');

  await gw.write(config(tracingOn()));
  t.match(await gw.gateway.reload(), { ok: true, changed: true });
  await (await chat({ model: 'gpt-4o-mini' }, { 'x-request-id': 'otel-on-again' })).text();
  await collector.waitFor(requestSpan('otel-on-again'));
  t.notOk(collector.spans.some(requestSpan('otel-while-off')), 'the request served while off made no span');
});

t.test('with tracing off nothing is exported and no span is made', async (t) => {
  const off = await new Collector().start();
  const quiet = await startGateway(config(`tracing:\n  enabled: false\n  endpoint: ${off.url}\n`));
  t.teardown(() => off.close());
  t.equal(quiet.gateway.tracing.current, undefined, 'no tracer');
  const before = upstream.requests.length;
  const res = await fetch(`${quiet.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}`, traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
    body: JSON.stringify({ model: 'smart', messages: [{ role: 'user', content: 'hi' }] }),
  });
  t.equal(res.status, 200);
  await res.text();
  await quiet.close();
  t.equal(off.exportHeaders.length, 0, 'no export request, even at shutdown');
  t.notOk(upstream.requests.slice(before).some((r) => r.headers['traceparent'] !== undefined), 'no traceparent is made up for the provider');
});
