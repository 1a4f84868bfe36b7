/**
 * `billing`'s pricing: catalog prices for the target that served, overrides per model and per
 * provider, cached tokens at the cached rate, currency conversion, free models, unknown prices,
 * integer micro-units with one rounding per request.
 */
import t from 'tap';
import { loadCatalog, type Catalog } from '../../core/config/catalog.js';
import { ConfigError } from '../../core/config/schema.js';
import type { GatewayConfig } from '../../core/config/types.js';
import { Pricer } from '../../plugins/billing/prices.js';
import type { BillingConfig } from '../../schemas/types/plugins/billing.js';

let catalog: Catalog;
t.before(async () => {
  catalog = await loadCatalog([], {});
});

const providers = {
  up: { adapter: 'openai' },
  claude: { adapter: 'anthropic' },
  giga: { adapter: 'gigachat' },
  local: { adapter: 'openai', catalog: 'none' },
} as unknown as GatewayConfig['providers'];

function pricer(config: Partial<BillingConfig> = {}): Pricer {
  const full: BillingConfig = { currency: 'USD', rates: {}, models: {}, providers: {}, cost_header: true, cache_hit_rate: 0, routes: {}, plans: {}, records: { enabled: true, flush_interval: '1s', batch_rows: 500, max_queued: 50_000 }, credits: { enabled: false, prompt_chars_per_token: 1, leases: { enabled: true, fraction: 0.0625, flush_interval: '1s' } }, budgets: { enabled: false, soft_limit_percent: 80 }, ...config };
  return new Pricer(full, catalog, providers);
}

const usage = (prompt: number, completion: number, cached?: number) => ({ prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, ...(cached !== undefined && { cached_tokens: cached }) });

t.test('prices the target that served at its catalog price, cached tokens at the cached rate', async (t) => {
  const p = pricer();
  // gpt-4o-mini: $0.15 in, $0.60 out, $0.075 cached per 1M → micro-USD per token.
  t.equal(p.costOf('chat.completions', { provider: 'up', model: 'gpt-4o-mini' }, usage(1000, 500, 200), 1), 800n * 15n / 100n + 200n * 75n / 1000n + 500n * 6n / 10n);
  t.equal(p.costOf('chat.completions', { provider: 'up', model: 'gpt-4o' }, usage(1000, 500, 200), 1), 800n * 25n / 10n + 200n * 125n / 100n + 500n * 10n, 'gpt-4o costs 2000 + 250 + 5000');
  t.equal(p.costOf('embeddings', { provider: 'up', model: 'text-embedding-3-small' }, usage(1_000_000, 0), 1), 20_000n, '$0.02 per 1M embedded tokens');
});

t.test('rounds the whole request once, to the nearest micro-unit, halves up', async (t) => {
  const p = pricer({ models: { 'up/tiny': { input_per_1m: 0.25, output_per_1m: 0.25 } } });
  t.equal(p.costOf('chat.completions', { provider: 'up', model: 'tiny' }, usage(1, 1), 1), 1n, '0.5 → 1');
  t.equal(p.costOf('chat.completions', { provider: 'up', model: 'tiny' }, usage(1, 0), 1), 0n, '0.25 → 0');
  t.equal(p.costOf('chat.completions', { provider: 'up', model: 'tiny' }, usage(3, 3), 1), 2n, '1.5 → 2, not 0 + 0 per part');
});

t.test('a model override wins over a provider override, which wins over the catalog', async (t) => {
  const p = pricer({
    models: { 'up/gpt-4o': { input_per_1m: 1, output_per_1m: 1 }, 'gpt-4o-mini': { input_per_1m: 3, output_per_1m: 3 } },
    providers: { up: { input_per_1m: 7, output_per_1m: 7 } },
  });
  t.equal(p.costOf('chat.completions', { provider: 'up', model: 'gpt-4o' }, usage(10, 10), 1), 20n, 'provider/model');
  t.equal(p.costOf('chat.completions', { provider: 'up', model: 'gpt-4o-mini' }, usage(10, 10), 1), 60n, 'bare model id');
  t.equal(p.costOf('chat.completions', { provider: 'up', model: 'gpt-5' }, usage(10, 10), 1), 140n, 'the provider price for the rest');
  t.equal(p.costOf('chat.completions', { provider: 'claude', model: 'claude-sonnet-5-5' }, usage(10, 10), 1), 120n, 'other providers keep the catalog ($2 + $10 per 1M)');
});

