/**
 * A Gemini `GenerateContentResponse` (https://ai.google.dev/api/generate-content#generatecontentresponse)
 * → an OpenAI `chat.completion`: one choice per candidate, text parts joined, `functionCall` parts
 * as tool calls, finish reasons and usage mapped.
 *
 * Usage follows OpenAI's semantics: `completion_tokens` includes the reasoning tokens (Gemini
 * counts them apart, in `thoughtsTokenCount`, and bills them as output), `prompt_tokens` includes
 * tool-use prompt tokens, and `cached_tokens` is `cachedContentTokenCount` (a part of the prompt,
 * as in OpenAI).
 */
import type { ChatCompletion, ChatCompletionMessage } from 'openai/resources/chat/completions';
import type { Usage } from '../../../../core/context.js';
import { errors } from '../../../../core/errors.js';
import { makeUsage, openAIUsage, type FinishReason } from '../../openai-shape.js';
import { toolCallFrom, type GeminiToolCall } from './tool-calls.js';
import type { GeminiCandidate, GeminiResponse, GeminiUsageMetadata } from './wire.js';

/** Gemini's `usageMetadata` → our usage (see the file comment for what is counted where). */
export function readUsage(u: GeminiUsageMetadata | undefined): Usage | undefined {
  if (!u) return undefined;
  const prompt = (u.promptTokenCount ?? 0) + (u.toolUsePromptTokenCount ?? 0);
  const completion = (u.candidatesTokenCount ?? 0) + (u.thoughtsTokenCount ?? 0);
  return makeUsage(prompt, completion, { cached: u.cachedContentTokenCount, reasoning: u.thoughtsTokenCount });
}

/** Finish reasons Gemini uses when it withheld content (https://ai.google.dev/api/generate-content#FinishReason). */
const FILTERED = new Set(['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY', 'IMAGE_PROHIBITED_CONTENT', 'IMAGE_RECITATION']);

/**
 * Gemini's finish reason → OpenAI's. `STOP` after function calls is `tool_calls`; running out of
 * tokens (`MAX_TOKENS`, `CONTINUATION`) is `length`; withheld content is `content_filter`; the
 * rest (`OTHER`, `LANGUAGE`, `MALFORMED_FUNCTION_CALL`, …) has no OpenAI counterpart and is `stop`.
 */
export function finishReasonOf(reason: string | undefined, hasToolCalls: boolean): FinishReason {
  if (reason === 'MAX_TOKENS' || reason === 'CONTINUATION') return 'length';
  if (reason && FILTERED.has(reason)) return 'content_filter';
  return hasToolCalls ? 'tool_calls' : 'stop';
}

/** The visible text of a candidate (thought summaries are not content). */
export function candidateText(c: GeminiCandidate): string {
  return (c.content?.parts ?? []).map((p) => (typeof p.text === 'string' && !p.thought ? p.text : '')).join('');
}

/** The candidate's function calls as tool calls; `offset` numbers them after calls already seen (streams). */
export function candidateToolCalls(c: GeminiCandidate, position: number, responseId: string, offset = 0): GeminiToolCall[] {
  return (c.content?.parts ?? []).filter((p) => p.functionCall).map((p, i) => toolCallFrom(p, { responseId, candidate: c.index ?? position, index: offset + i }));
}

/** What a response translation needs besides the body. */
export interface ParseContext {
  provider: string;
  model: string;
  requestId: string;
}

/** The body as a Gemini response object, or a 502 when it is not an object. */
export function asGeminiResponse(body: unknown, provider: string): GeminiResponse {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw errors.badGateway('upstream_invalid_response', `${provider}: the response is not a JSON object.`);
  return body as GeminiResponse;
}

/** A complete `generateContent` answer → a `chat.completion` and its usage. */
export function parseChatResponse(body: unknown, ctx: ParseContext): { body: ChatCompletion; usage: Usage | undefined } {
  const res = asGeminiResponse(body, ctx.provider);
  const responseId = res.responseId ?? ctx.requestId;
  const candidates = res.candidates ?? [];
  let choices: ChatCompletion.Choice[];
  if (candidates.length === 0) {
    // The prompt itself was blocked: no candidates, only `promptFeedback.blockReason`.
    if (!res.promptFeedback?.blockReason) throw errors.badGateway('upstream_invalid_response', `${ctx.provider}: the response has no candidates.`);
    choices = [{ index: 0, message: { role: 'assistant', content: null, refusal: null }, logprobs: null, finish_reason: 'content_filter' }];
  } else {
    choices = candidates.map((c, position) => {
      const toolCalls = candidateToolCalls(c, position, responseId);
      const finish = finishReasonOf(c.finishReason, toolCalls.length > 0);
      const text = candidateText(c);
      const message: ChatCompletionMessage = { role: 'assistant', content: text || (toolCalls.length || finish === 'content_filter' ? null : ''), refusal: null };
      if (toolCalls.length) message.tool_calls = toolCalls;
      return { index: c.index ?? position, message, logprobs: null, finish_reason: finish };
    });
  }
  const usage = readUsage(res.usageMetadata);
  const out: ChatCompletion = {
    id: `chatcmpl-${responseId}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: res.modelVersion ?? ctx.model,
    choices,
  };
  if (usage) out.usage = openAIUsage(usage);
  return { body: out, usage };
}
