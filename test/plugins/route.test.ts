/**
 * Model resolution (`ModelTable`, plugins/route/resolve.ts): exact ids, aliases, globs,
 * `provider/model` ids and targets that name other models (the strategies: route.strategies.test.ts). Model configs go through the gateway schema first,
 * so they carry the same defaults as a loaded config.
 */
import t from 'tap';
import { ModelTable, type Provider, type Resolution } from '../../plugins/route/resolve.js';
import { adapters } from '../../plugins/route/providers/index.js';
import { readSchema, validateAt } from '../../core/config/schema.js';
import { Catalog } from '../../core/config/catalog.js';
import { createLogger } from '../../core/log.js';
import type { ModelConfig } from '../../core/config/types.js';

const gatewaySchema = readSchema('gateway');
const mock = adapters.get('mock')!;

function provider(name: string): Provider {
  const timeouts = { connectMs: 1000, firstByteMs: 1000, totalMs: 1000 };
  const adapter = mock.create({ latency: 0, chunk_delay: 0, words_per_chunk: 1, embedding_dimensions: 4 } as never, {
    provider: name,
    timeouts,
    catalog: new Catalog([], ''),
    log: createLogger({ level: 'silent' }),
  });
  return { name, adapter, catalog: 'mock' };
}

const providers = new Map(['openai', 'anthropic', 'local', 'a', 'b', 'c'].map((n) => [n, provider(n)]));

/** A table from a `models:` section as YAML would give it (schema defaults applied). */
function table(models: Record<string, unknown>, providerPrefix = true): ModelTable {
  const config = { version: 1, providers: Object.fromEntries([...providers.keys()].map((n) => [n, { adapter: 'mock' }])), models };
  const issues = validateAt(gatewaySchema, config, []);
  if (issues.length) throw new Error(JSON.stringify(issues));
  return new ModelTable(config.models as Record<string, ModelConfig>, providers, providerPrefix);
}

/** `provider:model` of each target, in order. */
const targets = (r: Resolution | undefined) => r?.targets.map((x) => `${x.provider.name}:${x.model}`);

t.test('an exact id resolves to its targets in order, with the id as the default upstream model', async (t) => {
  const models = table({
    'gpt-4o': { targets: [{ provider: 'openai' }, { provider: 'local', model: 'llama3' }] },
  });
  const r = models.resolve('gpt-4o');
  t.equal(r?.key, 'gpt-4o');
  t.same(targets(r), ['openai:gpt-4o', 'local:llama3']);
  t.equal(r?.targets[0]?.provider, providers.get('openai'));
});

t.test('aliases resolve to the model they belong to, which is what goes upstream', async (t) => {
  const models = table({ 'gpt-4o': { aliases: ['gpt4', 'smart'], targets: [{ provider: 'openai' }] } });
  for (const id of ['gpt4', 'smart']) {
    const r = models.resolve(id);
    t.equal(r?.key, 'gpt-4o', `${id} reports the canonical key`);
    t.same(targets(r), ['openai:gpt-4o']);
  }
  t.same(models.aliasesOf('gpt-4o'), ['gpt4', 'smart']);
  t.same(models.keys().map((k) => k.key), ['gpt-4o'], 'aliases are not listed as models of their own');
});

t.test('an alias never shadows a model listed under that id, whatever the order', async (t) => {
  const before = table({ fast: { targets: [{ provider: 'a' }] }, slow: { aliases: ['fast'], targets: [{ provider: 'b' }] } });
  const after = table({ slow: { aliases: ['fast'], targets: [{ provider: 'b' }] }, fast: { targets: [{ provider: 'a' }] } });
  for (const models of [before, after]) {
    t.same(targets(models.resolve('fast')), ['a:fast']);
    t.same(models.keys().map((k) => k.key).sort(), ['fast', 'slow'], 'both models are listed');
  }
});

t.test('provider/model resolves for a configured provider when provider_prefix is on', async (t) => {
  const models = table({});
  const r = models.resolve('anthropic/claude-sonnet-4-5');
  t.equal(r?.key, 'anthropic/*');
  t.same(targets(r), ['anthropic:claude-sonnet-4-5']);
  t.same(targets(models.resolve('openai/org/model')), ['openai:org/model'], 'only the first slash separates the provider');
  t.equal(models.resolve('nobody/gpt-4o'), undefined, 'unknown provider');
  t.equal(models.resolve('openai/'), undefined, 'empty model');
  t.equal(models.resolve('/gpt-4o'), undefined, 'empty provider');
});

t.test('provider/model does not resolve when provider_prefix is off', async (t) => {
  const models = table({ 'openai/gpt-4o': { targets: [{ provider: 'openai', model: 'gpt-4o' }] } }, false);
  t.equal(models.resolve('anthropic/claude-sonnet-4-5'), undefined);
  t.same(targets(models.resolve('openai/gpt-4o')), ['openai:gpt-4o'], 'an exact key with a slash still resolves');
});

