/**
 * OpenAI embeddings ↔ Yandex `Embeddings.TextEmbedding`
 * (https://yandex.cloud/en/docs/ai-studio/embeddings/api-ref/Embeddings/textEmbedding):
 * `{modelUri, text, dim?}` → `{embedding: [...], numTokens, modelVersion}`. The API embeds ONE text
 * per call and offers no batch method, while the gateway sends one upstream request per operation;
 * so `input` must be a string or a one-element array, and a longer list is a clear 400 rather than
 * a silent fan-out. `dimensions` becomes `dim` (an int64 string). The vector's values are doubles
 * that may arrive as JSON strings.
 */
import type { Usage } from '../../../../core/context.js';
import { errors } from '../../../../core/errors.js';
import { embeddingList, makeUsage } from '../../openai-shape.js';
import { EMBEDDING_BASE_PARAMS, unsupportedFields, type UnsupportedParams } from '../../params.js';
import { jsonNumber } from './response.js';

const SUPPORTED: ReadonlySet<string> = new Set([...EMBEDDING_BASE_PARAMS, 'dimensions']);

/** The one text to embed; throws a 400 for lists of several texts and for token arrays. */
export function embeddingText(input: unknown, provider: string): string {
  const list = Array.isArray(input) ? input : [input];
  if (list.length > 1 && list.every((i) => typeof i === 'string')) {
    throw errors.badRequest(
      'unsupported_parameter',
      `Provider '${provider}' embeds one text per request (the Yandex textEmbedding API has no batch method); got ${list.length} inputs. Send one request per text.`,
      'input',
    );
  }
  const [text] = list;
  if (list.length !== 1 || typeof text !== 'string') {
    throw errors.badRequest('invalid_value', `Provider '${provider}' takes text: 'input' must be a string or a one-element list of strings (token arrays are not supported).`, 'input');
  }
  return text;
}

export function buildEmbeddingBody(input: Readonly<Record<string, unknown>>, modelUri: string, mode: UnsupportedParams, provider: string): { body: Record<string, unknown>; dropped: string[] } {
  const dropped = unsupportedFields(input, SUPPORTED, mode, provider);
  const format = input['encoding_format'];
  if (format !== undefined && format !== null && format !== 'float' && format !== 'base64') {
    throw errors.badRequest('invalid_value', "encoding_format must be 'float' or 'base64'.", 'encoding_format');
  }
  const body: Record<string, unknown> = { modelUri, text: embeddingText(input['input'], provider) };
  const dimensions = input['dimensions'];
  if (typeof dimensions === 'number') body['dim'] = String(dimensions);
  return { body, dropped };
}

export function parseEmbeddingResponse(input: Readonly<Record<string, unknown>>, model: string, body: unknown, provider: string): { body: unknown; usage: Usage } {
  const res = (body ?? {}) as { embedding?: unknown; numTokens?: unknown };
  const vector = Array.isArray(res.embedding) ? res.embedding.map(jsonNumber) : undefined;
  if (!vector || vector.length === 0 || vector.some((v) => v === undefined)) {
    throw errors.badGateway('upstream_invalid_response', `${provider}: the embedding response holds no vector of numbers.`);
  }
  const usage = makeUsage(jsonNumber(res.numTokens) ?? 0, 0);
  return { body: embeddingList(model, [vector as number[]], usage, input['encoding_format']), usage };
}
