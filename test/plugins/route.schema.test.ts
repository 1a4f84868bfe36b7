/**
 * `route` config: its plugin schema, the `models:` section it serves (gateway schema), and the
 * checks `route` makes at load time that a schema cannot express, reported at file:line.
 */
import t from 'tap';
import { readSchema, validateAt, formatPath } from '../../core/config/schema.js';
import { ConfigLoadError } from '../../core/config/load.js';
import { startGateway } from '../helpers/gateway.js';

const routeSchema = readSchema('plugins/route');
const gatewaySchema = readSchema('gateway');
const check = (schema: object, config: unknown, at: (string | number)[]) => validateAt(schema, config, at).map((i) => `${formatPath(i.path)}: ${i.message}`);

t.test('route accepts an empty config and fills in its defaults', async (t) => {
  const config = {};
  t.same(check(routeSchema, config, ['pipeline', 0, 'route']), []);
  t.same(config, {
    defaults: {},
    provider_prefix: true,
    provider_headers: true,
    max_attempts: 3,
    retries: 0,
    deadline: '3m',
    retry_on: ['connection', 'timeout', 429, '5xx', 'overloaded'],
    backoff: { base: '200ms', cap: '5s' },
    retry_after_cap: '10s',
    breaker: { enabled: true, failures: 5, failure_rate: 0.5, min_requests: 20, window: '30s', cooldown: '30s', half_open_probes: 1, shared: true },
    least_latency: { decay: 0.3, explore: 0.05 },
    cost: { completion_tokens: 256 },
  });
});

t.test('route refuses an unknown retry_on class, a zero attempt budget and a bad duration', async (t) => {
  t.match(check(routeSchema, { retry_on: ['400'] }, ['pipeline', 0, 'route']), [/^pipeline\[0\]\.route\.retry_on\[0\]: must be one of: connection, timeout, 429/]);
  t.same(check(routeSchema, { max_attempts: 0 }, ['pipeline', 0, 'route']), ['pipeline[0].route.max_attempts: must be >= 1']);
  t.equal(check(routeSchema, { deadline: 'soon' }, ['pipeline', 0, 'route']).length, 1);
  t.equal(check(routeSchema, { breaker: { failure_rate: 0 } }, ['pipeline', 0, 'route']).length, 1);
});

t.test('a model may set its own retry_on, retries, attempt budget and deadline', async (t) => {
  const config = withModels({ smart: { targets: [{ provider: 'a' }], retry_on: [429, '5xx', 'context_length'], retries: 0, max_attempts: 2, deadline: '20s' } });
  t.same(check(gatewaySchema, config, []), []);
  t.match(check(gatewaySchema, withModels({ smart: { targets: [{ provider: 'a' }], retry_on: ['400'] } }), []), [/^models\.smart\.retry_on\[0\]: must be one of/]);
});

t.test('route accepts per-endpoint default models and switches', async (t) => {
  const config = { defaults: { chat: 'gpt-4o-mini', embeddings: 'text-embedding-3-small' }, provider_prefix: false, provider_headers: false };
  t.same(check(routeSchema, config, ['pipeline', 0, 'route']), []);
});

t.test('route rejects unknown fields and wrong types, naming the path', async (t) => {
  t.same(check(routeSchema, { fallback: true }, ['pipeline', 1, 'route']), ["pipeline[1].route.fallback: unknown field 'fallback'"]);
  t.same(check(routeSchema, { defaults: { audio: 'whisper-1' } }, ['pipeline', 1, 'route']), ["pipeline[1].route.defaults.audio: unknown field 'audio'"]);
  t.same(check(routeSchema, { provider_prefix: 'sometimes' }, ['pipeline', 1, 'route']), ['pipeline[1].route.provider_prefix: must be boolean']);
  t.same(check(routeSchema, { defaults: { chat: ['a'] } }, ['pipeline', 1, 'route']), ['pipeline[1].route.defaults.chat: must be string']);
});

t.test('every route property has a description', async (t) => {
  const props = (routeSchema as { properties: Record<string, { description?: string; properties?: Record<string, { description?: string }> }> }).properties;
  for (const [k, v] of Object.entries(props)) {
    t.type(v.description, 'string', k);
    for (const [k2, v2] of Object.entries(v.properties ?? {})) t.type(v2.description, 'string', `${k}.${k2}`);
  }
});

const withModels = (models: unknown) => ({ version: 1, providers: { a: { adapter: 'mock' } }, models });

