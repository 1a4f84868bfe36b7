/**
 * `streamGenerateContent?alt=sse` → `chat.completion.chunk`s. Each SSE event carries one whole
 * `GenerateContentResponse` (https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent):
 * text parts are deltas, a `functionCall` part arrives complete (one `tool_calls` delta each, with
 * its index), the candidate's last event has its `finishReason`, and `usageMetadata` is complete on
 * the last event. Gemini sends no end marker; the stream is complete when every candidate has
 * finished, so an upstream body that ends before that was cut off.
 */
import type { Usage } from '../../../../core/context.js';
import type { EventSourceMessage } from '../../../../core/http/sse.js';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { ChunkFactory, type ChunkDelta, type FinishReason } from '../../openai-shape.js';
import type { StreamContext, StreamTranslator } from '../../adapter.js';
import { providerError, streamEventJson, streamTruncated } from '../../upstream-errors.js';
import { candidateText, candidateToolCalls, finishReasonOf, readUsage } from './chat-response.js';
import type { GeminiResponse } from './wire.js';

interface CandidateState {
  toolCalls: number;
  finished: boolean;
}

/** A translator for one streamed call. */
export function geminiStreamTranslator(ctx: StreamContext): StreamTranslator {
  let factory: ChunkFactory | undefined;
  let responseId = ctx.requestId;
  let usage: Usage | undefined;
  let blocked = false;
  const candidates = new Map<number, CandidateState>();

  function chunk(index: number, delta: ChunkDelta, finish: FinishReason | null = null): ChatCompletionChunk {
    return factory!.chunk(delta, finish, index);
  }

  return {
    event(event: EventSourceMessage) {
      const parsed = streamEventJson(event.data, ctx.provider);
      const error = (parsed as { error?: { code?: number; message?: string } }).error;
      if (error) throw providerError(ctx.provider, { status: 502, message: error.message ?? 'stream error' });
      const res = parsed as GeminiResponse;
      if (!factory) {
        responseId = res.responseId ?? ctx.requestId;
        factory = new ChunkFactory(`chatcmpl-${responseId}`, res.modelVersion ?? ctx.model);
      }
      if (res.usageMetadata) usage = readUsage(res.usageMetadata);
      const chunks: unknown[] = [];
      if (!res.candidates?.length && res.promptFeedback?.blockReason && !blocked) {
        blocked = true;
        chunks.push(chunk(0, { role: 'assistant', content: null }), chunk(0, {}, 'content_filter'));
      }
      (res.candidates ?? []).forEach((c, position) => {
        const index = c.index ?? position;
        let state = candidates.get(index);
        if (!state) {
          state = { toolCalls: 0, finished: false };
          candidates.set(index, state);
          chunks.push(chunk(index, { role: 'assistant', content: '' }));
        }
        const text = candidateText(c);
        if (text) chunks.push(chunk(index, { content: text }));
        // Calls are numbered by their place in the whole answer, across events, as in the complete response.
        for (const call of candidateToolCalls(c, index, responseId, state.toolCalls)) {
          chunks.push(chunk(index, { tool_calls: [{ index: state.toolCalls, ...call }] }));
          state.toolCalls++;
        }
        if (c.finishReason && !state.finished) {
          state.finished = true;
          chunks.push(chunk(index, {}, finishReasonOf(c.finishReason, state.toolCalls > 0)));
        }
      });
      return { chunks };
    },
    end() {
      const finished = blocked || (candidates.size > 0 && [...candidates.values()].every((s) => s.finished));
      if (!finished) throw streamTruncated(ctx.provider);
      return ctx.clientWantsUsage && usage && factory ? [factory.usage(usage)] : [];
    },
    usage: () => usage,
  };
}
