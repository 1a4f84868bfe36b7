/**
 * Anthropic Message → OpenAI chat.completion, Anthropic usage → ours, Anthropic error → GatewayError.
 * Message object: https://platform.claude.com/docs/en/api/messages; stop reasons:
 * https://platform.claude.com/docs/en/build-with-claude/handling-stop-reasons; errors:
 * https://platform.claude.com/docs/en/api/errors.
 */
import type { Usage } from '../../../../core/context.js';
import { errors, type GatewayError } from '../../../../core/errors.js';
import type { ChatCompletion } from 'openai/resources/chat/completions';
import { chatCompletion, makeUsage, type FinishReason, type OpenAIToolCall } from '../../openai-shape.js';
import { headerValue, providerError, rawErrorMessage, tryParseJson } from '../../upstream-errors.js';

/** Anthropic `stop_reason` → OpenAI `finish_reason`. `pause_turn` (a server tool paused the turn) ends this response normally. */
export function finishReason(stopReason: unknown, answeredWithJsonTool: boolean): FinishReason {
  switch (stopReason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return answeredWithJsonTool ? 'stop' : 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      return 'stop';
  }
}

/** The token counts of an Anthropic usage object (message or message_delta), merged over `previous`. */
export interface AnthropicUsage {
  input: number;
  output: number;
  cacheCreation: number;
  /** The part of `cacheCreation` written with the 1-hour TTL (`cache_creation.ephemeral_1h_input_tokens`). */
  cacheCreation1h: number | undefined;
  cacheRead: number | undefined;
  thinking: number | undefined;
}

export function mergeUsage(previous: AnthropicUsage | undefined, raw: unknown): AnthropicUsage | undefined {
  if (!raw || typeof raw !== 'object') return previous;
  const u = raw as Record<string, unknown>;
  const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
  const details = u['output_tokens_details'] as Record<string, unknown> | null | undefined;
  const creation = u['cache_creation'] as Record<string, unknown> | null | undefined;
  return {
    input: num(u['input_tokens']) ?? previous?.input ?? 0,
    output: num(u['output_tokens']) ?? previous?.output ?? 0,
    cacheCreation: num(u['cache_creation_input_tokens']) ?? previous?.cacheCreation ?? 0,
    cacheCreation1h: num(creation?.['ephemeral_1h_input_tokens']) ?? previous?.cacheCreation1h,
    cacheRead: num(u['cache_read_input_tokens']) ?? previous?.cacheRead,
    thinking: num(details?.['thinking_tokens']) ?? previous?.thinking,
  };
}

/**
 * Prompt tokens include cache writes and reads (Anthropic counts them apart from `input_tokens`);
 * writes are also `cache_write_tokens`, and the 1-hour ones among them `cache_write_1h_tokens`.
 */
export function toUsage(u: AnthropicUsage | undefined): Usage | undefined {
  if (!u) return undefined;
  const extra: { cached?: number; reasoning?: number } = {};
  if (u.cacheRead !== undefined) extra.cached = u.cacheRead;
  if (u.thinking !== undefined) extra.reasoning = u.thinking;
  const usage = makeUsage(u.input + u.cacheCreation + (u.cacheRead ?? 0), u.output, extra);
  if (u.cacheCreation > 0) usage.cache_write_tokens = u.cacheCreation;
  const writes1h = Math.min(u.cacheCreation1h ?? 0, u.cacheCreation);
  if (writes1h > 0) usage.cache_write_1h_tokens = writes1h;
  return usage;
}

/** Translates a complete Message. `jsonTool` names the synthetic tool whose input is the answer text. */
export function translateMessage(provider: string, fallbackModel: string, body: unknown, jsonTool: string | undefined): { body: ChatCompletion; usage: Usage | undefined } {
  const m = (body ?? {}) as Record<string, unknown>;
  if (typeof body !== 'object' || m['type'] !== 'message' || !Array.isArray(m['content'])) {
    throw errors.badGateway('upstream_invalid_response', `${provider}: the response is not a Messages API message.`);
  }
  let text = '';
  let answeredWithJsonTool = false;
  const toolCalls: OpenAIToolCall[] = [];
  for (const raw of m['content'] as unknown[]) {
    const block = (raw ?? {}) as Record<string, unknown>;
    if (block['type'] === 'text') text += String(block['text'] ?? '');
    else if (block['type'] === 'tool_use' && jsonTool !== undefined && block['name'] === jsonTool) {
      text += JSON.stringify(block['input'] ?? {});
      answeredWithJsonTool = true;
    } else if (block['type'] === 'tool_use') {
      toolCalls.push({ id: String(block['id']), type: 'function', function: { name: String(block['name']), arguments: JSON.stringify(block['input'] ?? {}) } });
    }
    // thinking, redacted_thinking and server-tool blocks have no place in an OpenAI message.
  }
  const usage = toUsage(mergeUsage(undefined, m['usage']));
  const completion = chatCompletion({
    id: String(m['id'] ?? ''),
    model: typeof m['model'] === 'string' ? m['model'] : fallbackModel,
    content: text === '' && toolCalls.length ? null : text,
    toolCalls,
    finishReason: finishReason(m['stop_reason'], answeredWithJsonTool),
    ...(usage ? { usage } : {}),
  });
  return { body: completion, usage };
}

/** Anthropic error `type` → the HTTP status it is documented with (used for errors inside a stream). */
const STATUS_BY_TYPE: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

/** `{"type":"error","error":{"type","message"}}` → GatewayError; `status` is the HTTP status, or derived from the type mid-stream. */
export function anthropicError(provider: string, status: number | undefined, text: string, retryAfter?: string): GatewayError {
  const parsed = tryParseJson(text) as { error?: { type?: unknown; message?: unknown } } | undefined;
  const type = typeof parsed?.error?.type === 'string' ? parsed.error.type : undefined;
  const message = typeof parsed?.error?.message === 'string' ? parsed.error.message : rawErrorMessage(text, status);
  return providerError(provider, {
    status: status ?? (type ? STATUS_BY_TYPE[type] : undefined) ?? 502,
    message: type ? `${message} (${type})` : message,
    retryAfter,
  });
}

export function parseHttpError(provider: string, status: number, text: string, headers: Record<string, string | string[] | undefined>): GatewayError {
  return anthropicError(provider, status, text, headerValue(headers, 'retry-after'));
}
