/**
 * Yandex completion response → OpenAI chat.completion. The REST API wraps the `CompletionResponse`
 * (https://yandex.cloud/en/docs/ai-studio/text-generation/api-ref/TextGeneration/completion#yandex.cloud.ai.foundation_models.v1.CompletionResponse)
 * in `{"result": …}` (examples in https://yandex.cloud/en/docs/ai-studio/operations/generation/function-call);
 * int64 fields such as the token counts arrive as JSON strings. Tool calls carry no id, so ids are
 * made from the request id and the call's position.
 */
import type { Usage } from '../../../../core/context.js';
import { errors } from '../../../../core/errors.js';
import type { ChatCompletion } from 'openai/resources/chat/completions';
import { chatCompletion, makeUsage, type FinishReason, type OpenAIToolCall } from '../../openai-shape.js';

/** One alternative as the API sends it. */
export interface Alternative {
  message?: {
    role?: string;
    text?: string;
    toolCallList?: { toolCalls?: { functionCall?: { name?: string; arguments?: unknown } }[] };
  };
  status?: string;
}

export interface CompletionResult {
  alternatives: Alternative[];
  usage?: Record<string, unknown>;
  modelVersion?: string;
}

/** Alternative status → finish reason; `undefined` while the alternative is still being generated. */
export function finishReason(status: string | undefined): FinishReason | undefined {
  switch (status) {
    case 'ALTERNATIVE_STATUS_PARTIAL':
      return undefined;
    case 'ALTERNATIVE_STATUS_TRUNCATED_FINAL':
      return 'length';
    case 'ALTERNATIVE_STATUS_CONTENT_FILTER':
      return 'content_filter';
    case 'ALTERNATIVE_STATUS_TOOL_CALLS':
      return 'tool_calls';
    default:
      return 'stop'; // FINAL, and UNSPECIFIED on a finished answer
  }
}

/** A number the API may send as a JSON string (int64 and double fields); absent or unreadable → undefined. */
export function jsonNumber(value: unknown): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : typeof value === 'number' ? value : NaN;
  return Number.isFinite(n) ? n : undefined;
}

/** `ContentUsage` → ours; reasoning tokens from `completionTokensDetails` when reported. */
export function readUsage(raw: unknown): Usage | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const u = raw as Record<string, unknown>;
  const prompt = jsonNumber(u['inputTextTokens']);
  const completion = jsonNumber(u['completionTokens']);
  if (prompt === undefined && completion === undefined) return undefined;
  const reasoning = jsonNumber((u['completionTokensDetails'] as Record<string, unknown> | undefined)?.['reasoningTokens']);
  return makeUsage(prompt ?? 0, completion ?? 0, reasoning === undefined ? {} : { reasoning });
}

/** `{result: CompletionResponse}` (or the bare response) → the result, or a 502 when it is not one. */
export function asCompletionResult(body: unknown, provider: string): CompletionResult {
  const wrapped = (body ?? {}) as { result?: unknown };
  const result = (wrapped.result ?? body) as Partial<CompletionResult> | null;
  if (!result || typeof result !== 'object' || !Array.isArray(result.alternatives) || result.alternatives.length === 0) {
    throw errors.badGateway('upstream_invalid_response', `${provider}: the response is not a completion result with alternatives.`);
  }
  return result as CompletionResult;
}

/** The alternative's function calls as OpenAI tool calls (`arguments` as JSON text). */
export function toolCallsOf(alternative: Alternative, requestId: string): OpenAIToolCall[] {
  const calls = alternative.message?.toolCallList?.toolCalls ?? [];
  return calls.map((c, index) => {
    const args = c.functionCall?.arguments;
    return {
      id: `call_${requestId}_${index}`,
      type: 'function',
      function: { name: String(c.functionCall?.name ?? ''), arguments: typeof args === 'string' ? args : JSON.stringify(args ?? {}) },
    };
  });
}

export function translateCompletion(body: unknown, ctx: { provider: string; model: string; requestId: string }): { body: ChatCompletion; usage: Usage | undefined } {
  const result = asCompletionResult(body, ctx.provider);
  const alternative = result.alternatives[0]!;
  const toolCalls = toolCallsOf(alternative, ctx.requestId);
  const text = alternative.message?.text;
  const usage = readUsage(result.usage);
  const completion = chatCompletion({
    id: `chatcmpl-${ctx.requestId}`,
    model: ctx.model,
    content: typeof text === 'string' ? text : toolCalls.length ? null : '',
    toolCalls,
    finishReason: toolCalls.length ? 'tool_calls' : (finishReason(alternative.status) ?? 'stop'),
    ...(usage ? { usage } : {}),
  });
  return { body: completion, usage };
}
