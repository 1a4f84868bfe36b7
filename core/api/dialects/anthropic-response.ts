/**
 * The internal chat answer → Anthropic's response shapes: a `message`
 * (https://docs.anthropic.com/en/api/messages), usage, stop reasons, and the error body
 * `{type:'error', error:{type, message}, request_id}` with the status per
 * https://docs.anthropic.com/en/api/errors.
 */
import type { GatewayError } from '../../errors.js';
import type { Inbound } from './dialect.js';
import type { AnthropicExtra } from './anthropic-request.js';

export type { AnthropicExtra };

type Json = Record<string, unknown>;

/**
 * An OpenAI usage object as the chat pipeline produces it (`cache_write_tokens`: Anthropic cache
 * writes, when the target reported them; `cache_creation_token_details`: their split by TTL, when
 * some were written with the 1-hour TTL).
 */
export interface ChatUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  prompt_tokens_details?: {
    cached_tokens?: number;
    cache_write_tokens?: number;
    cache_creation_token_details?: { ephemeral_5m_input_tokens?: number; ephemeral_1h_input_tokens?: number } | null;
  } | null;
}

/** Anthropic's usage: `input_tokens` excludes the tokens read from or written to the cache. */
export interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  /** The writes split by TTL (https://platform.claude.com/docs/en/build-with-claude/prompt-caching); only when the split is known. */
  cache_creation?: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
}

const count = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0);

export function anthropicUsage(usage: ChatUsage | undefined): AnthropicUsage {
  const read = count(usage?.prompt_tokens_details?.cached_tokens);
  const write = count(usage?.prompt_tokens_details?.cache_write_tokens);
  const out: AnthropicUsage = {
    input_tokens: Math.max(0, count(usage?.prompt_tokens) - read - write),
    output_tokens: count(usage?.completion_tokens),
    cache_creation_input_tokens: write,
    cache_read_input_tokens: read,
  };
  const split = usage?.prompt_tokens_details?.cache_creation_token_details;
  if (write > 0 && split) {
    const oneHour = Math.min(count(split.ephemeral_1h_input_tokens), write);
    out.cache_creation = { ephemeral_5m_input_tokens: write - oneHour, ephemeral_1h_input_tokens: oneHour };
  }
  return out;
}

/** An Anthropic-looking message id: the target's own when it is one (`msg_…`), else derived from it. */
export function messageId(chatId: unknown, requestId: string): string {
  const id = typeof chatId === 'string' && chatId !== '' ? chatId : requestId;
  return id.startsWith('msg_') ? id : `msg_${id}`;
}

/**
 * `finish_reason` → `stop_reason`. A stop is `stop_sequence` when the target named the sequence it
 * stopped at (vLLM's `stop_reason`) and it is one the client gave; OpenAI-style targets do not say.
 */
export function stopReason(finish: string | null, matched: unknown, sequences: readonly string[]): { reason: string; sequence: string | null } {
  switch (finish) {
    case 'length':
      return { reason: 'max_tokens', sequence: null };
    case 'tool_calls':
    case 'function_call':
      return { reason: 'tool_use', sequence: null };
    case 'content_filter':
      return { reason: 'refusal', sequence: null };
    default:
      if (typeof matched === 'string' && sequences.includes(matched)) return { reason: 'stop_sequence', sequence: matched };
      return { reason: 'end_turn', sequence: null };
  }
}

function toolInput(args: unknown): unknown {
  if (typeof args !== 'string' || args.trim() === '') return {};
  try {
    const parsed: unknown = JSON.parse(args);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed : {};
  } catch {
    return {};
  }
}

/** A complete `chat.completion` → an Anthropic message; `count_tokens` → `{ input_tokens }`. */
export function messageFromChat(chat: unknown, inbound: Inbound, requestId: string): Json {
  const c = (chat ?? {}) as Json;
  const usage = c['usage'] as ChatUsage | undefined;
  if (inbound.operation === 'count_tokens') return { input_tokens: count(usage?.prompt_tokens) };
  const extra = (inbound.extra ?? {}) as Partial<AnthropicExtra>;
  const choice = ((Array.isArray(c['choices']) ? c['choices'][0] : undefined) ?? {}) as Json;
  const message = (choice['message'] ?? {}) as Json;
  const content: Json[] = [];
  if (typeof message['reasoning_content'] === 'string' && message['reasoning_content'] !== '') content.push({ type: 'thinking', thinking: message['reasoning_content'], signature: '' });
  if (typeof message['content'] === 'string' && message['content'] !== '') content.push({ type: 'text', text: message['content'], citations: null });
  // An OpenAI refusal comes with finish_reason `stop`; Anthropic says `refusal`.
  const refused = typeof message['refusal'] === 'string' && message['refusal'] !== '';
  if (refused) content.push({ type: 'text', text: message['refusal'], citations: null });
  for (const raw of Array.isArray(message['tool_calls']) ? message['tool_calls'] : []) {
    const call = (raw ?? {}) as Json;
    const fn = (call['function'] ?? {}) as Json;
    content.push({ type: 'tool_use', id: String(call['id'] ?? ''), name: String(fn['name'] ?? ''), input: toolInput(fn['arguments']) });
  }
  const finish = typeof choice['finish_reason'] === 'string' ? choice['finish_reason'] : null;
  const { reason, sequence } = stopReason(refused ? 'content_filter' : finish, choice['stop_reason'], extra.stopSequences ?? []);
  return {
    id: messageId(c['id'], requestId),
    type: 'message',
    role: 'assistant',
    model: extra.model ?? (typeof c['model'] === 'string' ? c['model'] : ''),
    content,
    stop_reason: reason,
    stop_sequence: sequence,
    usage: anthropicUsage(usage),
  };
}

/** Anthropic's error `type` for a gateway status (https://docs.anthropic.com/en/api/errors). */
function errorType(status: number): string {
  switch (status) {
    case 401:
      return 'authentication_error';
    case 402:
      return 'billing_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 503:
    case 529:
      return 'overloaded_error';
    case 504:
      return 'timeout_error';
    default:
      return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

/**
 * A GatewayError in Anthropic's shape. The status stays the gateway's (the SDKs key their error
 * classes and retries on it); the type is Anthropic's for that status.
 */
export function anthropicError(error: GatewayError, requestId: string): { status: number; body: Json } {
  return { status: error.status, body: { type: 'error', error: { type: errorType(error.status), message: error.message }, request_id: requestId } };
}
