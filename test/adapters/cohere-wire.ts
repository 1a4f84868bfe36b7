/**
 * Cohere's v2 wire format for tests, built from the fixtures in `test/fixtures/cohere/` (each cites
 * the page of https://docs.cohere.com it follows): a `render` for the conformance mock, and writers
 * that replay a fixture as-is. The official `cohere-ai` SDK parses both in `cohere.sdk.test.ts`,
 * which is what shows they speak the real protocol.
 */
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import type { RecordedCall, Scenario, ToolCall, Usage } from './conformance.js';
import { writeEvent } from './wire-mock.js';

type Json = Record<string, unknown>;

/** One SSE event of a stream fixture: the `event:` name and the `data:` JSON. */
export interface FixtureEvent {
  event: string;
  data: Json;
}

/** Reads `test/fixtures/cohere/<name>.json` without its `_source` key (a fresh copy each time). */
export function fixture<T = Json>(name: string): T {
  const { _source: _s, ...body } = JSON.parse(readFileSync(new URL(`../fixtures/cohere/${name}.json`, import.meta.url), 'utf8')) as Json;
  return body as T;
}

export const streamFixture = (name: string): FixtureEvent[] => fixture<{ events: FixtureEvent[] }>(name).events;

/** Writes events as Cohere does: SSE with an `event:` line naming each event's type. */
export function writeEvents(res: ServerResponse, events: FixtureEvent[]): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (const e of events) writeEvent(res, e.data, e.event);
}

/** Cohere's usage object; the billed counts differ from the token counts, as they do in the docs' examples. */
export const usageOf = (u: Usage): Json => ({ billed_units: { input_tokens: Math.floor(u.input / 2), output_tokens: u.output }, tokens: { input_tokens: u.input, output_tokens: u.output } });

const toolCall = (c: ToolCall): Json => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } });
const event = (type: string, data: Json = {}): FixtureEvent => ({ event: type, data: { type, ...data } });
const delta = (message: Json): Json => ({ delta: { message } });

function textEvents(parts: string[], usage: Usage | undefined): FixtureEvent[] {
  const [start, contentStart] = streamFixture('stream-text') as [FixtureEvent, FixtureEvent];
  const deltas = parts.map((text) => event('content-delta', { index: 0, ...delta({ content: { text } }) }));
  const end = usage ? [event('content-end', { index: 0 }), event('message-end', { delta: { finish_reason: 'COMPLETE', usage: usageOf(usage) } })] : [];
  return [start, contentStart, ...deltas, ...end];
}

function toolEvents(calls: ToolCall[], usage: Usage): FixtureEvent[] {
  const [start] = streamFixture('stream-tool-calls') as [FixtureEvent];
  const blocks = calls.flatMap((c, index) => {
    const half = Math.ceil(c.arguments.length / 2);
    const args = (text: string) => event('tool-call-delta', { index, ...delta({ tool_calls: { function: { arguments: text } } }) });
    return [event('tool-call-start', { index, ...delta({ tool_calls: { ...toolCall(c), function: { name: c.name, arguments: '' } } }) }), args(c.arguments.slice(0, half)), args(c.arguments.slice(half)), event('tool-call-end', { index })];
  });
  return [start, event('tool-plan-delta', delta({ tool_plan: 'I will look that up.' })), ...blocks, event('message-end', { delta: { finish_reason: 'TOOL_CALL', usage: usageOf(usage) } })];
}

/** Writes an error response in Cohere's shape (`{"id", "message"}`). */
export function writeError(res: ServerResponse, status: number, message: string, retryAfter?: string): void {
  const { body } = fixture<{ body: Json }>('error');
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (retryAfter) headers['retry-after'] = retryAfter;
  res.writeHead(status, headers).end(JSON.stringify({ ...body, message }));
}

/** The embed fixture with one vector per text of the request. */
export function embedResponse(call: RecordedCall): Json {
  const body = fixture('embed');
  const texts = (call.body?.['texts'] as string[] | undefined) ?? [];
  const [vector] = (body['embeddings'] as { float: number[][] }).float;
  return { ...body, texts, embeddings: { float: texts.map((_, i) => vector!.map((x) => x + i)) }, meta: { ...(body['meta'] as Json), billed_units: { input_tokens: texts.length * 2 } } };
}

const json = (res: ServerResponse, body: unknown): void => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));

/** How Cohere would answer each conformance scenario (`/v2/embed` calls get embeddings). */
export function renderCohere(s: Scenario, call: RecordedCall, res: ServerResponse): void {
  if (s.kind === 'error') return writeError(res, s.status, s.message, s.retryAfter);
  if (call.url === '/v2/embed') return json(res, embedResponse(call));
  switch (s.kind) {
    case 'text': {
      const chat = fixture('chat');
      return json(res, { ...chat, message: { role: 'assistant', content: [{ type: 'text', text: s.text }] }, finish_reason: s.finish === 'length' ? 'MAX_TOKENS' : 'COMPLETE', usage: usageOf(s.usage) });
    }
    case 'stream':
      writeEvents(res, textEvents(s.parts, s.usage));
      res.end();
      return;
    case 'tools':
      if (!s.stream) {
        const chat = fixture<{ message: Json }>('chat-tool-calls');
        return json(res, { ...chat, message: { ...chat.message, tool_calls: s.calls.map(toolCall) }, usage: usageOf(s.usage) });
      }
      writeEvents(res, toolEvents(s.calls, s.usage));
      res.end();
      return;
    case 'malformed':
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"id": "c14c80c3", "message": {"role": "assistant", "content": [');
      return;
    case 'hang':
      writeEvents(res, textEvents([s.part], undefined)); // message-start, content-start, one delta; then silence
      return;
  }
}
