/**
 * OpenAI embeddings ↔ Gemini embeddings (https://ai.google.dev/api/embeddings). One string goes to
 * `models/{model}:embedContent`, a list to `models/{model}:batchEmbedContents` (one request per
 * input, answered in order); `dimensions` becomes `outputDimensionality`. The Gemini Developer API
 * reports no token counts for embeddings, so when `usageMetadata` is absent the prompt tokens are
 * estimated (4 characters a token) rather than reported as zero.
 */
import type { Usage } from '../../../../core/context.js';
import { errors } from '../../../../core/errors.js';
import { textInputs } from '../../openai-request.js';
import { embeddingList, makeUsage } from '../../openai-shape.js';
import { EMBEDDING_BASE_PARAMS, unsupportedFields, type UnsupportedParams } from '../../params.js';
import { estimateTokens } from '../mock.js';
import { asGeminiResponse } from './chat-response.js';

const SUPPORTED: ReadonlySet<string> = new Set([...EMBEDDING_BASE_PARAMS, 'dimensions']);

export interface EmbeddingRequest {
  /** `embedContent` or `batchEmbedContents`. */
  method: 'embedContent' | 'batchEmbedContents';
  body: Record<string, unknown>;
  dropped: string[];
}

/** An OpenAI embeddings request → the Gemini method and body. */
export function buildEmbeddingRequest(input: Readonly<Record<string, unknown>>, model: string, mode: UnsupportedParams, provider: string): EmbeddingRequest {
  const dropped = unsupportedFields(input, SUPPORTED, mode, provider);
  const texts = textInputs(input['input'], provider);
  const dimensions = input['dimensions'];
  const one = (text: string): Record<string, unknown> => {
    const request: Record<string, unknown> = { content: { parts: [{ text }] } };
    if (typeof dimensions === 'number') request['outputDimensionality'] = dimensions;
    return request;
  };
  if (!Array.isArray(input['input'])) return { method: 'embedContent', body: one(texts[0]!), dropped };
  return { method: 'batchEmbedContents', body: { requests: texts.map((t) => ({ model: `models/${model}`, ...one(t) })) }, dropped };
}

/** Gemini's vectors → an OpenAI embeddings list (base64 when the client asked for it). */
export function parseEmbeddingResponse(input: Readonly<Record<string, unknown>>, model: string, body: unknown, provider: string): { body: unknown; usage: Usage } {
  const res = asGeminiResponse(body, provider) as { embedding?: { values?: number[] }; embeddings?: { values?: number[] }[]; usageMetadata?: { promptTokenCount?: number } };
  const embeddings = res.embeddings ?? (res.embedding ? [res.embedding] : undefined);
  const vectors = embeddings?.map((e) => e.values);
  const texts = textInputs(input['input'], provider);
  if (!vectors || vectors.length !== texts.length || !vectors.every((v) => Array.isArray(v))) {
    throw errors.badGateway('upstream_invalid_response', `${provider}: the embeddings response does not hold one vector per input.`);
  }
  const prompt = res.usageMetadata?.promptTokenCount ?? texts.reduce((n, t) => n + estimateTokens(t), 0);
  const usage = makeUsage(prompt, 0);
  return { body: embeddingList(model, vectors as number[][], usage, input['encoding_format']), usage };
}
