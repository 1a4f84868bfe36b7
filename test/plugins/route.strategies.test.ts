/**
 * The strategies on their own (`plugins/route/plans.ts`): a model table compiled from a `models:`
 * section (schema defaults applied), bound to process state as `route` binds it, and asked for the
 * order of many requests. No network: the orders are the behaviour.
 */
import t from 'tap';
import { ModelTable, type Provider } from '../../plugins/route/resolve.js';
import { Plan, estimateTokens, type PlanSettings } from '../../plugins/route/plans.js';
import { GroupRegistry, TargetRegistry } from '../../plugins/route/targets.js';
import { adapters } from '../../plugins/route/providers/index.js';
import { readSchema, validateAt } from '../../core/config/schema.js';
import { Catalog } from '../../core/config/catalog.js';
import { createLogger } from '../../core/log.js';
import type { ModelConfig } from '../../core/config/types.js';
import type { CatalogFile } from '../../schemas/types/catalog.js';

const gatewaySchema = readSchema('gateway');
const mock = adapters.get('mock')!;
const catalog = new Catalog(
  [
    {
      provider: 'mock',
      models: {
        cheap: { pricing: { input_per_1m: 0.1, output_per_1m: 10 } },
        mid: { pricing: { input_per_1m: 1, output_per_1m: 2 } },
        dear: { pricing: { input_per_1m: 5, output_per_1m: 15 } },
      },
    } as unknown as CatalogFile,
  ],
  '',
);

function provider(name: string): Provider {
  const adapter = mock.create({ latency: 0, chunk_delay: 0, words_per_chunk: 1, embedding_dimensions: 4 } as never, {
    provider: name,
    timeouts: { connectMs: 1000, firstByteMs: 1000, totalMs: 1000 },
    catalog,
    log: createLogger({ level: 'silent' }),
  });
  return { name, adapter, catalog: 'mock' };
}
const providers = new Map(['a', 'b', 'c', 'd'].map((n) => [n, provider(n)]));

const defaults: PlanSettings = {
  breaker: { enabled: true, failures: 3, failureRate: 0.5, minRequests: 20, windowMs: 30_000, cooldownMs: 60_000, probes: 1, shared: false },
  decay: 0.3,
  explore: 0.05,
  completionTokens: 256,
};

interface Bound {
  table: ModelTable;
  targets: TargetRegistry;
  groups: GroupRegistry;
  /** `provider:model` of each target of a request for `id`, in order. */
  order(id: string, body?: Record<string, unknown>): string[];
}

/** Compiles `models` and binds every key's plan to `state` (a fresh process, or an old one: a reload). */
function bind(models: Record<string, unknown>, settings: Partial<PlanSettings> = {}, state = { targets: new TargetRegistry(), groups: new GroupRegistry() }): Bound {
  const config = { version: 1, providers: Object.fromEntries([...providers.keys()].map((n) => [n, { adapter: 'mock' }])), models };
  const issues = validateAt(gatewaySchema, config, []);
  if (issues.length) throw new Error(JSON.stringify(issues));
  const table = new ModelTable(config.models as Record<string, ModelConfig>, providers, true);
  const plans = new Map(table.trees().map(({ key, tree, leaves }) => [key, new Plan(tree, leaves, state.targets, state.groups, { ...defaults, ...settings }, catalog)]));
  return {
    table,
    ...state,
    order(id, body = {}) {
      const r = table.resolve(id)!;
      const targets = r.targets.map((x) => ({ provider: x.provider.name, model: x.model }));
      return plans.get(r.key)!.order({ targets, body }).map((p) => `${p.provider.name}:${p.model}`);
    },
  };
}

function firsts(b: Bound, id: string, n: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const first = b.order(id)[0]!;
    out[first] = (out[first] ?? 0) + 1;
  }
  return out;
}

t.test('weighted: smooth weighted round-robin holds the shares within ±3% over 10,000 requests (exactly, in fact)', async (t) => {
  const b = bind({ mix: { strategy: 'weighted', targets: [{ provider: 'a', model: 'm', weight: 5 }, { provider: 'b', model: 'm', weight: 3 }, { provider: 'c', model: 'm', weight: 2 }] } });
  const counts = firsts(b, 'mix', 10_000);
  const share = (k: string) => counts[k]! / 10_000;
  t.ok(Math.abs(share('a:m') - 0.5) <= 0.03 && Math.abs(share('b:m') - 0.3) <= 0.03 && Math.abs(share('c:m') - 0.2) <= 0.03, JSON.stringify(counts));
  t.same(counts, { 'a:m': 5000, 'b:m': 3000, 'c:m': 2000 }, 'deterministic: every 10 requests hold exactly 5, 3 and 2');
  t.same(b.order('mix'), ['a:m', 'b:m', 'c:m'], 'after the pick, the rest in the order written');
});

