/**
 * What a request costs. Prices are compiled once per config version from the model catalog (USD per
 * 1M tokens) and the plugin's overrides, converted to the gateway currency, and kept as integers:
 * micro-units per token (or per image) × `PRICE_SCALE`, so a price of $0.0375 per 1M tokens stays
 * exact. Per request only integer (bigint) arithmetic runs, and the sum is rounded to whole
 * micro-units once, halves up.
 */
import { ConfigError } from '../../core/config/schema.js';
import type { Catalog } from '../../core/config/catalog.js';
import type { Endpoint, ModelTarget, Usage } from '../../core/context.js';
import type { GatewayConfig } from '../../core/config/types.js';
import type { BillingConfig, Price } from '../../schemas/types/plugins/billing.js';

/** A compiled price's extra precision: micro-units × this, per token or per image. */
export const PRICE_SCALE = 1_000_000n;
const HALF = PRICE_SCALE / 2n;

/** The catalog's currency (`schemas/catalog.schema.json`: prices are USD). */
const CATALOG_CURRENCY = 'USD';

/** A price in the gateway currency, in micro-units × `PRICE_SCALE`; a missing field is no price for that kind. */
export interface CompiledPrice {
  readonly free: boolean;
  /** Charged after the fact, never reserved: the balance may go below zero by what it costs. */
  readonly postPaid?: boolean;
  readonly input?: bigint;
  readonly output?: bigint;
  readonly cachedInput?: bigint;
  /** Prompt tokens written to the provider's prompt cache (Anthropic `cache_creation_input_tokens`). */
  readonly cacheWrite?: bigint;
  /** The 1-hour-TTL part of the cache writes (Anthropic `cache_creation.ephemeral_1h_input_tokens`). */
  readonly cacheWrite1h?: bigint;
  readonly image?: bigint;
}

const FREE: CompiledPrice = { free: true };

/** A per-1M-tokens price (in its currency) → micro-units × PRICE_SCALE per token. */
function perToken(per1m: number | undefined, rate: number): bigint | undefined {
  // per 1M tokens in currency units = per token in micro-units; the float product runs once, at load.
  return per1m === undefined ? undefined : BigInt(Math.round(per1m * rate * Number(PRICE_SCALE)));
}

function perUnit(price: number | undefined, rate: number): bigint | undefined {
  return price === undefined ? undefined : BigInt(Math.round(price * rate * 1e6 * Number(PRICE_SCALE)));
}

/**
 * The prices of one config version: `models` overrides (`provider/model`, then the upstream model
 * id), then `providers` overrides, then the catalog of the target's provider.
 */
export class Pricer {
  private readonly models = new Map<string, CompiledPrice>();
  private readonly providers = new Map<string, CompiledPrice>();
  private readonly catalogRate: number;
  private readonly cached = new Map<string, CompiledPrice | null>();

  constructor(
    config: BillingConfig,
    private readonly catalog: Catalog,
    private readonly providerConfigs: GatewayConfig['providers'],
  ) {
    const rateOf = (currency: string, path: (string | number)[]): number => {
      if (currency === config.currency) return 1;
      const rate = config.rates[currency];
      if (rate === undefined) throw ConfigError.at(path, `prices in ${currency} need \`rates.${currency}\`: what one ${currency} is worth in ${config.currency}`);
      return rate;
    };
    // Catalog prices are USD; a gateway in another currency converts them, so it must say how.
    this.catalogRate = rateOf(CATALOG_CURRENCY, ['rates']);
    const compile = (price: Price, path: (string | number)[]): CompiledPrice => {
      if (price.free) return FREE;
      const rate = rateOf(price.currency ?? config.currency, [...path, 'currency']);
      return compiled(price, rate);
    };
    for (const [id, price] of Object.entries(config.models)) this.models.set(id, compile(price, ['models', id]));
    for (const [name, price] of Object.entries(config.providers)) this.providers.set(name, compile(price, ['providers', name]));
  }

  /** The price of `target`, or undefined when nothing prices it. */
  priceOf(target: ModelTarget): CompiledPrice | undefined {
    const key = `${target.provider}/${target.model}`;
    let price = this.cached.get(key);
    if (price === undefined) {
      price = this.models.get(key) ?? this.models.get(target.model) ?? this.providers.get(target.provider) ?? this.fromCatalog(target) ?? null;
      // Bounded by the models the gateway can route to (a glob target's ids come from clients, so cap it).
      if (this.cached.size < 10_000) this.cached.set(key, price);
    }
    return price ?? undefined;
  }

