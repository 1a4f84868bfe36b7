/** The `billing` config schema: defaults, accepted shapes, rejected ones. */
import t from 'tap';
import { readSchema, validateAt, formatPath } from '../../core/config/schema.js';

const schema = readSchema('plugins/billing');
const check = (config: unknown) => validateAt(schema, config, ['pipeline', 1, 'billing']).map((i) => `${formatPath(i.path)}: ${i.message}`);

t.test('an empty config gets the documented defaults', async (t) => {
  const config = {};
  t.same(check(config), []);
  t.same(config, { currency: 'USD', rates: {}, models: {}, providers: {}, cost_header: true, cache_hit_rate: 0, routes: {}, plans: {}, records: { enabled: true, flush_interval: '1s', batch_rows: 500, max_queued: 50000 },
    credits: { enabled: false, prompt_chars_per_token: 1, leases: { enabled: true, fraction: 0.0625, flush_interval: '1s' } },
    budgets: { enabled: false, soft_limit_percent: 80 },
  });
});

t.test('accepts credits, budgets and post-paid prices; refuses bad ceilings and soft limits', async (t) => {
  t.same(check({ credits: { enabled: true, max_reserve_micros: 5_000_000, prompt_chars_per_token: 4, reservation_ttl: '20m' }, budgets: { enabled: true, soft_limit_percent: 90 }, models: { m: { post_paid: true, input_per_1m: 1 } } }), []);
  t.match(check({ credits: { max_reserve_micros: 0 } })[0], /^pipeline\[1\]\.billing\.credits\.max_reserve_micros: /);
  t.match(check({ credits: { prompt_chars_per_token: 0 } })[0], /^pipeline\[1\]\.billing\.credits\.prompt_chars_per_token: /);
  t.match(check({ budgets: { soft_limit_percent: 120 } })[0], /^pipeline\[1\]\.billing\.budgets\.soft_limit_percent: /);
  t.match(check({ credits: { enable: true } })[0], /unknown field/);
});

t.test('accepts prices per model and provider, in other currencies, and free entries', async (t) => {
  t.same(
    check({
      currency: 'USD',
      rates: { RUB: 0.011 },
      models: { 'openai/gpt-4o-mini': { input_per_1m: 0.1, output_per_1m: 0.4, cached_input_per_1m: 0.05 }, 'dall-e-3': { per_image: 0.04 } },
      providers: { gigachat: { currency: 'RUB', input_per_1m: 200, output_per_1m: 200 }, local: { free: true } },
      records: { flush_interval: 250, batch_rows: 100, max_queued: 1000 },
    }),
    [],
  );
});

t.test('rejects unknown fields, bad currency codes, negative prices and a zero rate', async (t) => {
  t.match(check({ curency: 'USD' })[0], /^pipeline\[1\]\.billing\.curency: unknown field/);
  t.match(check({ currency: 'usd' })[0], /^pipeline\[1\]\.billing\.currency: /);
  t.match(check({ rates: { RUB: 0 } })[0], /^pipeline\[1\]\.billing\.rates\.RUB: /);
  t.match(check({ rates: { rub: 1 } })[0], /^pipeline\[1\]\.billing\.rates/);
  t.match(check({ models: { x: { input_per_1m: -1 } } })[0], /^pipeline\[1\]\.billing\.models\.x\.input_per_1m: /);
  t.match(check({ providers: { x: { price: 1 } } })[0], /^pipeline\[1\]\.billing\.providers\.x\.price: unknown field/);
  t.match(check({ records: { flush_interval: 'soon' } })[0], /^pipeline\[1\]\.billing\.records\.flush_interval: /);
  t.match(check({ records: { batch_rows: 0 } })[0], /^pipeline\[1\]\.billing\.records\.batch_rows: /);
});

t.test('accepts route prices, a cache-hit rate and plan grants; refuses bad ones', async (t) => {
  t.same(
    check({
      routes: { '/search/*': { per_request_micros: 100, per_byte_micros: 0.0001, max_response_bytes: '10mb' }, '/health-check': { free: true } },
      cache_hit_rate: 0.5,
      plans: { pro: { monthly_credits_micros: 5_000_000 } },
      models: { 'claude/x': { input_per_1m: 3, cache_write_per_1m: 3.75 } },
    }),
    [],
  );
  t.match(check({ cache_hit_rate: 1.5 })[0], /^pipeline\[1\]\.billing\.cache_hit_rate: /);
  t.match(check({ routes: { '/x': { per_request_micros: -1 } } })[0], /^pipeline\[1\]\.billing\.routes\["\/x"\]\.per_request_micros: must be >= 0/);
  t.match(check({ routes: { '/x': { max_response_bytes: 'lots' } } })[0], /\.max_response_bytes: must be a size/);
  t.match(check({ plans: { pro: {} } })[0], /monthly_credits_micros/);
  t.match(check({ plans: { pro: { monthly_credits_micros: 0 } } })[0], /monthly_credits_micros/);
});
