/**
 * A mock OpenAI-compatible upstream on a random loopback port. It speaks the wire format of the
 * OpenAI API reference (https://platform.openai.com/docs/api-reference — chat, completions,
 * embeddings, images, errors, SSE with `data: [DONE]`), records every request it receives, and lets
 * a test take over any path with its own handler.
 */
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown> | undefined;
  raw: string;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: Record<string, unknown> | undefined) => void | Promise<void>;

export interface MockOpenAI {
  url: string;
  /** Base URL including `/v1`. */
  baseUrl: string;
  requests: RecordedRequest[];
  /** Replaces the handler for a path (e.g. `/v1/chat/completions`) until `reset()`. */
  on(path: string, handler: Handler): void;
  reset(): void;
  close(): Promise<void>;
  server: Server;
}

const created = 1_700_000_000;

export function chatCompletion(model: string, content: string, usage = { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21 }) {
  return {
    id: 'chatcmpl-123',
    object: 'chat.completion',
    created,
    model,
    system_fingerprint: 'fp_44709d6fcb',
    choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason: 'stop' }],
    usage,
  };
}

export function chunk(model: string, delta: Record<string, unknown>, finish: string | null = null) {
  return { id: 'chatcmpl-123', object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_44709d6fcb', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] };
}

export function sse(res: ServerResponse, value: unknown): void {
  res.write(`data: ${typeof value === 'string' ? value : JSON.stringify(value)}\n\n`);
}

/**
 * A chat handler that answers "hello" (as "hel" + "lo" when streamed) with the given usage, sending
 * the usage chunk only when the request asked for it (`stream_options.include_usage`), as OpenAI does.
 */
export function helloWithUsage(usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number }): Handler {
  return (_req, res, body) => {
    const model = String(body?.['model']);
    if (body?.['stream'] !== true) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(chatCompletion(model, 'hello', usage)));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    sse(res, chunk(model, { role: 'assistant', content: 'hel' }));
    sse(res, chunk(model, { content: 'lo' }, 'stop'));
    if ((body['stream_options'] as { include_usage?: boolean } | undefined)?.include_usage) sse(res, { ...chunk(model, {}), choices: [], usage });
    sse(res, '[DONE]');
    res.end();
  };
}

export function sendError(res: ServerResponse, status: number, message: string, type = 'invalid_request_error', code: string | null = null, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify({ error: { message, type, param: null, code } }));
}

const defaultHandlers: Record<string, Handler> = {
  '/v1/chat/completions': (_req, res, body) => {
    const model = String(body?.['model']);
    const messages = (body?.['messages'] as { role: string; content: string }[]) ?? [];
    const last = messages.filter((m) => m.role === 'user').pop()?.content ?? '';
    const reply = `upstream says: ${last}`;
    if (body?.['stream'] === true) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      sse(res, chunk(model, { role: 'assistant', content: '' }));
      for (const word of reply.split(' ')) sse(res, chunk(model, { content: `${word} ` }));
      sse(res, chunk(model, {}, 'stop'));
      if ((body['stream_options'] as { include_usage?: boolean } | undefined)?.include_usage) {
        sse(res, { id: 'chatcmpl-123', object: 'chat.completion.chunk', created, model, choices: [], usage: { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21 } });
      }
      sse(res, '[DONE]');
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(chatCompletion(model, reply)));
  },
  '/v1/completions': (_req, res, body) => {
    const model = String(body?.['model']);
    const text = `completed: ${String(body?.['prompt'])}`;
    if (body?.['stream'] === true) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      sse(res, { id: 'cmpl-1', object: 'text_completion', created, model, choices: [{ index: 0, text, logprobs: null, finish_reason: null }] });
      sse(res, { id: 'cmpl-1', object: 'text_completion', created, model, choices: [{ index: 0, text: '', logprobs: null, finish_reason: 'stop' }] });
      sse(res, '[DONE]');
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({ id: 'cmpl-1', object: 'text_completion', created, model, choices: [{ index: 0, text, logprobs: null, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } }),
    );
  },
  '/v1/embeddings': (_req, res, body) => {
    const input = body?.['input'];
    const inputs = Array.isArray(input) ? input : [input];
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({ object: 'list', data: inputs.map((_, index) => ({ object: 'embedding', index, embedding: [0.0023064255, -0.009327292, 0.015797347] })), model: body?.['model'], usage: { prompt_tokens: 8, total_tokens: 8 } }),
    );
  },
  '/v1/images/generations': (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ created, data: [{ url: 'https://example.invalid/image.png', revised_prompt: 'a cat' }] }));
  },
};

export async function startMockOpenAI(): Promise<MockOpenAI> {
  const requests: RecordedRequest[] = [];
  let overrides: Record<string, Handler> = {};
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: Record<string, unknown> | undefined;
    try {
      body = raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
    } catch {
      body = undefined;
    }
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, raw });
    const path = (req.url ?? '').split('?')[0]!;
    const handler = overrides[path] ?? defaultHandlers[path] ?? (path.includes('/openai/deployments/') ? defaultHandlers[`/v1/${path.split('/').slice(4).join('/')}`] : undefined);
    if (!handler) return sendError(res, 404, `Unknown path ${path}`, 'invalid_request_error', 'unknown_url');
    await handler(req, res, body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    baseUrl: `${url}/v1`,
    requests,
    server,
    on: (path, handler) => (overrides[path] = handler),
    reset: () => {
      overrides = {};
      requests.length = 0;
    },
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/**
 * A fault an upstream shows for one request: an error status (with `Retry-After` or other headers),
 * `hang` (reads the request, never answers), a stream that sends an error event, or is cut, before
 * its first chunk, or one cut after `cutAfter` chunks. `ok` answers normally.
 */
export type ScheduledFault =
  | 'ok'
  | 'hang'
  | 'stream-error-before-first'
  | 'stream-cut-before-first'
  | { status: number; headers?: Record<string, string>; code?: string; message?: string }
  | { cutAfter: number };

/**
 * A chat handler that plays, per upstream model, the faults scheduled for it in order — one per
 * request — and answers normally once its list is used up (or always fails with `repeat`).
 */
export function scheduledFaults(schedule: Map<string, ScheduledFault[]>, repeat = new Map<string, ScheduledFault>()): Handler {
  const normal = defaultHandlers['/v1/chat/completions']!;
  return (req, res, body) => {
    const model = String(body?.['model']);
    const fault = schedule.get(model)?.shift() ?? repeat.get(model) ?? 'ok';
    if (fault === 'ok') return normal(req, res, body);
    if (fault === 'hang') return;
    if (fault === 'stream-error-before-first') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      sse(res, { error: { message: 'The server had an error while processing your request.', type: 'server_error', param: null, code: null } });
      return void res.end();
    }
    if (fault === 'stream-cut-before-first') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
      return void setImmediate(() => res.socket?.destroy());
    }
    if ('cutAfter' in fault) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      sse(res, chunk(model, { role: 'assistant', content: '' }));
      for (let i = 1; i < fault.cutAfter; i++) sse(res, chunk(model, { content: `part${i} ` }));
      return void setTimeout(() => res.socket?.destroy(), 20);
    }
    sendError(res, fault.status, fault.message ?? `scheduled ${fault.status}`, fault.status === 429 ? 'rate_limit_error' : 'server_error', fault.code ?? null, fault.headers);
  };
}
