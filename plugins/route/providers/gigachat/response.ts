/**
 * GigaChat answers → OpenAI shapes (https://developers.sber.ru/docs/ru/gigachat/api/reference/rest/post-chat):
 * a `ChatCompletion` (`choices[].message` with `content` and at most one `function_call` whose
 * `arguments` is an object), its usage, its finish reasons, and the `{status, message}` error body.
 *
 * Usage: the reference says `total_tokens` is the number of billable tokens "after subtracting the
 * cached tokens (`precached_prompt_tokens`)", and its examples have `total = prompt + completion`,
 * so GigaChat's `prompt_tokens` leaves the cached part out. OpenAI counts cached tokens as part of
 * `prompt_tokens` (`prompt_tokens_details.cached_tokens` is a subset), so the client sees
 * `prompt_tokens = prompt_tokens + precached_prompt_tokens` and `cached_tokens = precached_prompt_tokens`.
 */
import { createHash } from 'node:crypto';
import type { Usage } from '../../../../core/context.js';
import { errors, type GatewayError } from '../../../../core/errors.js';
import type { ChatCompletion } from 'openai/resources/chat/completions';
import { chatCompletion, makeUsage, type FinishReason, type OpenAIToolCall } from '../../openai-shape.js';
import { headerValue, providerError, rawErrorMessage, tryParseJson } from '../../upstream-errors.js';

/** GigaChat's `function_call`: arguments as an object. */
export interface GigaFunctionCall {
  name?: unknown;
  arguments?: unknown;
}

/** GigaChat's `usage` object. */
export interface GigaUsage {
  prompt_tokens?: unknown;
  completion_tokens?: unknown;
  precached_prompt_tokens?: unknown;
}

/** GigaChat usage → ours, in OpenAI's terms (see the module comment). */
export function readUsage(raw: GigaUsage | undefined | null): Usage | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const cached = typeof raw.precached_prompt_tokens === 'number' ? raw.precached_prompt_tokens : undefined;
  return makeUsage(num(raw.prompt_tokens) + (cached ?? 0), num(raw.completion_tokens), cached === undefined ? {} : { cached });
}

/**
 * GigaChat `finish_reason` → OpenAI's. `blacklist` is GigaChat's topic filter; `error` means the
 * model wrote invalid function arguments, which no client can use: it fails the call (502, so a
 * fallback target can answer instead).
 */
export function finishReason(reason: unknown, provider: string): FinishReason {
  switch (reason) {
    case 'length':
      return 'length';
    case 'function_call':
      return 'tool_calls';
    case 'blacklist':
      return 'content_filter';
    case 'error':
      throw errors.badGateway('upstream_invalid_tool_call', `${provider}: the model produced invalid function arguments (finish_reason "error").`);
    default:
      return 'stop';
  }
}

/**
 * GigaChat sends no call ids; OpenAI clients need one to answer the call. It is derived from the
 * request id and the call, so a replayed translation agrees with the first one.
 */
export function toolCallOf(fc: GigaFunctionCall, requestId: string, index: number, provider: string): OpenAIToolCall {
  if (typeof fc.name !== 'string') throw errors.badGateway('upstream_invalid_response', `${provider}: a function_call has no name.`);
  const args = typeof fc.arguments === 'string' ? fc.arguments : JSON.stringify(fc.arguments ?? {});
  const id = `call_${createHash('sha256').update(`${requestId}\u0000${index}\u0000${fc.name}\u0000${args}`).digest('hex').slice(0, 24)}`;
  return { id, type: 'function', function: { name: fc.name, arguments: args } };
}

/** Translates a complete `ChatCompletion`. */
export function translateCompletion(body: unknown, ctx: { provider: string; model: string; requestId: string }): { body: ChatCompletion; usage: Usage | undefined } {
  const b = (body ?? {}) as { choices?: unknown; created?: unknown; model?: unknown; usage?: GigaUsage };
  const choice = Array.isArray(b.choices) ? (b.choices[0] as { message?: Record<string, unknown>; finish_reason?: unknown } | undefined) : undefined;
  const message = choice?.message;
  if (!message || typeof message !== 'object') throw errors.badGateway('upstream_invalid_response', `${ctx.provider}: the response has no choices[0].message.`);
  const fc = message['function_call'] as GigaFunctionCall | undefined;
  const toolCalls = fc && typeof fc === 'object' ? [toolCallOf(fc, ctx.requestId, 0, ctx.provider)] : [];
  const text = typeof message['content'] === 'string' ? message['content'] : '';
  const usage = readUsage(b.usage);
  const completion = chatCompletion({
    id: `chatcmpl-${ctx.requestId}`,
    model: typeof b.model === 'string' ? b.model : ctx.model,
    ...(typeof b.created === 'number' ? { created: b.created } : {}),
    content: text === '' && toolCalls.length ? null : text,
    toolCalls,
    finishReason: finishReason(choice?.finish_reason, ctx.provider),
    ...(usage ? { usage } : {}),
  });
  return { body: completion, usage };
}

/** `{"status": 422, "message": "Invalid params: …"}` (or any other body) → the error the client sees. */
export function gigachatError(provider: string, status: number, text: string, headers: Record<string, string | string[] | undefined>, redact: (s: string) => string): GatewayError {
  const parsed = tryParseJson(text) as { message?: unknown } | undefined;
  const message = typeof parsed?.message === 'string' ? parsed.message : rawErrorMessage(text, status);
  return providerError(provider, { status, message: redact(message), retryAfter: headerValue(headers, 'retry-after') });
}
