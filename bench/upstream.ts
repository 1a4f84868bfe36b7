/**
 * Bench mock upstream: a zero-latency OpenAI-compatible `/v1/chat/completions` (plus `GET /health`)
 * that runs in its own process so it never shares a core with the system under test.
 *
 * Usage: `node --import tsx bench/upstream.ts PORT`
 *
 * Extra request-body fields steer it (the gateway passes unknown fields through unchanged):
 * - `bench_chunks` (default 20): chunks in a stream, the last one carrying `finish_reason`;
 * - `bench_gap_ms` (default 0): pause between chunks; 0 still yields to the event loop between
 *   chunks, so each chunk leaves as its own write, as tokens do from a real model;
 * - `bench_stamp`: put `bench_t` (the monotonic clock in ns, `process.hrtime.bigint()`, which all
 *   processes on one machine share) into each chunk just before it is written.
 */
import { createServer, type ServerResponse } from 'node:http';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) throw new Error('usage: upstream.ts PORT');

const created = 1_700_000_000;
const MODEL = 'gpt-4o-mini';
const USAGE = { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21 };
const COMPLETION = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created,
  model: MODEL,
  system_fingerprint: 'fp_bench',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello! How can I help you today?', refusal: null }, logprobs: null, finish_reason: 'stop' }],
  usage: USAGE,
});
const COMPLETION_LENGTH = Buffer.byteLength(COMPLETION);

type Json = Record<string, unknown>;

function chunk(i: number, last: number, stamp: boolean): string {
  const delta = i === 0 ? { role: 'assistant', content: '' } : i === last ? {} : { content: `tok${i} ` };
  const value: Json = {
    id: 'chatcmpl-bench',
    object: 'chat.completion.chunk',
    created,
    model: MODEL,
    system_fingerprint: 'fp_bench',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: i === last ? 'stop' : null }],
  };
  if (stamp) value['bench_t'] = process.hrtime.bigint().toString();
  return `data: ${JSON.stringify(value)}\n\n`;
}

function stream(res: ServerResponse, body: Json): void {
  const count = Math.max(1, Number(body['bench_chunks'] ?? 20));
  const gap = Number(body['bench_gap_ms'] ?? 0);
  const stamp = body['bench_stamp'] === true;
  const usage = (body['stream_options'] as Json | undefined)?.['include_usage'] === true;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  let i = 0;
  const next = (): void => {
    if (res.destroyed) return;
    if (i < count) {
      res.write(chunk(i, count - 1, stamp));
      i++;
      if (gap > 0) setTimeout(next, gap);
      else setImmediate(next);
      return;
    }
    if (usage) res.write(`data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created, model: MODEL, choices: [], usage: USAGE })}\n\n`);
    res.end('data: [DONE]\n\n');
  };
  next();
}

const server = createServer((req, res) => {
  if (req.method === 'GET') {
    res.writeHead(req.url === '/health' ? 200 : 404, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    return;
  }
  const parts: Buffer[] = [];
  req.on('data', (c: Buffer) => parts.push(c));
  req.on('end', () => {
    let body: Json;
    try {
      body = JSON.parse(Buffer.concat(parts).toString('utf8')) as Json;
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"message":"bad json","type":"invalid_request_error"}}');
      return;
    }
    if (body['stream'] === true) stream(res, body);
    else res.writeHead(200, { 'content-type': 'application/json', 'content-length': COMPLETION_LENGTH }).end(COMPLETION);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
});
