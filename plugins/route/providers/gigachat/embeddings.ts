/**
 * OpenAI embeddings ↔ GigaChat `POST /embeddings`
 * (https://developers.sber.ru/docs/ru/gigachat/api/reference/rest/post-embeddings): the request is
 * `{model, input: [texts]}`; the answer `{object: "list", data: [{object, embedding, index,
 * usage: {prompt_tokens}}], model}` counts tokens per input, which are summed. `dimensions` has no
 * GigaChat counterpart (dropped or rejected per `unsupported_params`); `encoding_format: base64` is
 * honoured here, by encoding the floats as OpenAI does.
 */
import type { Usage } from '../../../../core/context.js';
import { errors } from '../../../../core/errors.js';
import { textInputs } from '../../openai-request.js';
import { embeddingList, makeUsage } from '../../openai-shape.js';
import { EMBEDDING_BASE_PARAMS, unsupportedFields, type UnsupportedParams } from '../../params.js';

const SUPPORTED: ReadonlySet<string> = new Set([...EMBEDDING_BASE_PARAMS, 'user']);

/** An OpenAI embeddings request → GigaChat's body; `dropped` lists the fields left out. */
export function buildEmbeddingsBody(body: Readonly<Record<string, unknown>>, model: string, mode: UnsupportedParams, provider: string): { body: Record<string, unknown>; dropped: string[] } {
  const dropped = unsupportedFields(body, SUPPORTED, mode, provider);
  return { body: { model, input: textInputs(body['input'], provider) }, dropped };
}

/** GigaChat's embeddings list → OpenAI's, usage summed over the inputs. */
export function translateEmbeddings(request: Readonly<Record<string, unknown>>, model: string, body: unknown, provider: string): { body: unknown; usage: Usage } {
  const data = (body as { data?: unknown } | null)?.data;
  const count = textInputs(request['input'], provider).length;
  const items = Array.isArray(data) ? (data as { embedding?: unknown; index?: unknown; usage?: { prompt_tokens?: unknown } }[]) : [];
  if (items.length !== count || !items.every((d) => Array.isArray(d?.embedding))) {
    throw errors.badGateway('upstream_invalid_response', `${provider}: the embeddings response does not hold one vector per input.`);
  }
  const ordered = [...items].sort((a, b) => Number(a.index ?? 0) - Number(b.index ?? 0));
  const prompt = items.reduce((n, d) => n + (typeof d.usage?.prompt_tokens === 'number' ? d.usage.prompt_tokens : 0), 0);
  const usage = makeUsage(prompt, 0);
  const responseModel = (body as { model?: unknown }).model;
  const list = embeddingList(typeof responseModel === 'string' ? responseModel : model, ordered.map((d) => d.embedding as number[]), usage, request['encoding_format']);
  return { body: list, usage };
}
