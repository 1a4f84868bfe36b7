/**
 * The plugin pipeline (core/pipeline.ts): onion order, early answers, the `next()` contract, and the
 * load-time rules a pipeline must follow (`requires`, terminal last, `kinds`, plugin config schemas),
 * each reported at file:line. Plugins are defined here with `definePlugin` and registered beside the
 * built-in ones, exactly as `plugins/index.ts` registers its own.
 */
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { definePlugin, type PluginDefinition, type PluginInstance, type PluginRegistry } from '../../core/plugin.js';
import { compose } from '../../core/pipeline.js';
import { compileStandalone } from '../../core/commands.js';
import { loadConfig, ConfigLoadError, formatIssue } from '../../core/config/load.js';
import { ConfigError } from '../../core/config/schema.js';
import { GatewayError } from '../../core/errors.js';
import type { Context } from '../../core/context.js';
import { builtinPlugins } from '../../plugins/index.js';
import { startGateway, openaiConfig } from '../helpers/gateway.js';
import { startMockOpenAI, type MockOpenAI } from '../helpers/mock-openai.js';

/** Every `before`/`after` step of the `trace` plugins, in the order they ran. */
const steps: string[] = [];
let closed = 0;

const trace = definePlugin<{ name: string }>({
  name: 'trace',
  schema: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: { type: 'string', description: 'Label.' } } },
  create(config) {
    return {
      async handle(ctx, next) {
        steps.push(`${config.name}:before`);
        await next();
        steps.push(`${config.name}:after`);
        const headers = ctx.response!.headers;
        headers['x-trail'] = headers['x-trail'] ? `${headers['x-trail']},${config.name}` : config.name;
      },
      close() {
        closed++;
      },
    };
  },
});

/** Answers without calling `next()`, like a cache hit. */
const answer = definePlugin<Record<string, never>>({
  name: 'answer',
  schema: { type: 'object', additionalProperties: false },
  create: () => ({
    async handle(ctx) {
      steps.push('answer');
      ctx.response = { status: 200, headers: {}, body: { answered: 'early' } };
    },
  }),
});

const needsTrace = definePlugin<Record<string, never>>({
  name: 'needs-trace',
  schema: { type: 'object' },
  requires: ['trace'],
  create: () => ({ handle: (_ctx, next) => next() }),
});

const proxyOnly = definePlugin<Record<string, never>>({
  name: 'proxy-only',
  schema: { type: 'object' },
  kinds: ['proxy'],
  create: () => ({ handle: (_ctx, next) => next() }),
});

/** `create()` checks what a schema cannot: `min` ≤ `max`. */
const range = definePlugin<{ min: number; max: number; fail?: boolean }>({
  name: 'range',
  schema: { type: 'object', properties: { min: { type: 'number' }, max: { type: 'number' }, fail: { type: 'boolean' } } },
  create(config) {
    if (config.fail) throw new Error('could not reach the license server');
    if (config.min > config.max) throw ConfigError.at(['min'], 'must not be greater than max');
    return { handle: (_ctx, next) => next() };
  },
});

const registry: PluginRegistry = new Map([...builtinPlugins, ...[trace, answer, needsTrace, proxyOnly, range].map((p) => [p.name, p as PluginDefinition<never>] as const)]);

let upstream: MockOpenAI;
let dir: string;
t.before(async () => {
  upstream = await startMockOpenAI();
  dir = await mkdtemp(join(tmpdir(), 'switchyard-pipeline-'));
});
t.afterEach(() => {
  upstream.reset();
  steps.length = 0;
});
t.teardown(async () => {
  await upstream.close();
  await rm(dir, { recursive: true, force: true });
});

const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] };
const post = (url: string, body: unknown = chat) => fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

t.test('plugins run in YAML order before next() and in reverse after it', async (t) => {
  const gw = await startGateway(openaiConfig(upstream.baseUrl, 'pipeline:\n  - trace: { name: a }\n  - trace: { name: b }\n  - trace: { name: c }\n  - route\n'), { plugins: registry });
  t.teardown(() => gw.close());
  const res = await post(gw.url);
  t.equal(res.status, 200);
  t.same(steps, ['a:before', 'b:before', 'c:before', 'c:after', 'b:after', 'a:after']);
  t.equal(res.headers.get('x-trail'), 'c,b,a', 'the response flows back up through each plugin');
  t.equal(upstream.requests.length, 1);
});

t.test('a plugin that answers early skips the rest of the pipeline, and those before it see its answer', async (t) => {
  const gw = await startGateway(openaiConfig(upstream.baseUrl, 'pipeline:\n  - trace: { name: a }\n  - answer\n  - trace: { name: b }\n  - route\n'), { plugins: registry });
  t.teardown(() => gw.close());
  const res = await post(gw.url);
  t.same(await res.json(), { answered: 'early' });
  t.equal(res.headers.get('x-trail'), 'a');
  t.same(steps, ['a:before', 'answer', 'a:after']);
  t.equal(upstream.requests.length, 0, 'route never ran');
});

t.test('instances close when their config version is retired', async (t) => {
  closed = 0;
  const gw = await startGateway(openaiConfig(upstream.baseUrl, 'pipeline:\n  - trace: { name: a }\n  - trace: { name: b }\n  - route\n'), { plugins: registry });
  await post(gw.url);
  t.equal(closed, 0);
  await gw.close();
  t.equal(closed, 2);
});

