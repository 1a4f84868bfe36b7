/**
 * Cohere's v2 wire format for tests, built from the fixtures in `test/fixtures/cohere/` (each cites
 * the page of https://docs.cohere.com it follows): a `render` for the conformance mock, and writers
 * that replay a fixture as-is. The official `cohere-ai` SDK parses both in `cohere.sdk.test.ts`,
 * which is what shows they speak the real protocol.
 */
import type { ServerResponse } from 'node:http';
import type { RecordedCall, Scenario, ToolCall, Usage } from './conformance.js';
import { readFixture, writeEvents, writeJson } from './wire-mock.js';

type Json = Record<string, unknown>;

/** One SSE event of a stream fixture: the `event:` name (Cohere names each event's type) and the `data:` JSON. */
export interface FixtureEvent {
  event: string;
  data: Json;
}

/** Reads `test/fixtures/cohere/<name>.json` (a fresh copy each time). */
export const fixture = <T = Json>(name: string): T => readFixture<T>('cohere', name);

export const streamFixture = (name: string): FixtureEvent[] => fixture<{ events: FixtureEvent[] }>(name).events;

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
  writeJson(res, status, { ...body, message }, { 'retry-after': retryAfter });
}

/** The embed fixture with one vector per text of the request. */
export function embedResponse(call: RecordedCall): Json {
  const body = fixture('embed');
  const texts = (call.body?.['texts'] as string[] | undefined) ?? [];
  const [vector] = (body['embeddings'] as { float: number[][] }).float;
  return { ...body, texts, embeddings: { float: texts.map((_, i) => vector!.map((x) => x + i)) }, meta: { ...(body['meta'] as Json), billed_units: { input_tokens: texts.length * 2 } } };
}

/** How Cohere would answer each conformance scenario (`/v2/embed` calls get embeddings). */
export function renderCohere(s: Scenario, call: RecordedCall, res: ServerResponse): void {
  if (s.kind === 'error') return writeError(res, s.status, s.message, s.retryAfter);
  if (call.url === '/v2/embed') return writeJson(res, 200, embedResponse(call));
  switch (s.kind) {
    case 'text': {
      const chat = fixture('chat');
      return writeJson(res, 200, { ...chat, message: { role: 'assistant', content: [{ type: 'text', text: s.text }] }, finish_reason: s.finish === 'length' ? 'MAX_TOKENS' : 'COMPLETE', usage: usageOf(s.usage) });
    }
    case 'stream':
      return writeEvents(res, textEvents(s.parts, s.usage));
    case 'tools': {
      if (s.stream) return writeEvents(res, toolEvents(s.calls, s.usage));
      const chat = fixture<{ message: Json }>('chat-tool-calls');
      return writeJson(res, 200, { ...chat, message: { ...chat.message, tool_calls: s.calls.map(toolCall) }, usage: usageOf(s.usage) });
    }
    case 'malformed':
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"id": "c14c80c3", "message": {"role": "assistant", "content": [');
      return;
    case 'hang':
      return writeEvents(res, textEvents([s.part], undefined), false); // message-start, content-start, one delta; then silence
  }
}