t.test('a "provider/*" glob strips the prefix; other globs keep the full id', async (t) => {
  const models = table({
    'anthropic/*': { targets: [{ provider: 'anthropic' }] },
    'gpt-4o*': { targets: [{ provider: 'openai' }] },
    'llama-*-instruct': { targets: [{ provider: 'local' }] },
  });
  const r = models.resolve('anthropic/claude-haiku-4-5');
  t.equal(r?.key, 'anthropic/*');
  t.same(targets(r), ['anthropic:claude-haiku-4-5']);
  t.same(targets(models.resolve('gpt-4o-mini')), ['openai:gpt-4o-mini']);
  t.equal(models.resolve('gpt-4o-mini')?.key, 'gpt-4o*', 'the key is the glob, a bounded metrics label');
  t.same(targets(models.resolve('llama-3-8b-instruct')), ['local:llama-3-8b-instruct']);
  t.equal(models.resolve('llama-3-8b'), undefined, 'a glob matches the whole id');
  t.equal(models.resolve('anthropic/'), undefined, 'the * of a provider glob must match something');
  t.same(models.keys().filter((k) => k.glob).length, 3);
});

t.test('glob keys treat regex characters literally', async (t) => {
  const models = table({ 'v1.0-*': { targets: [{ provider: 'a' }] } });
  t.ok(models.resolve('v1.0-x'));
  t.equal(models.resolve('v1x0-x'), undefined, '. is not a wildcard');
});

t.test('the most specific glob wins, whatever the order in the file', async (t) => {
  const models = table({
    '*': { targets: [{ provider: 'c' }] },
    'anthropic/*': { targets: [{ provider: 'b' }] },
    'anthropic/claude-opus-*': { targets: [{ provider: 'a', model: 'opus' }] },
  });
  t.same(targets(models.resolve('anthropic/claude-opus-4')), ['a:opus']);
  t.same(targets(models.resolve('anthropic/claude-haiku-4-5')), ['b:claude-haiku-4-5']);
  t.same(targets(models.resolve('mistral-large')), ['c:mistral-large']);
  t.equal(models.resolve('mistral-large')?.key, '*');
});

t.test('exact ids win over globs, and globs over provider/model', async (t) => {
  const models = table({
    'openai/*': { targets: [{ provider: 'local' }] },
    'openai/gpt-4o': { targets: [{ provider: 'b', model: 'pinned' }] },
  });
  t.same(targets(models.resolve('openai/gpt-4o')), ['b:pinned']);
  t.same(targets(models.resolve('openai/gpt-4.1')), ['local:gpt-4.1'], 'the configured glob, not the openai provider');
});

t.test('an unknown id resolves to undefined', async (t) => {
  const models = table({ 'gpt-4o': { targets: [{ provider: 'openai' }] } });
  t.equal(models.resolve('gpt-4'), undefined);
  t.equal(models.resolve(''), undefined);
  t.equal(models.resolve('GPT-4O'), undefined, 'ids are case-sensitive');
  t.equal(models.resolve('__proto__'), undefined);
  t.equal(models.resolve('toString'), undefined);
});

t.test('a target without provider stands for another model: its targets join the list, each target once, in the order written', async (t) => {
  const models = table({
    fast: { strategy: 'weighted', targets: [{ provider: 'a', model: 'fa', weight: 3 }, { provider: 'b', model: 'fb' }] },
    smart: { aliases: ['clever'], targets: [{ provider: 'c', model: 'big' }, { model: 'fast' }, { provider: 'a', model: 'fa' }] },
    plain: { targets: [{ provider: 'a' }, { model: 'fast' }] },
  });
  t.same(targets(models.resolve('smart')), ['c:big', 'a:fa', 'b:fb'], 'fast expanded in place; a:fa listed once');
  t.same(targets(models.resolve('clever')), ['c:big', 'a:fa', 'b:fb']);
  t.same(targets(models.resolve('plain')), ['a:plain', 'a:fa', 'b:fb'], "a target's default model is its own key's id");
  const tree = models.trees().find((x) => x.key === 'smart')!.tree;
  t.match(tree, { kind: 'group', key: 'smart', strategy: 'fallback', members: [{ kind: 'leaf', index: 0 }, { kind: 'group', key: 'fast', strategy: 'weighted', members: [{ index: 1, weight: 3 }, { index: 2, weight: 1 }] }, { kind: 'leaf', index: 1 }] });
  t.equal(models.resolve('smart')!.targets, models.resolve('smart')!.targets, "an exact key's targets are built once, not per request");
});
