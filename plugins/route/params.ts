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

/** `n` > 1 cannot be honoured by providers that return one choice; always a clear 400. */
export function rejectMultipleChoices(body: Readonly<Record<string, unknown>>, provider: string): void {
  const n = body['n'];
  if (typeof n === 'number' && n > 1) throw errors.badRequest('unsupported_parameter', `Provider '${provider}' returns one choice per request; 'n' must be 1.`, 'n');
}