t.test('an override replaces the catalog price as a whole; a cached price falls back to the input price', async (t) => {
  const p = pricer({ models: { 'gpt-4o-mini': { input_per_1m: 1 } } });
  t.equal(p.costOf('chat.completions', { provider: 'up', model: 'gpt-4o-mini' }, usage(10, 0, 4), 1), 10n, 'cached tokens at the input rate');
  t.equal(p.costOf('chat.completions', { provider: 'up', model: 'gpt-4o-mini' }, usage(10, 5), 1), null, 'no output price in the override: unknown, not the catalog one');
});

t.test('prices in another currency are converted with `rates`; a gateway in RUB converts the catalog too', async (t) => {
  const p = pricer({ rates: { RUB: 0.011 }, providers: { giga: { currency: 'RUB', input_per_1m: 200, output_per_1m: 200 } } });
  t.equal(p.costOf('chat.completions', { provider: 'giga', model: 'GigaChat-2' }, usage(1000, 1000), 1), 4400n, '2000 tokens × 200 RUB/1M × 0.011 = 0.0044 USD');
  const rub = pricer({ currency: 'RUB', rates: { USD: 90 } });
  t.equal(rub.costOf('chat.completions', { provider: 'up', model: 'gpt-4o-mini' }, usage(1000, 0), 1), 13_500n, '1000 × $0.15/1M × 90 = 0.0135 RUB');
  t.throws(() => pricer({ currency: 'RUB' }), ConfigError, 'a RUB gateway without a USD rate cannot read the catalog');
  const err = (() => {
    try {
      pricer({ models: { x: { currency: 'EUR', input_per_1m: 1 } } });
    } catch (e) {
      return e as ConfigError;
    }
    return undefined;
  })();
  t.ok(err instanceof ConfigError);
  t.match(err?.message, /EUR/, 'names the currency without a rate');
});

t.test('free models cost 0; a served model with no price costs null; nothing served costs 0', async (t) => {
  const p = pricer({ providers: { local: { free: true } }, models: { 'up/free-one': { free: true } } });
  t.equal(p.costOf('chat.completions', { provider: 'local', model: 'llama' }, usage(1000, 1000), 1), 0n);
  t.equal(p.costOf('chat.completions', { provider: 'up', model: 'free-one' }, usage(1000, 1000), 1), 0n);
  t.equal(p.costOf('chat.completions', { provider: 'giga', model: 'GigaChat-2' }, usage(1000, 1000), 1), null, 'the catalog has no GigaChat price');
  t.equal(p.costOf('chat.completions', { provider: 'up', model: 'not-in-the-catalog' }, usage(1, 1), 1), null);
  t.equal(p.costOf('chat.completions', undefined, undefined, 1), 0n, 'refused, failed or a cache hit');
  t.equal(p.costOf('chat.completions', undefined, usage(1, 1), 1), null, 'usage without a target: unknown');
});

t.test('images cost per image when the price has one, else by their tokens', async (t) => {
  const p = pricer({ models: { 'up/img': { per_image: 0.04 }, 'up/img-tokens': { input_per_1m: 5, output_per_1m: 40 } } });
  t.equal(p.costOf('images.generations', { provider: 'up', model: 'img' }, undefined, 3), 120_000n);
  t.equal(p.costOf('images.generations', { provider: 'up', model: 'img-tokens' }, usage(10, 100), 1), 4050n);
  t.equal(p.costOf('images.generations', { provider: 'up', model: 'img-tokens' }, undefined, 1), null, 'no usage and no per-image price');
});

t.test('prompt-cache writes cost the cache-write rate (catalog or override), else the input rate', async (t) => {
  // Anthropic reports cache writes apart; the adapter counts them in the prompt tokens and in `cache_write_tokens`.
  const withWrites = (prompt: number, completion: number, cached: number, writes: number) => ({ ...usage(prompt, completion, cached), cache_write_tokens: writes });
  const p = pricer({ models: { 'up/no-write-price': { input_per_1m: 2, output_per_1m: 10 } } });
  // claude-sonnet-5-5: $2 in, $10 out, $0.10 cached, $2.50 cache write per 1M (catalog).
  t.equal(p.costOf('chat.completions', { provider: 'claude', model: 'claude-sonnet-5-5' }, withWrites(1000, 100, 200, 400), 1), 400n * 2n + (200n * 1n) / 10n + (400n * 25n) / 10n + 100n * 10n, '400 input + 200 cached + 400 written + 100 out');
  t.equal(p.costOf('chat.completions', { provider: 'up', model: 'no-write-price' }, withWrites(1000, 0, 0, 400), 1), 2000n, 'no cache-write price: the input rate');
  t.equal(p.costOf('chat.completions', { provider: 'claude', model: 'claude-sonnet-5-5' }, withWrites(100, 0, 0, 500), 1), 250n, 'writes beyond the prompt are capped at it');
});

