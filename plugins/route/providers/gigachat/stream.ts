/**
 * GigaChat SSE stream → OpenAI chat.completion.chunk stream
 * (https://developers.sber.ru/docs/ru/gigachat/api/reference/rest/post-chat, `text/event-stream`;
 * https://developers.sber.ru/docs/ru/gigachat/guides/response-token-streaming). Each event is
 * `data: {"choices":[{"delta":{…},"index":0}],"created","model","object"}`; the next-to-last event
 * carries `finish_reason` and `usage`, the last is `data: [DONE]`. A function call arrives whole in
 * one delta (`function_call` with its `arguments` object) and becomes one tool-call delta with the
 * arguments as JSON text. Deltas of role `function_in_progress` (progress of GigaChat's built-in
 * functions) are not part of the answer and are skipped.
 */
import type { Usage } from '../../../../core/context.js';
import { errors } from '../../../../core/errors.js';
import type { EventSourceMessage } from '../../../../core/http/sse.js';
import type { StreamContext, StreamTranslator } from '../../adapter.js';
import { ChunkFactory, type FinishReason } from '../../openai-shape.js';
import { providerError, streamEventJson, streamTruncated } from '../../upstream-errors.js';
import { finishReason, readUsage, toolCallOf, type GigaFunctionCall, type GigaUsage } from './response.js';

/** What one stream's translation needs to know: its call, and how to keep credentials out of messages. */
export interface StreamOptions extends StreamContext {
  redact: (text: string) => string;
}

interface GigaChunk {
  choices?: { delta?: { role?: unknown; content?: unknown; function_call?: GigaFunctionCall }; finish_reason?: unknown }[];
  model?: unknown;
  usage?: GigaUsage;
  status?: unknown;
  message?: unknown;
}

/** A translator for one GigaChat stream (one per call). */
export function gigachatStreamTranslator(opts: StreamOptions): StreamTranslator {
  let factory: ChunkFactory | undefined;
  let usage: Usage | undefined;
  let finish: FinishReason | undefined;
  let calls = 0;

  const chunks = (model?: unknown): ChunkFactory => (factory ??= new ChunkFactory(`chatcmpl-${opts.requestId}`, typeof model === 'string' ? model : opts.model));
  const usageChunks = (): unknown[] => (opts.clientWantsUsage && usage && factory ? [factory.usage(usage)] : []);

  function translate(c: GigaChunk): unknown[] {
    const out: unknown[] = [];
    const first = factory === undefined;
    const f = chunks(c.model);
    if (first) out.push(f.chunk({ role: 'assistant', content: '' }));
    if (c.usage) usage = readUsage(c.usage) ?? usage;
    const choice = Array.isArray(c.choices) ? c.choices[0] : undefined;
    const delta = choice?.delta ?? {};
    if (delta.role !== 'function_in_progress') {
      if (typeof delta.content === 'string' && delta.content !== '') out.push(f.chunk({ content: delta.content }));
      const fc = delta.function_call;
      if (fc && typeof fc === 'object') {
        const call = toolCallOf(fc, opts.requestId, calls, opts.provider);
        out.push(f.chunk({ tool_calls: [{ index: calls++, ...call }] }));
      }
    }
    if (choice?.finish_reason !== undefined && choice.finish_reason !== null) {
      finish = finishReason(choice.finish_reason, opts.provider);
      out.push(f.chunk({}, finish));
    }
    return out;
  }

  return {
    event(event: EventSourceMessage) {
      if (event.data === '[DONE]') {
        if (!finish) throw errors.badGateway('upstream_stream_truncated', `${opts.provider}: the stream ended without a finish reason.`);
        return { chunks: usageChunks(), done: true };
      }
      const c = streamEventJson(event.data, opts.provider) as GigaChunk;
      // An error after the 200 comes as the API's error body: `{"status": 500, "message": "…"}`.
      if (!Array.isArray(c.choices) && typeof c.message === 'string') {
        throw providerError(opts.provider, { status: typeof c.status === 'number' ? c.status : 502, message: opts.redact(c.message) });
      }
      return { chunks: translate(c) };
    },
    end() {
      // A stream that delivered its finish reason lost only the closing `[DONE]`: the answer is whole.
      if (!finish) throw streamTruncated(opts.provider);
      return usageChunks();
    },
    usage: () => usage,
  };
}
