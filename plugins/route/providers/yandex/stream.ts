/**
 * Yandex completion stream → OpenAI chat.completion.chunk stream. With `completionOptions.stream`
 * the REST API answers with newline-delimited JSON, one `{"result": CompletionResponse}` per line,
 * and each line's alternative holds the WHOLE text generated so far, not the new part ("each
 * intermediate response contains the whole generation result that is currently available",
 * https://yandex.cloud/en/docs/foundation-models/operations/yandexgpt/create-prompt#stream). So
 * each line yields only the suffix the client has not seen. Usage is cumulative too: the last line
 * holds the totals. The line whose status is not `ALTERNATIVE_STATUS_PARTIAL` is the last one and
 * carries the finish reason and, for `ALTERNATIVE_STATUS_TOOL_CALLS`, the complete function calls.
 * A failure after the 200 arrives as a line holding an error envelope instead (see errors.ts).
 */
import type { Usage } from '../../../../core/context.js';
import { errors } from '../../../../core/errors.js';
import type { EventSourceMessage } from '../../../../core/http/sse.js';
import type { StreamContext, StreamTranslator } from '../../adapter.js';
import { ChunkFactory } from '../../openai-shape.js';
import { streamEventJson, streamTruncated } from '../../upstream-errors.js';
import { readYandexError, streamError, type ErrorContext } from './errors.js';
import { asCompletionResult, finishReason, readUsage, toolCallsOf } from './response.js';

export type StreamOptions = StreamContext & ErrorContext;

export function yandexStreamTranslator(opts: StreamOptions): StreamTranslator {
  const chunks = new ChunkFactory(`chatcmpl-${opts.requestId}`, opts.model);
  let started = false;
  let finished = false;
  /** The text the client has been sent, to cut each cumulative text down to its new suffix. */
  let sent = '';
  let usage: Usage | undefined;

  /**
   * The new part of `text`. A shorter text the client already has (trailing whitespace trimmed at
   * the end) adds nothing, and so does a content-filter stop that replaces the text; any other
   * rewrite of text already sent cannot be streamed and is a 502.
   */
  function suffix(text: string, filtered: boolean): string {
    if (text.startsWith(sent)) {
      const delta = text.slice(sent.length);
      sent = text;
      return delta;
    }
    if (sent.startsWith(text) || filtered) return '';
    throw errors.badGateway('upstream_stream_diverged', `${opts.provider}: the provider revised text that was already streamed; the answer cannot be continued.`);
  }

  return {
    event(event: EventSourceMessage) {
      const line = streamEventJson(event.data, opts.provider, 'a stream line');
      if (!('result' in line) && readYandexError(line)) throw streamError(opts, line);
      const result = asCompletionResult(line, opts.provider);
      usage = readUsage(result.usage) ?? usage;
      const alternative = result.alternatives[0]!;
      const out: unknown[] = [];
      if (!started) {
        started = true;
        out.push(chunks.chunk({ role: 'assistant', content: '' }));
      }
      const finish = finishReason(alternative.status);
      const text = alternative.message?.text;
      if (typeof text === 'string') {
        const delta = suffix(text, finish === 'content_filter');
        if (delta !== '') out.push(chunks.chunk({ content: delta }));
      }
      if (finish === undefined) return { chunks: out };
      // Function calls arrive complete on the final line; each goes out whole, as one delta.
      const toolCalls = toolCallsOf(alternative, opts.requestId);
      if (toolCalls.length) out.push(chunks.chunk({ tool_calls: toolCalls.map((call, index) => ({ index, ...call })) }));
      finished = true;
      out.push(chunks.chunk({}, toolCalls.length ? 'tool_calls' : finish));
      if (opts.clientWantsUsage && usage) out.push(chunks.usage(usage));
      return { chunks: out, done: true };
    },
    end() {
      if (!finished) throw streamTruncated(opts.provider);
      return [];
    },
    usage: () => usage,
  };
}
