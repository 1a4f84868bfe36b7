/**
 * GigaChat's wire format for tests, built from the fixtures in `test/fixtures/gigachat/` (each
 * cites the page of https://developers.sber.ru/docs/ru/gigachat it follows): a loopback OAuth
 * token endpoint (`POST /api/v2/oauth`, on its own server as in production, where it lives on
 * another host) and a `render` for the conformance mock that answers only requests bearing a
 * token that endpoint issued — with GigaChat's 401 body otherwise — in GigaChat's JSON, SSE and
 * error formats.
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { RecordedCall, Scenario, ToolCall, Usage } from './conformance.js';
import { readFixture, startServer, writeEvents, writeJson as json, type Render } from './wire-mock.js';

type Json = Record<string, unknown>;

/** Reads `test/fixtures/gigachat/<name>.json` without its `_source` note (a fresh copy each time). */
export const gigaFixture = <T = Json>(name: string): T => readFixture<T>('gigachat', name);

/** One request the token endpoint received. */
export interface AuthCall {
  headers: IncomingHttpHeaders;
  /** The raw form body. */
  body: string;
}

/** The loopback token endpoint; tests steer it through its fields. */
export interface AuthServer {
  /** The full token URL, for `auth_url`. */
  url: string;
  calls: AuthCall[];
  /** Tokens issued and still accepted by the API mock. */
  valid: Set<string>;
  /** Lifetime of the tokens issued next. */
  ttlMs: number;
  /** How long the endpoint takes to answer. */
  delayMs: number;
  /** When set, the endpoint answers this status with GigaChat's token error body instead of a token. */
  failWith: 400 | 401 | 500 | undefined;
  close(): Promise<void>;
}

/** Starts the loopback token endpoint: it issues tokens valid for `ttlMs` unless told to fail. */
export async function startAuthServer(): Promise<AuthServer> {
  const errorBodies = gigaFixture<{ oauth: Record<string, Json> }>('errors').oauth;
  let issued = 0;
  const state: Omit<AuthServer, 'url' | 'close'> = { calls: [], valid: new Set(), ttlMs: 30 * 60_000, delayMs: 0, failWith: undefined };
  const server = await startServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += String(c);
    state.calls.push({ headers: req.headers, body });
    if (state.delayMs) await new Promise((r) => setTimeout(r, state.delayMs));
    if (req.url !== '/api/v2/oauth' || req.method !== 'POST') return void res.writeHead(404).end();
    if (state.failWith) {
      const errorBody = state.failWith === 500 ? { code: 0, message: 'internal error' } : errorBodies[String(state.failWith)];
      return json(res, state.failWith, errorBody);
    }
    const token = `${gigaFixture<{ access_token: string }>('token').access_token}.${++issued}`;
    state.valid.add(token);
    json(res, 200, { access_token: token, expires_at: Date.now() + state.ttlMs });
  });
  return Object.assign(state, { url: `${server.url}/api/v2/oauth`, close: server.close });
}

const usageOf = (u: Usage, cached = 0): Json => ({ prompt_tokens: u.input, completion_tokens: u.output, total_tokens: u.input + u.output, precached_prompt_tokens: cached });

/** Writes a GigaChat error body for `status`. */
export function writeGigaError(res: ServerResponse, status: number, message?: string, retryAfter?: string): void {
  const bodies = gigaFixture<{ bodies: Record<string, Json> }>('errors').bodies;
  const body = { ...(bodies[String(status)] ?? { status, message: 'error' }), ...(message ? { message } : {}) };
  json(res, status, body, { 'retry-after': retryAfter });
}

/** One complete answer, shaped like the reference's examples. */
function completion(message: Json, finish: string, usage: Usage): Json {
  const template = gigaFixture('chat-completion');
  return { ...template, choices: [{ message, index: 0, finish_reason: finish }], usage: usageOf(usage) };
}

function functionCall(calls: ToolCall[]): Json {
  // GigaChat answers with one function call per message; a scenario asking for more is a test bug.
  if (calls.length !== 1) throw new Error(`GigaChat makes one function call per answer; the scenario asked for ${calls.length}`);
  const c = calls[0]!;
  return { name: c.name, arguments: JSON.parse(c.arguments) as unknown };
}

/** An SSE chunk as GigaChat sends it (no id; `object` is `chat.completion`). */
function chunk(delta: Json, extra: Json = {}): Json {
  const { created, model } = gigaFixture<{ created: number; model: string }>('chat-completion');
  const { finish_reason, usage, ...rest } = extra;
  const choice: Json = { delta, index: 0 };
  if (finish_reason) choice['finish_reason'] = finish_reason;
  return { choices: [choice], created, model, object: 'chat.completion', ...(usage ? { usage } : {}), ...rest };
}

/** GigaChat's SSE events carry no `event:` name. */
const stream = (res: ServerResponse, events: (Json | string)[], end = true): void => writeEvents(res, events.map((data) => ({ data })), end);

/** Deterministic embeddings for the inputs, per-item usage as GigaChat reports it. */
function embeddings(res: ServerResponse, call: RecordedCall): void {
  const input = (call.body?.['input'] ?? []) as string[];
  const template = gigaFixture<{ data: Json[] }>('embeddings').data[0]!;
  const data = input.map((text, index) => ({ ...template, index, embedding: [text.length, index, 0.5, -0.25], usage: { prompt_tokens: text.length } }));
  json(res, 200, { object: 'list', data, model: call.body?.['model'] });
}

/** How GigaChat would answer each scenario, after checking the bearer token against `auth`. */
export function gigachatRender(auth: AuthServer): Render {
  return (s: Scenario, call: RecordedCall, res: ServerResponse) => {
    const bearer = /^Bearer (.+)$/.exec(String(call.headers['authorization'] ?? ''))?.[1];
    if (!bearer || !auth.valid.has(bearer)) return writeGigaError(res, 401);
    if (call.url.endsWith('/embeddings')) return embeddings(res, call);
    switch (s.kind) {
      case 'text':
        return json(res, 200, completion({ content: s.text, role: 'assistant' }, s.finish ?? 'stop', s.usage));
      case 'stream': {
        const [first, ...rest] = s.parts;
        const events: (Json | string)[] = [chunk({ content: first ?? '', role: 'assistant' }), ...rest.map((p) => chunk({ content: p }))];
        events.push(chunk({ content: '' }, { finish_reason: 'stop', usage: usageOf(s.usage) }), '[DONE]');
        return stream(res, events);
      }
      case 'tools': {
        const message = { content: '', role: 'assistant', function_call: functionCall(s.calls), functions_state_id: '0199e210-2f13-744c-8fe5-c9a19fe27db7' };
        if (!s.stream) return json(res, 200, completion(message, 'function_call', s.usage));
        return stream(res, [chunk(message), chunk({ content: '' }, { finish_reason: 'function_call', usage: usageOf(s.usage) }), '[DONE]']);
      }
      case 'error':
        return writeGigaError(res, s.status, s.message, s.retryAfter);
      case 'malformed':
        return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"choices": [{"message": {"content": "Hi');
      case 'hang':
        return stream(res, [chunk({ content: s.part, role: 'assistant' })], false);
    }
  };
}