t.test('weighted: the picks are spread, not bunched (nginx sequence for 5, 1, 1)', async (t) => {
  const b = bind({ w: { strategy: 'weighted', targets: [{ provider: 'a', model: 'm', weight: 5 }, { provider: 'b', model: 'm', weight: 1 }, { provider: 'c', model: 'm', weight: 1 }] } });
  const seq = Array.from({ length: 7 }, () => b.order('w')[0]!.slice(0, 1)).join('');
  t.equal(seq, 'aabacaa');
  const orders = new Set(Array.from({ length: 7 }, () => b.order('w').join()));
  t.same([...orders].sort(), ['a:m,b:m,c:m', 'b:m,a:m,c:m', 'c:m,a:m,b:m']);
});

t.test('weighted: fractional weights work, and weight 0 is a fallback only', async (t) => {
  const b = bind({ f: { strategy: 'weighted', targets: [{ provider: 'a', model: 'm', weight: 0.75 }, { provider: 'b', model: 'm', weight: 0.25 }, { provider: 'c', model: 'm', weight: 0 }] } });
  t.same(firsts(b, 'f', 400), { 'a:m': 300, 'b:m': 100 });
  t.same(b.order('f').slice(-1), ['c:m'], 'the zero-weight target is still in the list');
  const allZero = bind({ z: { strategy: 'weighted', targets: [{ provider: 'a', model: 'm', weight: 0 }, { provider: 'b', model: 'm', weight: 0 }] } });
  t.same(allZero.order('z'), ['a:m', 'b:m'], 'all zero: the order written');
});

t.test('weighted: a target whose breaker is open takes no first picks; the others keep their shares', async (t) => {
  const b = bind({ w: { strategy: 'weighted', targets: [{ provider: 'a', model: 'm', weight: 2 }, { provider: 'b', model: 'm', weight: 1 }, { provider: 'c', model: 'm', weight: 1 }] } });
  const a = b.targets.get('a', 'm').breaker;
  for (let i = 0; i < 3; i++) a.leave(a.enter(performance.now(), defaults.breaker), 'failure', performance.now(), defaults.breaker);
  t.equal(a.state, 'open');
  t.same(firsts(b, 'w', 100), { 'b:m': 50, 'c:m': 50 });
});

t.test('weighted: the round-robin state survives a reload (it is keyed by model and target, not by config version)', async (t) => {
  const models = { w: { strategy: 'weighted', targets: [{ provider: 'a', model: 'm', weight: 1 }, { provider: 'b', model: 'm', weight: 1 }] } };
  const before = bind(models);
  t.equal(before.order('w')[0], 'a:m');
  const after = bind(models, {}, { targets: before.targets, groups: before.groups });
  t.equal(after.order('w')[0], 'b:m', 'the new version continues the sequence');
});

t.test('least-busy: fewest calls in flight first; ties take turns', async (t) => {
  const b = bind({ lb: { strategy: 'least-busy', targets: [{ provider: 'a', model: 'm' }, { provider: 'b', model: 'm' }, { provider: 'c', model: 'm' }] } });
  b.targets.get('a', 'm').inFlight = 4;
  b.targets.get('b', 'm').inFlight = 1;
  b.targets.get('c', 'm').inFlight = 2;
  t.same(b.order('lb'), ['b:m', 'a:m', 'c:m']);
  b.targets.get('b', 'm').inFlight = 2;
  const tied = firsts(b, 'lb', 100);
  t.same(tied, { 'b:m': 50, 'c:m': 50 }, 'b and c tied at 2: alternately');
});

t.test('least-latency: never-measured first, then the lowest moving average; one request in 1/explore explores', async (t) => {
  const b = bind({ ll: { strategy: 'least-latency', targets: [{ provider: 'a', model: 'slow' }, { provider: 'b', model: 'fast' }] } }, { explore: 0.1 });
  const slow = b.targets.get('a', 'slow');
  const fast = b.targets.get('b', 'fast');
  slow.measured(500, 0.3, 1);
  t.equal(b.order('ll')[0], 'b:fast', 'never measured: tried first');
  fast.measured(100, 0.3, 2);
  const counts = { 'a:slow': 0, 'b:fast': 0 } as Record<string, number>;
  for (let i = 0; i < 100; i++) {
    const [first] = b.order('ll');
    counts[first!]!++;
    (first === 'a:slow' ? slow : fast).measured(first === 'a:slow' ? 500 : 100, 0.3, 3 + i);
  }
  t.equal(counts['a:slow'], 10, 'explore 0.1: exactly 10 of 100 go to the slow target');
  // The slow one recovers: exploration notices it and the average follows.
  for (let i = 0; i < 200; i++) {
    const [first] = b.order('ll');
    (first === 'a:slow' ? slow : fast).measured(first === 'a:slow' ? 20 : 100, 0.3, 200 + i);
  }
  t.equal(b.order('ll')[0], 'a:slow', 'the recovered target is now the fastest');
  t.ok(slow.latencyMs < 30, `its average came down: ${slow.latencyMs.toFixed(1)} ms`);
});