  private fromCatalog(target: ModelTarget): CompiledPrice | undefined {
    const provider = this.providerConfigs[target.provider];
    if (!provider) return undefined;
    const pricing = this.catalog.get(provider.catalog ?? provider.adapter, target.model)?.pricing;
    return pricing ? compiled(pricing, this.catalogRate) : undefined;
  }

  /**
   * The cost of a request in micro-units: 0 when nothing was served (refused, failed, a cache hit),
   * null when something was served that no price covers.
   */
  costOf(endpoint: Endpoint | undefined, served: ModelTarget | undefined, usage: Usage | undefined, images: number): bigint | null {
    if (served === undefined) return usage === undefined ? 0n : null;
    const price = this.priceOf(served);
    return price === undefined ? null : costAt(price, endpoint, usage, images);
  }

  /**
   * What a cache hit costs: `usage` (the cached answer's) at the price of `target` (the model's
   * first target, which a miss would have tried first), × `rate` in millionths, rounded halves up.
   */
  hitCostOf(endpoint: Endpoint | undefined, target: ModelTarget | undefined, usage: Usage | undefined, images: number, rateMillionths: bigint): bigint | null {
    if (rateMillionths === 0n) return 0n;
    const price = target && this.priceOf(target);
    if (price === undefined) return null;
    const full = costAt(price, endpoint, usage, images);
    return full === null ? null : (full * rateMillionths + 500_000n) / 1_000_000n;
  }
}

/** A share (0.5) as an integer number of millionths, once at load. */
export function millionths(share: number): bigint {
  return BigInt(Math.round(share * 1_000_000));
}

/** The catalog's price fields are a subset of an override's. */
type PriceFields = Pick<Price, 'input_per_1m' | 'output_per_1m' | 'cached_input_per_1m' | 'cache_write_per_1m' | 'cache_write_1h_per_1m' | 'per_image' | 'post_paid'>;

function compiled(price: PriceFields, rate: number): CompiledPrice {
  return {
    free: false,
    postPaid: price.post_paid === true,
    input: perToken(price.input_per_1m, rate),
    output: perToken(price.output_per_1m, rate),
    cachedInput: perToken(price.cached_input_per_1m, rate),
    cacheWrite: perToken(price.cache_write_per_1m, rate),
    cacheWrite1h: perToken(price.cache_write_1h_per_1m, rate),
    image: perUnit(price.per_image, rate),
  };
}

/** Tokens × a price that must exist when there are tokens (else the cost is unknown: undefined). */
function charge(tokens: number, price: bigint | undefined): bigint | undefined {
  if (tokens <= 0) return 0n;
  return price === undefined ? undefined : BigInt(Math.round(tokens)) * price;
}

/**
 * `usage` at `price`. Cached tokens (read from the provider's prompt cache) and cache-write tokens
 * are parts of the prompt tokens (the adapters report them so) and cost the cached and cache-write
 * rates (the input rate when there is none); the 1-hour-TTL writes among them cost the 1-hour
 * cache-write rate (else the cache-write rate, else the input rate); reasoning tokens are a part of the completion tokens
 * and cost the output rate. An image generation costs `per_image` × images when the price has one,
 * else its tokens.
 */
export function costAt(price: CompiledPrice, endpoint: Endpoint | undefined, usage: Usage | undefined, images: number): bigint | null {
  if (price.free) return 0n;
  if (endpoint === 'images.generations' && price.image !== undefined) return roundMicros(BigInt(images) * price.image);
  if (usage === undefined) return null;
  const cached = Math.min(Math.max(usage.cached_tokens ?? 0, 0), usage.prompt_tokens);
  const writes = Math.min(Math.max(usage.cache_write_tokens ?? 0, 0), usage.prompt_tokens - cached);
  const writes1h = Math.min(Math.max(usage.cache_write_1h_tokens ?? 0, 0), writes);
  const parts = [
    charge(usage.prompt_tokens - cached - writes, price.input),
    charge(cached, price.cachedInput ?? price.input),
    charge(writes - writes1h, price.cacheWrite ?? price.input),
    charge(writes1h, price.cacheWrite1h ?? price.cacheWrite ?? price.input),
    charge(usage.completion_tokens, price.output),
  ];
  let sum = 0n;
  for (const part of parts) {
    if (part === undefined) return null;
    sum += part;
  }
  return roundMicros(sum);
}

function roundMicros(scaled: bigint): bigint {
  return (scaled + HALF) / PRICE_SCALE;
}