t.test('compose: calling next() twice rejects, and the terminal runs once', async (t) => {
  let terminalRuns = 0;
  const twice: PluginInstance = {
    async handle(_ctx, next) {
      await next();
      await next();
    },
  };
  const chain = compose([twice]);
  await t.rejects(
    chain({} as Context, async () => {
      terminalRuns++;
    }),
    { message: 'next() called more than once' },
  );
  t.equal(terminalRuns, 1);
});

t.test('compose: errors thrown below propagate up through next()', async (t) => {
  const seen: unknown[] = [];
  const outer: PluginInstance = {
    async handle(_ctx, next) {
      try {
        await next();
      } catch (err) {
        seen.push(err);
        throw err;
      }
    },
  };
  const denied = new GatewayError(403, 'permission_error', 'denied', 'no');
  const inner: PluginInstance = {
    async handle() {
      throw denied;
    },
  };
  const terminal = async () => {
    t.fail('terminal must not run');
  };
  await t.rejects(compose([outer, inner])({} as Context, terminal), denied);
  t.same(seen, [denied]);
});

/** Loads and compiles a config with the test registry; returns the formatted problems ([] when valid). */
async function problems(yaml: string): Promise<string[]> {
  const file = join(dir, `gateway-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(file, yaml);
  try {
    const loaded = await loadConfig(file, {});
    await compileStandalone(loaded, registry);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigLoadError)) throw err;
    return err.issues.map(formatIssue).map((m) => m.slice(m.indexOf('.yaml:') + 1));
  }
}

const head = 'version: 1\nproviders:\n  demo: { adapter: mock }\nmodels:\n  demo: { targets: [{ provider: demo }] }\n';

t.test('a requires rule broken by the order is a load error naming both plugins', async (t) => {
  t.same(await problems(`${head}pipeline:\n  - needs-trace\n  - trace: { name: a }\n  - route\n`), [
    "yaml:7:5: pipeline[0]: plugin 'needs-trace' requires 'trace' earlier in the same pipeline",
  ]);
  t.same(await problems(`${head}pipeline:\n  - needs-trace\n  - route\n`), ["yaml:7:5: pipeline[0]: plugin 'needs-trace' requires 'trace' earlier in the same pipeline"]);
  t.same(await problems(`${head}pipeline:\n  - trace: { name: a }\n  - needs-trace\n  - route\n`), [], 'in order it loads');
});

t.test('a required plugin with a config mistake is reported once, for its config', async (t) => {
  t.same(await problems(`${head}pipeline:\n  - trace: { nam: a }\n  - needs-trace\n  - route\n`), [
    "yaml:7:14: pipeline[0].trace.nam: unknown field 'nam' (did you mean 'name'?)",
  ]);
});

t.test('the terminal plugin must be last, and the pipeline must end with one', async (t) => {
  t.same(await problems(`${head}pipeline:\n  - route\n  - trace: { name: a }\n`), [
    "yaml:7:5: pipeline[0]: plugin 'route' answers every request itself, so it must be the last entry of the pipeline",
    'yaml:8:5: pipeline[1]: the pipeline must end with a terminal plugin such as `route`',
  ]);
  t.same(await problems(`${head}pipeline:\n  - trace: { name: a }\n`), ['yaml:7:5: pipeline[0]: the pipeline must end with a terminal plugin such as `route`']);
  t.same(await problems(`${head}pipeline: []\n`), ['yaml:6:1: pipeline: the pipeline must end with a terminal plugin such as `route`']);
});

t.test('an invalid last entry is reported for itself, not as a missing terminal', async (t) => {
  t.same(await problems(`${head}pipeline:\n  - trace: { name: a }\n  - route: { provider_prefix: maybe }\n`), ['yaml:8:14: pipeline[1].route.provider_prefix: must be boolean']);
});

t.test('a plugin used where its kinds do not allow is a load error', async (t) => {
  t.same(await problems(`${head}pipeline:\n  - proxy-only\n  - route\n`), ["yaml:7:5: pipeline[0]: plugin 'proxy-only' cannot run on model endpoints"]);
  t.same(await problems(`${head}routes:\n  - path: /search/*\n    upstream: http://127.0.0.1:9\n    pipeline: [proxy-only, route]\n`), [
    "yaml:9:28: routes[0].pipeline[1]: plugin 'route' cannot run on raw proxy routes",
  ]);
});

t.test('plugin config schema errors are located at the file line of the field', async (t) => {
  const yaml = `${head}pipeline:
  - trace:
      name: a
  - transform:
      rules:
        - request:
            remove: [__proto__]
  - route
`;
  const found = await problems(yaml);
  t.equal(found.length, 1, found.join('\n'));
  t.match(found[0], /^yaml:12:22: pipeline\[1\]\.transform\.rules\[0\]\.request\.remove\[0\]: /);
  t.same(await problems(`${head}pipeline:\n  - nothing-like-this\n  - route\n`).then((p) => p.map((m) => m.replace(/available: .*/, 'available: …'))), [
    "yaml:7:5: pipeline[0]: unknown plugin 'nothing-like-this'; available: …",
  ]);
});

t.test('a ConfigError from create() is located under the entry; any other failure names the plugin', async (t) => {
  t.same(await problems(`${head}pipeline:\n  - range:\n      min: 5\n      max: 1\n  - route\n`), ['yaml:8:7: pipeline[0].range.min: must not be greater than max']);
  t.same(await problems(`${head}pipeline:\n  - range: { min: 1, max: 2, fail: true }\n  - route\n`), [
    "yaml:7:5: pipeline[0].range: plugin 'range' failed to start: could not reach the license server",
  ]);
});