t.test('least-latency: a failure counts as at least twice the average', async (t) => {
  const b = bind({ ll: { strategy: 'least-latency', targets: [{ provider: 'a', model: 'x' }] } });
  const x = b.targets.get('a', 'x');
  x.failedAfter(1, 0.5, 1);
  t.ok(Number.isNaN(x.latencyMs), 'before any measurement a failure says nothing');
  x.measured(100, 0.5, 2);
  x.failedAfter(1, 0.5, 3);
  t.equal(x.latencyMs, 150, 'a fast failure moves the average up, towards 200');
});

t.test('cost: cheapest first for the estimated tokens; unpriced last', async (t) => {
  const b = bind({ c: { strategy: 'cost', targets: [{ provider: 'a', model: 'dear' }, { provider: 'b', model: 'unknown' }, { provider: 'c', model: 'cheap' }, { provider: 'd', model: 'mid' }] } });
  const longPrompt = { messages: [{ role: 'user', content: 'x'.repeat(40_000) }], max_tokens: 10 };
  t.same(b.order('c', longPrompt), ['c:cheap', 'd:mid', 'a:dear', 'b:unknown'], '10k prompt tokens, 10 out: input price decides');
  const longAnswer = { messages: [{ role: 'user', content: 'hi' }], max_tokens: 4000 };
  t.same(b.order('c', longAnswer), ['d:mid', 'c:cheap', 'a:dear', 'b:unknown'], '4000 out: output price decides');
  t.same(estimateTokens({ messages: [{ role: 'user', content: [{ type: 'text', text: 'abcdefgh' }] }] }, 256), [2, 256]);
  t.same(estimateTokens({ input: ['abcd', 'efgh'], max_completion_tokens: 7 }, 256), [2, 7]);
});

t.test('strategies compose: a weighted group whose members are fallback chains of other models', async (t) => {
  const b = bind({
    east: { targets: [{ provider: 'a', model: 'e1' }, { provider: 'b', model: 'e2' }] },
    west: { targets: [{ provider: 'c', model: 'w1' }, { provider: 'd', model: 'w2' }] },
    smart: { strategy: 'weighted', targets: [{ model: 'east', weight: 3 }, { model: 'west', weight: 1 }] },
  });
  const orders = Array.from({ length: 4 }, () => b.order('smart').join());
  t.same(orders.filter((o) => o === 'a:e1,b:e2,c:w1,d:w2').length, 3, 'east first 3 of 4, its chain before west');
  t.same(orders.filter((o) => o === 'c:w1,d:w2,a:e1,b:e2').length, 1);
  // A group is skipped for first pick only when none of its targets can take a call.
  for (const m of ['e1', 'e2']) {
    const br = b.targets.get(m === 'e1' ? 'a' : 'b', m).breaker;
    for (let i = 0; i < 3; i++) br.leave(br.enter(performance.now(), defaults.breaker), 'failure', performance.now(), defaults.breaker);
  }
  t.same(firsts(b, 'smart', 8), { 'c:w1': 8 }, 'east wholly open: west takes every first pick');
});

t.test('fallback over fixed targets: one order, built once, whatever the request', async (t) => {
  const b = bind({ f: { targets: [{ provider: 'a', model: 'x' }, { model: 'g' }] }, g: { targets: [{ provider: 'b', model: 'y' }] } });
  t.same(b.order('f'), ['a:x', 'b:y']);
  const r = b.table.resolve('f')!;
  const plan = new Plan(b.table.trees().find((x) => x.key === 'f')!.tree, b.table.trees().find((x) => x.key === 'f')!.leaves, b.targets, b.groups, defaults, catalog);
  const req = { targets: r.targets.map((x) => ({ provider: x.provider.name, model: x.model })), body: {} };
  t.equal(plan.order(req), plan.order(req), 'the same array each time: nothing allocated per request');
});

t.test('a glob key orders targets whose model is the request\'s', async (t) => {
  const b = bind({ 'any/*': { strategy: 'least-busy', targets: [{ provider: 'a' }, { provider: 'b' }] } });
  b.targets.get('a', 'foo').inFlight = 3;
  t.same(b.order('any/foo'), ['b:foo', 'a:foo']);
  t.same(b.order('any/bar').sort(), ['a:bar', 'b:bar']);
  t.notOk(b.targets.get('a', 'bar').configured, 'targets named by clients are not pinned');
});
