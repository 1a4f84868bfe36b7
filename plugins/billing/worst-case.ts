/**
 * The most a request can cost, reserved before the upstream call: over every target the request may
 * be served by (a fallback may answer), the prompt bound × the highest input-side price (input,
 * cache read, cache write, 1-hour cache write) plus the output bound × the output price, rounded up
 * to whole micro-units.
 *
 * - Prompt bound: characters of text in `messages` / `prompt` / `input` (and `tools`), divided by
 *   `prompt_chars_per_token` (1 by default: no tokenizer makes fewer than one token per character
 *   of ordinary text). Image and audio parts are not counted: their tokens, like any other
 *   overrun, are charged in full at settlement.
 * - Output bound: `max_completion_tokens` or `max_tokens` (× `n`), else the model's
 *   `max_output_tokens` from the catalog. Embeddings have no output; an image generation costs
 *   `per_image` × `n`.
 * - Free targets cost 0; a post-paid target is not reserved on the balance at all.
 * - A target with no price, or with no output bound, cannot be bounded: the request is refused
 *   (unless every such target is free or post-paid).
 */
import type { Catalog } from '../../core/config/catalog.js';
import type { GatewayConfig } from '../../core/config/types.js';
import type { Context, ModelTarget } from '../../core/context.js';
import { PRICE_SCALE, type CompiledPrice, type Pricer } from './prices.js';

export type WorstCase =
  | { kind: 'bounded'; micros: bigint; postPaid: boolean }
  /** Why no bound exists, for the client's error message. */
  | { kind: 'unbounded'; reason: string };

export class WorstCaseEstimator {
  private readonly maxOutput = new Map<string, number | null>();

  constructor(
    private readonly pricer: Pricer,
    private readonly catalog: Catalog,
    private readonly providers: GatewayConfig['providers'],
    private readonly charsPerToken: number,
  ) {}

  estimate(ctx: Context, targets: readonly ModelTarget[]): WorstCase {
    const body = ctx.body ?? {};
    const n = positive(body['n']) ?? 1;
    const promptTokens = Math.ceil((textLength(body['messages']) + textLength(body['prompt']) + textLength(body['input']) + jsonLength(body['tools'])) / this.charsPerToken);
    const asked = positive(body['max_completion_tokens']) ?? positive(body['max_tokens']);
    let worst = 0n;
    let postPaid = false;
    for (const target of targets) {
      const price = this.pricer.priceOf(target);
      if (price === undefined) return { kind: 'unbounded', reason: `no price is configured for ${target.provider}/${target.model}` };
      if (price.free) continue;
      if (price.postPaid) {
        postPaid = true;
        continue;
      }
      const cost = this.costBound(ctx, target, price, promptTokens, asked, n);
      if (typeof cost === 'string') return { kind: 'unbounded', reason: cost };
      if (cost > worst) worst = cost;
    }
    return { kind: 'bounded', micros: (worst + PRICE_SCALE - 1n) / PRICE_SCALE, postPaid };
  }

  /** Micro-units × PRICE_SCALE, or why there is no bound. */
  private costBound(ctx: Context, target: ModelTarget, price: CompiledPrice, promptTokens: number, asked: number | undefined, n: number): bigint | string {
    const name = `${target.provider}/${target.model}`;
    if (ctx.endpoint === 'images.generations') {
      if (price.image !== undefined) return BigInt(n) * price.image;
      return `${name} has no per_image price`;
    }
    const input = max(max(max(price.input, price.cachedInput), price.cacheWrite), price.cacheWrite1h);
    if (input === undefined && promptTokens > 0) return `${name} has no input price`;
    let cost = BigInt(promptTokens) * (input ?? 0n);
    if (ctx.endpoint === 'embeddings') return cost;
    const output = asked ?? this.maxOutputOf(target);
    if (output === undefined) return `the output of ${name} is unbounded: set max_tokens (its catalog entry has no max_output_tokens)`;
    if (price.output === undefined) return `${name} has no output price`;
    cost += BigInt(output * n) * price.output;
    return cost;
  }

  private maxOutputOf(target: ModelTarget): number | undefined {
    const key = `${target.provider}/${target.model}`;
    let found = this.maxOutput.get(key);
    if (found === undefined) {
      const provider = this.providers[target.provider];
      found = (provider && this.catalog.get(provider.catalog ?? provider.adapter, target.model)?.max_output_tokens) || null;
      if (this.maxOutput.size < 10_000) this.maxOutput.set(key, found);
    }
    return found ?? undefined;
  }
}

function max(a: bigint | undefined, b: bigint | undefined): bigint | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a > b ? a : b;
}

/** Characters of text in a prompt, messages, message content or content parts (other parts count nothing). */
function textLength(value: unknown, depth = 0): number {
  if (typeof value === 'string') return value.length;
  // A token id (embeddings and completions take arrays of them).
  if (typeof value === 'number') return 1;
  if (!value || typeof value !== 'object' || depth > 4) return 0;
  if (Array.isArray(value)) {
    let sum = 0;
    for (const item of value) sum += textLength(item, depth + 1);
    return sum;
  }
  const record = value as Record<string, unknown>;
  let sum = textLength(record['content'], depth + 1) + (typeof record['text'] === 'string' ? record['text'].length : 0);
  // Tool calls in the history (their arguments are prompt tokens too).
  if (record['tool_calls'] !== undefined) sum += jsonLength(record['tool_calls']);
  return sum;
}

function jsonLength(value: unknown): number {
  return value === undefined ? 0 : JSON.stringify(value).length;
}

function positive(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.ceil(value) : undefined;
}
