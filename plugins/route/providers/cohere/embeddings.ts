/**
 * OpenAI embeddings ↔ Cohere v2 embed (https://docs.cohere.com/v2/reference/embed). The inputs go
 * as `texts` with `embedding_types: ["float"]`; `dimensions` becomes `output_dimension` (Embed v4
 * and newer); Cohere's required `input_type` comes from the request's own `input_type` field when
 * the client sends one, else from the provider's `embedding_input_type`. Usage is read from
 * `meta` (`billed_units` or `tokens`, as `usage_source` says); `encoding_format: base64` is
 * produced here from the float vectors, as Cohere's base64 type is a different encoding.
 */
import type { Usage } from '../../../../core/context.js';
import { errors } from '../../../../core/errors.js';
import { textInputs } from '../../openai-request.js';
import { embeddingList, makeUsage } from '../../openai-shape.js';
import { EMBEDDING_BASE_PARAMS, unsupportedFields, type UnsupportedParams } from '../../params.js';
import { readUsage, type UsageSource } from './chat-response.js';

const SUPPORTED: ReadonlySet<string> = new Set([...EMBEDDING_BASE_PARAMS, 'dimensions', 'input_type']);

export interface EmbedOptions {
  provider: string;
  unsupported: UnsupportedParams;
  inputType: string;
}

export function buildEmbedBody(body: Readonly<Record<string, unknown>>, model: string, opts: EmbedOptions): { body: Record<string, unknown>; dropped: string[] } {
  const dropped = unsupportedFields(body, SUPPORTED, opts.unsupported, opts.provider);
  const out: Record<string, unknown> = {
    model,
    texts: textInputs(body['input'], opts.provider),
    input_type: typeof body['input_type'] === 'string' ? body['input_type'] : opts.inputType,
    embedding_types: ['float'],
  };
  if (typeof body['dimensions'] === 'number') out['output_dimension'] = body['dimensions'];
  return { body: out, dropped };
}

export function translateEmbed(body: Readonly<Record<string, unknown>>, model: string, response: unknown, provider: string, source: UsageSource): { body: unknown; usage: Usage } {
  const r = (response ?? {}) as { embeddings?: { float?: unknown }; meta?: unknown };
  const vectors = r.embeddings?.float;
  const count = textInputs(body['input'], provider).length;
  if (!Array.isArray(vectors) || vectors.length !== count || !vectors.every((v) => Array.isArray(v))) {
    throw errors.badGateway('upstream_invalid_response', `${provider}: the embed response does not hold one float vector per input.`);
  }
  const usage = readUsage(r.meta, source) ?? makeUsage(0, 0);
  return { body: embeddingList(model, vectors as number[][], usage, body['encoding_format']), usage };
}
