/**
 * The token reservation a request takes from its token windows before it runs: the prompt at about
 * 4 characters per token, plus the completion the client allows (`max_completion_tokens` /
 * `max_tokens`, times `n`) or, when it sets none, the configured allowance. After the response the
 * reservation is settled with the real usage, so the estimate only decides admission.
 */
import type { Context } from '../../core/context.js';

const CHARS_PER_TOKEN = 4;

export function reserveTokens(ctx: Context, defaultCompletionTokens: number): number {
  const body = ctx.body;
  if (!body) return 0;
  const chars = textLength(body['messages']) + textLength(body['prompt']) + textLength(body['input']);
  const prompt = Math.ceil(chars / CHARS_PER_TOKEN);
  if (ctx.endpoint === 'embeddings' || ctx.endpoint === 'images.generations') return prompt;
  const cap = positive(body['max_completion_tokens']) ?? positive(body['max_tokens']) ?? defaultCompletionTokens;
  const choices = positive(body['n']) ?? 1;
  return prompt + cap * choices;
}

/** Characters of text in a prompt, messages, message content or content parts (other parts count nothing). */
function textLength(value: unknown, depth = 0): number {
  if (typeof value === 'string') return value.length;
  if (!value || typeof value !== 'object' || depth > 3) return 0;
  if (Array.isArray(value)) {
    let sum = 0;
    for (const item of value) sum += textLength(item, depth + 1);
    return sum;
  }
  const record = value as Record<string, unknown>;
  return textLength(record['content'], depth + 1) + (typeof record['text'] === 'string' ? record['text'].length : 0);
}

function positive(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.ceil(value) : undefined;
}
