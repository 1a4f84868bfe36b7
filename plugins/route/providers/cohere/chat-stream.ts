/**
 * Cohere v2 chat SSE stream → OpenAI chat.completion.chunk stream
 * (https://docs.cohere.com/v2/docs/streaming, https://docs.cohere.com/v2/docs/tool-use-streaming).
 * Events, each named in `type` (and in the SSE `event:` line): `message-start`; `content-start` /
 * `-delta` / `-end` per content part (text or thinking); `tool-plan-delta` (text written before
 * tool calls); `tool-call-start` / `-delta` / `-end` per call; `citation-start` / `-end`; `debug`;
 * and `message-end` with `finish_reason` and `usage`, which ends the stream.
 */
import type { Usage } from '../../../../core/context.js';
import type { EventSourceMessage } from '../../../../core/http/sse.js';
import type { StreamContext, StreamTranslator } from '../../adapter.js';
import { ChunkFactory, type FinishReason } from '../../openai-shape.js';
import { streamEventJson, streamTruncated } from '../../upstream-errors.js';
import { finishReason, generationError, readUsage, type ResponseContext } from './chat-response.js';

export type CohereStreamContext = StreamContext & ResponseContext;

type Json = Record<string, unknown>;

/** `event.delta.message` of a Cohere stream event. */
const messageOf = (e: Json): Json => (((e['delta'] ?? {}) as Json)['message'] ?? {}) as Json;

export function cohereStreamTranslator(ctx: CohereStreamContext): StreamTranslator {
  let factory: ChunkFactory | undefined;
  let usage: Usage | undefined;
  let finish: FinishReason | undefined;
  /** Content part index → whether it carries answer text (thinking parts do not). */
  const textParts = new Map<number, boolean>();
  /** Cohere tool-call index → OpenAI tool_calls index. */
  const tools = new Map<number, number>();
  const chunks = (): ChunkFactory => (factory ??= new ChunkFactory(ctx.requestId, ctx.model));
  const content = (text: unknown): unknown[] => (typeof text === 'string' && text !== '' ? [chunks().chunk({ content: text })] : []);

  function toolStart(index: number, call: Json): unknown[] {
    const openaiIndex = tools.size;
    tools.set(index, openaiIndex);
    const fn = (call['function'] ?? {}) as Json;
    const args = typeof fn['arguments'] === 'string' ? fn['arguments'] : '';
    return [chunks().chunk({ tool_calls: [{ index: openaiIndex, id: String(call['id'] ?? ''), type: 'function', function: { name: String(fn['name'] ?? ''), arguments: args } }] })];
  }

  function toolDelta(index: number, call: Json): unknown[] {
    const openaiIndex = tools.get(index);
    const args = ((call['function'] ?? {}) as Json)['arguments'];
    if (openaiIndex === undefined || typeof args !== 'string' || args === '') return [];
    return [chunks().chunk({ tool_calls: [{ index: openaiIndex, function: { arguments: args } }] })];
  }

  function messageEnd(e: Json): unknown[] {
    const delta = (e['delta'] ?? {}) as Json;
    if (delta['finish_reason'] === 'ERROR') generationError(ctx.provider, delta['error']);
    usage = readUsage(delta['usage'], ctx.usageSource) ?? usage;
    finish = finishReason(delta['finish_reason']);
    const out = [chunks().chunk({}, finish)];
    if (ctx.clientWantsUsage && usage) out.push(chunks().usage(usage));
    return out;
  }

  return {
    event(event: EventSourceMessage) {
      if (event.data === '[DONE]') {
        if (!finish) throw streamTruncated(ctx.provider);
        return { chunks: [], done: true };
      }
      const e = streamEventJson(event.data, ctx.provider);
      const index = typeof e['index'] === 'number' ? e['index'] : 0;
      switch (e['type'] ?? event.event) {
        case 'message-start':
          factory ??= new ChunkFactory(typeof e['id'] === 'string' ? e['id'] : ctx.requestId, ctx.model);
          return { chunks: [chunks().chunk({ role: 'assistant', content: '' })] };
        case 'content-start': {
          const part = (messageOf(e)['content'] ?? {}) as Json;
          const isText = part['type'] !== 'thinking';
          textParts.set(index, isText);
          return { chunks: isText ? content(part['text']) : [] };
        }
        case 'content-delta':
          return { chunks: textParts.get(index) === false ? [] : content((messageOf(e)['content'] as Json | undefined)?.['text']) };
        case 'tool-plan-delta':
          return { chunks: content(messageOf(e)['tool_plan']) };
        case 'tool-call-start':
          return { chunks: toolStart(index, (messageOf(e)['tool_calls'] ?? {}) as Json) };
        case 'tool-call-delta':
          return { chunks: toolDelta(index, (messageOf(e)['tool_calls'] ?? {}) as Json) };
        case 'message-end':
          return { chunks: messageEnd(e), done: true };
        default:
          return { chunks: [] }; // content-end, tool-call-end, citations, debug, and event types added later
      }
    },
    end() {
      throw streamTruncated(ctx.provider);
    },
    usage: () => usage,
  };
}
