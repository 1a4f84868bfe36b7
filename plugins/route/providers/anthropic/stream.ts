/**
 * Anthropic Messages SSE stream → OpenAI chat.completion.chunk stream
 * (https://platform.claude.com/docs/en/build-with-claude/streaming). Events: `message_start`,
 * `content_block_start` / `_delta` / `_stop`, `message_delta` (stop reason, cumulative usage),
 * `message_stop`, `ping`, and `error`, which can arrive after the 200 and becomes the client's error.
 */
import type { Usage } from '../../../../core/context.js';
import { errors } from '../../../../core/errors.js';
import type { EventSourceMessage } from '../../../../core/http/sse.js';
import type { StreamContext, StreamTranslator } from '../../adapter.js';
import { ChunkFactory, type FinishReason } from '../../openai-shape.js';
import { streamEventJson, streamTruncated } from '../../upstream-errors.js';
import { anthropicError, finishReason, mergeUsage, toUsage, type AnthropicUsage } from './response.js';

export interface StreamOptions extends StreamContext {
  /** Name of the synthetic JSON tool whose input streams as message text. */
  jsonTool: string | undefined;
}

/** What each Anthropic content block index carries. */
type BlockKind = { kind: 'text' } | { kind: 'json' } | { kind: 'tool'; index: number } | { kind: 'other' };

export function anthropicStreamTranslator(opts: StreamOptions): StreamTranslator {
  let factory: ChunkFactory | undefined;
  let usage: AnthropicUsage | undefined;
  let finish: FinishReason | undefined;
  let answeredWithJsonTool = false;
  let tools = 0;
  const blocks = new Map<number, BlockKind>();
  const chunks = (): ChunkFactory => (factory ??= new ChunkFactory(opts.requestId, opts.model));

  function blockStart(index: number, block: Record<string, unknown>): unknown[] {
    if (block['type'] === 'text') {
      blocks.set(index, { kind: 'text' });
      return typeof block['text'] === 'string' && block['text'] ? [chunks().chunk({ content: block['text'] })] : [];
    }
    if (block['type'] !== 'tool_use') {
      blocks.set(index, { kind: 'other' }); // thinking, redacted_thinking, server tools
      return [];
    }
    if (opts.jsonTool !== undefined && block['name'] === opts.jsonTool) {
      blocks.set(index, { kind: 'json' });
      answeredWithJsonTool = true;
      return [];
    }
    const toolIndex = tools++;
    blocks.set(index, { kind: 'tool', index: toolIndex });
    return [chunks().chunk({ tool_calls: [{ index: toolIndex, id: String(block['id']), type: 'function', function: { name: String(block['name']), arguments: '' } }] })];
  }

  function blockDelta(index: number, delta: Record<string, unknown>): unknown[] {
    const block = blocks.get(index);
    if (delta['type'] === 'text_delta' && block?.kind === 'text') return [chunks().chunk({ content: String(delta['text'] ?? '') })];
    if (delta['type'] !== 'input_json_delta') return []; // thinking, signature and citation deltas
    const partial = String(delta['partial_json'] ?? '');
    if (partial === '') return [];
    if (block?.kind === 'json') return [chunks().chunk({ content: partial })];
    if (block?.kind === 'tool') return [chunks().chunk({ tool_calls: [{ index: block.index, function: { arguments: partial } }] })];
    return [];
  }

  function finalChunks(): unknown[] {
    const u = toUsage(usage);
    return opts.clientWantsUsage && u ? [chunks().usage(u)] : [];
  }

  return {
    event(event: EventSourceMessage) {
      const e = streamEventJson(event.data, opts.provider);
      switch (e['type'] ?? event.event) {
        case 'message_start': {
          const message = (e['message'] ?? {}) as Record<string, unknown>;
          factory ??= new ChunkFactory(String(message['id'] ?? opts.requestId), typeof message['model'] === 'string' ? message['model'] : opts.model);
          usage = mergeUsage(usage, message['usage']);
          return { chunks: [chunks().chunk({ role: 'assistant', content: '' })] };
        }
        case 'content_block_start':
          return { chunks: blockStart(Number(e['index']), (e['content_block'] ?? {}) as Record<string, unknown>) };
        case 'content_block_delta':
          return { chunks: blockDelta(Number(e['index']), (e['delta'] ?? {}) as Record<string, unknown>) };
        case 'message_delta': {
          usage = mergeUsage(usage, e['usage']);
          const stopReason = (e['delta'] as Record<string, unknown> | undefined)?.['stop_reason'];
          if (stopReason === undefined || stopReason === null) return { chunks: [] };
          finish = finishReason(stopReason, answeredWithJsonTool);
          return { chunks: [chunks().chunk({}, finish)] };
        }
        case 'message_stop':
          if (!finish) throw errors.badGateway('upstream_stream_truncated', `${opts.provider}: the stream stopped without a stop reason.`);
          return { chunks: finalChunks(), done: true };
        case 'error':
          throw anthropicError(opts.provider, undefined, event.data);
        default:
          return { chunks: [] }; // ping, content_block_stop, and event types added later
      }
    },
    end() {
      // A stream that delivered its stop reason lost only the closing `message_stop`: the answer is whole.
      if (!finish) throw streamTruncated(opts.provider);
      return finalChunks();
    },
    usage: (): Usage | undefined => toUsage(usage),
  };
}