t.test('models: targets get default weight, strategy and aliases', async (t) => {
  const config = withModels({ m: { targets: [{ provider: 'a' }] } });
  t.same(check(gatewaySchema, config, []), []);
  t.same(config.models, { m: { targets: [{ provider: 'a', weight: 1 }], strategy: 'fallback', aliases: [] } });
});

t.test('models: rejects a model without targets, an unknown strategy and a negative weight', async (t) => {
  t.same(check(gatewaySchema, withModels({ m: {} }), []), ["models.m: missing required field 'targets'"]);
  t.same(check(gatewaySchema, withModels({ m: { targets: [] } }), []), ['models.m.targets: must NOT have fewer than 1 items']);
  t.same(check(gatewaySchema, withModels({ m: { targets: [{ provider: 'a' }], strategy: 'random' } }), []), ['models.m.strategy: must be one of: single, fallback, weighted, least-busy, least-latency, cost']);
  t.same(check(gatewaySchema, withModels({ m: { targets: [{ provider: 'a', weight: -1 }] } }), []), ['models.m.targets[0].weight: must be >= 0']);
  t.same(check(gatewaySchema, withModels({ m: { targets: [{ weight: 2 }] } }), []), ["models.m.targets[0]: missing required field 'provider'", "models.m.targets[0]: missing required field 'model'"]);
  t.same(check(gatewaySchema, withModels({ m: { targets: [{ model: 'other' }] } }), []), [], 'a target without provider names another model');
  t.same(check(gatewaySchema, withModels({ m: { targets: [{ provider: 'a', region: 'eu' }] } }), []), ["models.m.targets[0].region: unknown field 'region'"]);
});

async function loadError(yaml: string): Promise<string> {
  try {
    const gw = await startGateway(yaml);
    await gw.close();
  } catch (err) {
    if (err instanceof ConfigLoadError) return err.message;
    throw err;
  }
  throw new Error('the config loaded');
}

t.test('a target naming an unknown provider is a load error at its line', async (t) => {
  const message = await loadError(`version: 1
providers:
  a: { adapter: mock }
models:
  m:
    targets:
      - provider: nobody
`);
  t.match(message, /gateway\.yaml:7:\d+: models\.m\.targets\[0\]\.provider: unknown provider 'nobody'; configured: a/);
});

t.test('a default model that no key serves is a load error at its line', async (t) => {
  const message = await loadError(`version: 1
providers:
  a: { adapter: mock }
models:
  m: { targets: [{ provider: a }] }
pipeline:
  - route:
      defaults:
        chat: missing
`);
  t.match(message, /gateway\.yaml:9:\d+: pipeline\[0\]\.route\.defaults\.chat: default model 'missing' is not served by `models:`/);
});

t.test('a target naming an unknown model, a glob, or a cycle of models is a load error at its line; so is `single` with two targets', async (t) => {
  const message = await loadError(`version: 1
providers:
  a: { adapter: mock }
models:
  "a/*": { targets: [{ provider: a }] }
  smart: { targets: [{ provider: a, model: s }, { model: fsat }] }
  fast: { targets: [{ provider: a, model: f }, { model: loop }] }
  loop: { targets: [{ model: fast }] }
  globbed: { targets: [{ model: "a/*" }] }
  one: { strategy: single, targets: [{ provider: a }, { provider: a, model: x }] }
`);
  t.match(message, /gateway\.yaml:6:\d+: models\.smart\.targets\[1\]\.model: no model 'fsat' in `models:`.*did you mean 'fast'/);
  t.match(message, /gateway\.yaml:\d+:\d+: models\.(loop|fast)\.targets\[\d\]\.model: models may not name each other in a cycle: (loop → fast → loop|fast → loop → fast)/);
  t.match(message, /gateway\.yaml:9:\d+: models\.globbed\.targets\[0\]\.model: 'a\/\*' is a glob/);
  t.match(message, /gateway\.yaml:10:\d+: models\.one\.strategy: `single` takes exactly one target/);
  t.equal(message.split('\n').filter((l) => l.includes("'fsat'")).length, 1, 'each problem once, though two keys compile it');
});

t.test('an unknown adapter is a load error that lists the available ones', async (t) => {
  const message = await loadError(`version: 1
providers:
  a: { adapter: carrier-pigeon }
`);
  t.match(message, /gateway\.yaml:3:\d+: providers\.a\.adapter: unknown adapter 'carrier-pigeon'; available: openai, mock/);
});
