/**
 * Anthropic's wire format for tests, built from the fixtures in `test/fixtures/anthropic/` (each cites
 * the page of https://platform.claude.com/docs it follows): a `render` for the conformance mock, and
 * writers that replay a fixture as-is. The official `@anthropic-ai/sdk` parses both in
 * `anthropic.sdk.test.ts`, which is what shows they speak the real protocol.
 */
import type { ServerResponse } from 'node:http';
import type { RecordedCall, Scenario, ToolCall } from './conformance.js';
import { readFixture, writeEvents, writeJson } from './wire-mock.js';

/** One SSE event of a stream fixture: the `event:` name and the `data:` JSON. */
export interface FixtureEvent {
  event: string;
  data: Record<string, unknown>;
}

type Json = Record<string, unknown>;

/** Reads `test/fixtures/anthropic/<name>.json` (a fresh copy each time, so callers may edit it). */
export const fixture = <T = Json>(name: string): T => readFixture<T>('anthropic', name);

/** The events of a `stream-*.json` fixture. */
export const streamFixture = (name: string): FixtureEvent[] => fixture<{ events: FixtureEvent[] }>(name).events;

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

/** Writes an error response in Anthropic's shape (from the error fixture) with the type its status is documented with. */
export function writeError(res: ServerResponse, status: number, message: string, retryAfter?: string): void {
  const { body } = fixture<{ body: { error: Json } }>('error-overloaded');
  body.error['type'] = ERROR_TYPES[status] ?? 'api_error';
  body.error['message'] = message;
  writeJson(res, status, body, { 'request-id': 'req_018EeWyXxfu5pfWkrYcMdjWG', 'retry-after': retryAfter });
}

const usageOf = (u: { input: number; output: number }) => ({ input_tokens: u.input, output_tokens: u.output, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });

function message(content: Json[], stopReason: string, usage: { input: number; output: number }): Json {
  const m = fixture('message');
  return { ...m, content, stop_reason: stopReason, usage: { ...(m['usage'] as Json), ...usageOf(usage) } };
}

const toolUse = (c: ToolCall): Json => ({ type: 'tool_use', id: c.id, caller: { type: 'direct' }, name: c.name, input: JSON.parse(c.arguments) as unknown });

/** The stream-text fixture with its text deltas replaced by `parts` (and its usage by `usage`). */
function textEvents(parts: string[], usage: { input: number; output: number }, stopReason = 'end_turn'): FixtureEvent[] {
  const events = streamFixture('stream-text');
  const [start, blockStart, ping, delta, , blockStop, messageDelta, stop] = events as [FixtureEvent, FixtureEvent, FixtureEvent, FixtureEvent, FixtureEvent, FixtureEvent, FixtureEvent, FixtureEvent];
  Object.assign((start.data['message'] as Json)['usage'] as Json, { input_tokens: usage.input, output_tokens: 1 });
  Object.assign(messageDelta.data['delta'] as Json, { stop_reason: stopReason });
  Object.assign(messageDelta.data['usage'] as Json, usageOf(usage));
  const deltas = parts.map((text) => ({ event: delta.event, data: { ...delta.data, delta: { type: 'text_delta', text } } }));
  return [start, blockStart, ping, ...deltas, blockStop, messageDelta, stop];
}

/** Tool calls streamed as the stream-tool-use fixture does: block start, then the input JSON in two halves. */
function toolEvents(calls: ToolCall[], usage: { input: number; output: number }): FixtureEvent[] {
  const events = textEvents([], usage, 'tool_use').filter((e) => e.event !== 'content_block_start' && e.event !== 'content_block_stop');
  const blocks = calls.flatMap((c, index): FixtureEvent[] => {
    const half = Math.ceil(c.arguments.length / 2);
    const delta = (partial_json: string): FixtureEvent => ({ event: 'content_block_delta', data: { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json } } });
    return [
      { event: 'content_block_start', data: { type: 'content_block_start', index, content_block: { ...toolUse(c), input: {} } } },
      delta(c.arguments.slice(0, half)),
      delta(c.arguments.slice(half)),
      { event: 'content_block_stop', data: { type: 'content_block_stop', index } },
    ];
  });
  return [...events.slice(0, 2), ...blocks, ...events.slice(2)];
}

/** How Anthropic would answer each conformance scenario. A forced tool (JSON mode) gets its answer as tool input. */
export function renderAnthropic(s: Scenario, call: RecordedCall, res: ServerResponse): void {
  const forced = call.body?.['tool_choice'] as { type?: string; name?: string } | undefined;
  switch (s.kind) {
    case 'text': {
      const stop = s.finish === 'length' ? 'max_tokens' : forced?.type === 'tool' ? 'tool_use' : 'end_turn';
      const content = forced?.type === 'tool' ? [toolUse({ id: 'toolu_json', name: forced.name ?? '', arguments: s.text })] : [{ type: 'text', text: s.text, citations: null }];
      return writeJson(res, 200, message(content, stop, s.usage));
    }
    case 'stream':
      return writeEvents(res, textEvents(s.parts, s.usage));
    case 'tools':
      return s.stream ? writeEvents(res, toolEvents(s.calls, s.usage)) : writeJson(res, 200, message(s.calls.map(toolUse), 'tool_use', s.usage));
    case 'error':
      return writeError(res, s.status, s.message, s.retryAfter);
    case 'malformed':
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"id": "msg_1", "type": "message", "content": [');
      return;
    case 'hang': {
      const events = textEvents([s.part], { input: 1, output: 1 });
      return writeEvents(res, events.slice(0, 4), false); // message_start, content_block_start, ping, one delta; then silence
    }
  }
}
