/**
 * Cohere v2 chat response → OpenAI chat.completion (https://docs.cohere.com/v2/reference/chat).
 * `message.content[]` text parts are joined (thinking parts are left out, as OpenAI has no place
 * for them); `message.tool_plan`, the text the model writes before calling tools, is message text
 * too, as it is for other providers; tool calls already have OpenAI's shape.
 */
import type { Usage } from '../../../../core/context.js';
import { errors } from '../../../../core/errors.js';
import type { ChatCompletion } from 'openai/resources/chat/completions';
import { chatCompletion, makeUsage, type FinishReason, type OpenAIToolCall } from '../../openai-shape.js';
import { providerError } from '../../upstream-errors.js';
import type { CohereConfig } from '../../../../schemas/types/providers/cohere.js';

/** Which of Cohere's two token counts becomes OpenAI's usage (see the schema's `usage_source`). */
export type UsageSource = CohereConfig['usage_source'];

interface TokenCounts {
  input_tokens?: unknown;
  output_tokens?: unknown;
}

/** Cohere's `usage` (chat) or `meta` (embed) object: the two counts and the cache hits. */
export interface CohereUsage {
  tokens?: TokenCounts;
  billed_units?: TokenCounts;
  cached_tokens?: unknown;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

/** Cohere usage → ours, from `source` or, when Cohere left that count out, the other one. */
export function readUsage(raw: unknown, source: UsageSource): Usage | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const u = raw as CohereUsage;
  const chosen = source === 'tokens' ? (u.tokens ?? u.billed_units) : (u.billed_units ?? u.tokens);
  if (!chosen) return undefined;
  const cached = source === 'tokens' && chosen === u.tokens ? num(u.cached_tokens) : undefined;
  return makeUsage(num(chosen.input_tokens) ?? 0, num(chosen.output_tokens) ?? 0, cached === undefined ? {} : { cached });
}

/**
 * Cohere `finish_reason` → OpenAI's. `TIMEOUT` (generation stopped at Cohere's time limit) cut the
 * answer short as `length` does; `ERROR` is not a way to finish but a failure, raised by the caller.
 */
export function finishReason(reason: unknown): FinishReason {
  switch (reason) {
    case 'MAX_TOKENS':
    case 'TIMEOUT':
      return 'length';
    case 'TOOL_CALL':
      return 'tool_calls';
    default:
      return 'stop'; // COMPLETE, STOP_SEQUENCE
  }
}

/** The error a client sees when Cohere ended a generation with `finish_reason: ERROR`. */
export function generationError(provider: string, detail: unknown): never {
  throw providerError(provider, { status: 502, message: `the generation failed${typeof detail === 'string' && detail ? `: ${detail}` : '.'}`, code: 'upstream_generation_error' });
}

function toolCalls(raw: unknown): OpenAIToolCall[] {
  if (!Array.isArray(raw)) return [];
  return raw.map((c) => {
    const call = (c ?? {}) as { id?: unknown; function?: { name?: unknown; arguments?: unknown } };
    return { id: String(call.id ?? ''), type: 'function', function: { name: String(call.function?.name ?? ''), arguments: typeof call.function?.arguments === 'string' ? call.function.arguments : '{}' } };
  });
}

export interface ResponseContext {
  provider: string;
  model: string;
  usageSource: UsageSource;
}

/** Translates a complete chat response. */
export function translateChat(ctx: ResponseContext, body: unknown): { body: ChatCompletion; usage: Usage | undefined } {
  const r = (body ?? {}) as { id?: unknown; finish_reason?: unknown; message?: { content?: unknown; tool_plan?: unknown; tool_calls?: unknown }; usage?: unknown };
  if (typeof body !== 'object' || !r.message || typeof r.message !== 'object' || typeof r.finish_reason !== 'string') {
    throw errors.badGateway('upstream_invalid_response', `${ctx.provider}: the response is not a Cohere chat response.`);
  }
  if (r.finish_reason === 'ERROR') generationError(ctx.provider, undefined);
  const parts = Array.isArray(r.message.content) ? (r.message.content as { type?: unknown; text?: unknown }[]) : [];
  const text = (typeof r.message.tool_plan === 'string' ? r.message.tool_plan : '') + parts.map((p) => (p?.type === 'text' ? String(p.text ?? '') : '')).join('');
  const calls = toolCalls(r.message.tool_calls);
  const usage = readUsage(r.usage, ctx.usageSource);
  const completion = chatCompletion({
    id: String(r.id ?? ''),
    model: ctx.model,
    content: text === '' && calls.length ? null : text,
    toolCalls: calls,
    finishReason: finishReason(r.finish_reason),
    ...(usage ? { usage } : {}),
  });
  return { body: completion, usage };
}
