/**
 * The CPU a traced request adds, measured in-process (`npx tsx bench/tracing-micro.ts [N]`): the
 * tracer's whole per-request work — `begin`, a `traceparent` for one upstream attempt, `end` with a
 * request record (request span + attempt span, GenAI attributes) — and the batch export of the
 * spans as OTLP JSON to a sink on loopback (the queue is large enough that none is dropped), divided
 * by the number of requests. Process CPU time, so
 * other load on the machine slows it down less than it does a req/s figure. `RATIO=0.1` sets
 * `sample_ratio` (default 1: every request recorded).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { IncomingMessage } from 'node:http';
import { createLogger } from '../core/log.js';
import { createOtelTracer } from '../core/telemetry/otel.js';
import type { Attempt, Context } from '../core/context.js';
import type { RequestRecord } from '../core/record.js';
import type { TracingConfig } from '../core/telemetry/index.js';

const N = Number(process.argv[2] ?? 20000);
/** The OTLP sink runs in its own process, so its CPU is not counted; it reports the spans it got on stdin's end. */
const SINK = `
let spans = 0;
const server = require('node:http').createServer((req, res) => {
  const parts = [];
  req.on('data', (c) => parts.push(c));
  req.on('end', () => { spans += Buffer.concat(parts).toString().split('"spanId"').length - 1; res.writeHead(200).end('{}'); });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
process.stdin.on('end', () => { process.stdout.write(spans + '\\n'); process.exit(0); });
process.stdin.resume();
`;
const sink = spawn(process.execPath, ['-e', SINK], { stdio: ['pipe', 'pipe', 'inherit'] });
const lines = createInterface({ input: sink.stdout! })[Symbol.asyncIterator]();
const port = Number((await lines.next()).value);

const config: TracingConfig = {
  enabled: true,
  endpoint: `http://127.0.0.1:${port}`,
  headers: {},
  service_name: 'bench',
  resource_attributes: {},
  sample_ratio: Number(process.env['RATIO'] ?? 1),
  timeout: '10s',
  batch: { max_queue_size: 100_000, max_export_batch_size: 512, delay: '5s' },
};
const tracer = createOtelTracer(config, createLogger({ level: process.env['LOG'] ?? 'silent' }));
const providers = { up: { adapter: 'openai', base_url: 'http://127.0.0.1:9/v1' } } as never;
const req = { method: 'POST', httpVersion: '1.1', headers: { host: '127.0.0.1:8080', 'user-agent': 'bench', 'content-type': 'application/json' } } as unknown as IncomingMessage;
const usage = { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21 };

function oneRequest(i: number): void {
  const startedAt = performance.now();
  const trace = tracer.begin(req, '/v1/chat/completions', startedAt, providers)!;
  const attempt: Attempt = { provider: 'up', model: 'gpt-4o-mini', startMs: 0.1, status: 200, ttfbMs: 1, ms: 2, usage };
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  trace.injectUpstream(headers, attempt);
  const body = { id: 'chatcmpl-1', model: 'gpt-4o-mini-2024-07-18', choices: [{ index: 0, finish_reason: 'stop' }] };
  const ctx = { endpoint: 'chat.completions', body: { model: 'gpt-4o-mini', messages: [] }, response: { status: 200, headers: {}, body }, attempts: [attempt] } as unknown as Context;
  const record = {
    id: `r${i}`, time: Date.now(), route: '/v1/chat/completions', method: 'POST', path: '/v1/chat/completions', status: 200, body: 'completed',
    org: undefined, keyId: undefined, modelRequested: 'gpt-4o-mini', modelKey: 'gpt-4o-mini', provider: 'up', modelServed: 'gpt-4o-mini',
    attempts: [attempt], usage, cache: undefined, ms: 3, ttftMs: undefined, clientIp: '127.0.0.1', errorCode: undefined, bytesIn: 100, bytesOut: 400, costMicros: undefined,
  } as RequestRecord;
  trace.end(record, ctx);
}

async function run(count: number, work: (i: number) => void): Promise<number> {
  const before = process.cpuUsage();
  for (let i = 0; i < count; i++) {
    work(i);
    // Let the batch processor export while requests go on, as it does in a gateway.
    if (i % 256 === 255) await new Promise((r) => setTimeout(r, 2));
  }
  const cpu = process.cpuUsage(before);
  return (cpu.user + cpu.system) / count;
}

await run(2000, oneRequest); // warm-up (JIT)
const baseline = await run(N, () => {});
const before = process.cpuUsage();
await run(N, oneRequest);
await tracer.shutdown(); // the spans still queued are exported: counted too
const cpu = process.cpuUsage(before);
const traced = (cpu.user + cpu.system) / N;
sink.stdin!.end();
const spans = Number((await lines.next()).value);
process.stdout.write(`${N} traced requests: ${(traced - baseline).toFixed(1)} µs CPU per request (begin + traceparent + end + batch export); ${spans} spans exported\n`);
