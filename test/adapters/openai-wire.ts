/**
 * The OpenAI chat wire format for tests: a `render` for the conformance mock. Per the OpenAI API
 * reference: https://platform.openai.com/docs/api-reference/chat/create (response and streaming chunk
 * objects), https://platform.openai.com/docs/guides/error-codes (error envelope).
 */
import type { ServerResponse } from 'node:http';
import type { Scenario, RecordedCall } from './conformance.js';
import { writeEvents, writeJson } from './wire-mock.js';

const created = 1_700_000_000;
const usageOf = (u: { input: number; output: number }) => ({ prompt_tokens: u.input, completion_tokens: u.output, total_tokens: u.input + u.output });
const chunk = (delta: object, finish: string | null = null) => ({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created, model: 'gpt-4o-mini', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
const completion = (message: object, finish: string, usage: { input: number; output: number }) => ({ id: 'chatcmpl-1', object: 'chat.completion', created, model: 'gpt-4o-mini', choices: [{ index: 0, message, logprobs: null, finish_reason: finish }], usage: usageOf(usage) });

export function renderOpenAI(s: Scenario, call: RecordedCall, res: ServerResponse): void {
  const wantsUsage = (call.body?.['stream_options'] as { include_usage?: boolean } | undefined)?.include_usage;
  /** The chunks, the usage chunk when the client asked for it, then `[DONE]`. */
  const stream = (chunks: object[], usage: { input: number; output: number }) =>
    writeEvents(res, [...chunks, ...(wantsUsage ? [{ ...chunk({}), choices: [], usage: usageOf(usage) }] : []), '[DONE]'].map((data) => ({ data })));
  switch (s.kind) {
    case 'text':
      return writeJson(res, 200, completion({ role: 'assistant', content: s.text, refusal: null }, s.finish ?? 'stop', s.usage));
    case 'stream':
      return stream([chunk({ role: 'assistant', content: '' }), ...s.parts.map((p) => chunk({ content: p })), chunk({}, 'stop')], s.usage);
    case 'tools': {
      const toolCalls = s.calls.map((c, index) => ({ index, id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } }));
      if (!s.stream) return writeJson(res, 200, completion({ role: 'assistant', content: null, tool_calls: toolCalls.map(({ index: _i, ...c }) => c) }, 'tool_calls', s.usage));
      const deltas = toolCalls.flatMap((c) => {
        const half = Math.ceil(c.function.arguments.length / 2);
        return [
          chunk({ tool_calls: [{ index: c.index, id: c.id, type: 'function', function: { name: c.function.name, arguments: '' } }] }),
          chunk({ tool_calls: [{ index: c.index, function: { arguments: c.function.arguments.slice(0, half) } }] }),
          chunk({ tool_calls: [{ index: c.index, function: { arguments: c.function.arguments.slice(half) } }] }),
        ];
      });
      return stream([chunk({ role: 'assistant', content: null }), ...deltas, chunk({}, 'tool_calls')], s.usage);
    }
    case 'error':
      return writeJson(res, s.status, { error: { message: s.message, type: s.status === 429 ? 'requests' : 'invalid_request_error', param: null, code: null } }, { 'retry-after': s.retryAfter });
    case 'malformed':
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"id": "chatcmpl-1", "choices": [');
      return;
    case 'hang':
      return writeEvents(res, [{ data: chunk({ role: 'assistant', content: s.part }) }], false);
  }
}