t.test('1-hour cache writes cost the 1-hour rate, 5-minute ones the cache-write rate', async (t) => {
  // Anthropic splits `cache_creation_input_tokens` by TTL; the 1-hour part is `cache_write_1h_tokens`.
  const writes = (prompt: number, completion: number, all: number, oneHour: number) => ({ ...usage(prompt, completion, 0), cache_write_tokens: all, cache_write_1h_tokens: oneHour });
  const claude = { provider: 'claude', model: 'claude-sonnet-5-5' };
  const p = pricer({
    models: {
      'up/write-only': { input_per_1m: 2, output_per_1m: 10, cache_write_per_1m: 2.5 },
      'up/input-only': { input_per_1m: 2, output_per_1m: 10 },
      'up/own-1h': { input_per_1m: 2, output_per_1m: 10, cache_write_per_1m: 2.5, cache_write_1h_per_1m: 3 },
    },
  });
  // claude-sonnet-5-5 (catalog): $2 in, $2.50 per 1M 5-minute writes, $4 per 1M 1-hour writes (2 × input).
  t.equal(p.costOf('chat.completions', claude, writes(1000, 0, 1000, 1000), 1), 4000n, '1000 1-hour writes cost 2 × input');
  t.equal(p.costOf('chat.completions', claude, writes(1000, 0, 1000, 0), 1), 2500n, '1000 5-minute writes cost 1.25 × input');
  t.equal(p.costOf('chat.completions', claude, writes(1000, 100, 600, 200), 1), 400n * 2n + (400n * 25n) / 10n + 200n * 4n + 100n * 10n, '400 input + 400 5-minute + 200 1-hour + 100 out');
  t.equal(p.costOf('chat.completions', claude, writes(1000, 0, 300, 900), 1), 300n * 4n + 700n * 2n, '1-hour writes are capped at the writes');
  t.equal(p.costOf('chat.completions', { provider: 'up', model: 'write-only' }, writes(1000, 0, 1000, 1000), 1), 2500n, 'no 1-hour price: the cache-write rate');
  t.equal(p.costOf('chat.completions', { provider: 'up', model: 'input-only' }, writes(1000, 0, 1000, 1000), 1), 2000n, 'no cache-write prices: the input rate');
  t.equal(p.costOf('chat.completions', { provider: 'up', model: 'own-1h' }, writes(1000, 0, 1000, 400), 1), 600n * 25n / 10n + 400n * 3n, 'an override prices 1-hour writes at its own rate');
});

t.test('every Anthropic catalog model prices 1-hour cache writes at 2 × input', async (t) => {
  const ids = catalog.models('anthropic');
  t.ok(ids.length > 0);
  for (const id of ids) {
    const pricing = catalog.get('anthropic', id)?.pricing;
    t.equal(pricing?.cache_write_1h_per_1m, (pricing?.input_per_1m ?? NaN) * 2, id);
  }
});

t.test('a cache hit costs its cached usage at the first target, times the hit rate', async (t) => {
  const p = pricer({ models: { 'up/m': { input_per_1m: 1, output_per_1m: 2 } } });
  const target = { provider: 'up', model: 'm' };
  t.equal(p.hitCostOf('chat.completions', target, usage(10, 20), 1, 0n), 0n, 'rate 0: free');
  t.equal(p.hitCostOf('chat.completions', target, usage(10, 20), 1, 500_000n), 25n, 'rate 0.5: half of 50');
  t.equal(p.hitCostOf('chat.completions', target, usage(1, 0), 1, 500_000n), 1n, 'half a micro-unit rounds up');
  t.equal(p.hitCostOf('chat.completions', { provider: 'up', model: 'unpriced' }, usage(1, 0), 1, 500_000n), null, 'no price: unknown');
});
