/**
 * Request fields a provider cannot honour are dropped or rejected — per provider, by its
 * `unsupported_params: drop | reject` setting — and never silently mangled.
 */
import { errors } from '../../core/errors.js';

export type UnsupportedParams = 'drop' | 'reject';

/** Schema fragment for adapters' provider settings. */
export const unsupportedParamsSchema = {
  enum: ['drop', 'reject'],
  default: 'drop',
  description: 'What to do with request fields this provider cannot honour: `drop` them (logged at debug level) or `reject` the request with 400 `unsupported_parameter`.',
} as const;

/**
 * The chat request fields every translating adapter takes: it translates them, or, like
 * `stream_options` and `n`, the gateway honours them (`rejectMultipleChoices`). An adapter's
 * supported set is these and its own: `new Set([...CHAT_BASE_PARAMS, 'top_p', …])`.
 */
export const CHAT_BASE_PARAMS = ['model', 'messages', 'stream', 'stream_options', 'n', 'max_tokens', 'max_completion_tokens', 'temperature', 'tools', 'tool_choice', 'response_format'] as const;

/** The embeddings request fields every translating adapter takes (`encoding_format: base64` is encoded by `embeddingList`). */
export const EMBEDDING_BASE_PARAMS = ['model', 'input', 'encoding_format'] as const;

/**
 * Returns the body's fields that `supported` does not list. In `reject` mode throws a 400 naming the
 * first one; in `drop` mode the caller simply does not translate them.
 */
export function unsupportedFields(body: Readonly<Record<string, unknown>>, supported: ReadonlySet<string>, mode: UnsupportedParams, provider: string): string[] {
  const unsupported: string[] = [];
  for (const key of Object.keys(body)) {
    if (!supported.has(key) && body[key] !== undefined && body[key] !== null) unsupported.push(key);
  }
  if (mode === 'reject' && unsupported.length > 0) {
    throw errors.badRequest('unsupported_parameter', `Provider '${provider}' does not support the parameter '${unsupported[0]}'. Remove it, or set unsupported_params: drop for this provider.`, unsupported[0]);
  }
  return unsupported;
}

/**
 * The message fields every translating adapter translates, as `field` (any role) or `role.field`.
 * An adapter's set is these and its own: `new Set([...MESSAGE_BASE_FIELDS, 'tool.name'])`.
 */
export const MESSAGE_BASE_FIELDS = ['role', 'content', 'assistant.tool_calls', 'assistant.refusal', 'tool.tool_call_id'] as const;

/** Message fields that carry a turn of the conversation: dropping one would change what the model reads. */
const CONVERSATION_FIELDS: ReadonlySet<string> = new Set(['audio', 'function_call', 'tool_calls']);

/**
 * Checks every message's fields against `supported` (see `MESSAGE_BASE_FIELDS`) and returns those
 * it does not list, as `messages[i].field`. A field that carries part of the conversation (an
 * earlier `audio` answer, a legacy `function_call`) is always a 400; any other (`name`, …) follows
 * `mode` as top-level fields do. An assistant tool call of a type other than `function` is a 400
 * too: every translating adapter replays function calls only.
 */
export function unsupportedMessageFields(messages: unknown, supported: ReadonlySet<string>, mode: UnsupportedParams, provider: string): string[] {
  const unsupported: string[] = [];
  if (!Array.isArray(messages)) return unsupported;
  messages.forEach((raw, i) => {
    const message = (raw ?? {}) as Readonly<Record<string, unknown>>;
    const role = String(message['role']);
    for (const key of Object.keys(message)) {
      const value = message[key];
      if (value === undefined || value === null) continue;
      if (supported.has(key) || supported.has(`${role}.${key}`)) {
        if (key === 'tool_calls' && Array.isArray(value)) checkToolCallTypes(value, i, provider);
        continue;
      }
      const param = `messages[${i}].${key}`;
      if (CONVERSATION_FIELDS.has(key) || mode === 'reject') {
        throw errors.badRequest('unsupported_parameter', `Provider '${provider}' cannot take '${key}' on '${role}' messages.${CONVERSATION_FIELDS.has(key) ? '' : ' Remove it, or set unsupported_params: drop for this provider.'}`, param);
      }
      unsupported.push(param);
    }
  });
  return unsupported;
}

function checkToolCallTypes(calls: readonly unknown[], index: number, provider: string): void {
  calls.forEach((raw, j) => {
    const type = (raw as { type?: unknown } | null)?.type;
    if (type !== undefined && type !== 'function') {
      throw errors.badRequest('unsupported_parameter', `Provider '${provider}' replays function tool calls only; got '${String(type)}'.`, `messages[${index}].tool_calls[${j}]`);
    }
  });
}

/** `n` > 1 cannot be honoured by providers that return one choice; always a clear 400. */
export function rejectMultipleChoices(body: Readonly<Record<string, unknown>>, provider: string): void {
  const n = body['n'];
  if (typeof n === 'number' && n > 1) throw errors.badRequest('unsupported_parameter', `Provider '${provider}' returns one choice per request; 'n' must be 1.`, 'n');
}
