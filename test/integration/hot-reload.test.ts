/**
 * Hot reload against a real gateway watching a real directory: edits apply within a second, bad
 * edits are rejected while the old version keeps serving, every way of replacing the file is seen
 * (editor rename, Kubernetes ConfigMap symlink swap, a directory symlink switched, a file symlink
 * re-pointed, delete and re-create), and requests in flight finish on the version they started with.
 */
import t, { type Test } from 'tap';
import { mkdtemp, mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

/** A mock-provider config whose responses carry `x-config: <tag>`; `demo` adds mock settings, `pipelineHead` plugins before transform. */
function config(tag: string, options: { models?: string[]; demo?: string; pipelineHead?: string[] } = {}): string {
  const models = ['demo', ...(options.models ?? [])].map((m) => `  ${m}: { targets: [{ provider: demo, model: demo }] }`);
  return [
    'version: 1',
    'providers:',
    `  demo: { adapter: mock${options.demo ? `, ${options.demo}` : ''} }`,
    'models:',
    ...models,
    'pipeline:',
    ...(options.pipelineHead ?? []),
    '  - transform:',
    `      rules: [{ response: { headers: { set: { x-config: "${tag}" } } } }]`,
    '  - route',
    '',
  ].join('\n');
}

const chatBody = (stream = false) => JSON.stringify({ model: 'demo', stream, messages: [{ role: 'user', content: 'one two three' }] });

function chat(url: string, stream = false): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chatBody(stream) });
}

async function configTag(url: string): Promise<string | null> {
  const res = await chat(url);
  await res.arrayBuffer();
  return res.headers.get('x-config');
}

/**
 * Polls `probe` until it returns true; fails the test if that takes longer than `ms` from `since`.
 * The default is generous (other test files share the CPU); the one-second promise is tested with `ms: 1000`.
 */
async function until(t: Test, what: string, probe: () => Promise<boolean> | boolean, since = performance.now(), ms = 3000): Promise<boolean> {
  while (performance.now() - since < ms) {
    if (await probe()) return t.pass(`${what} within ${Math.round(performance.now() - since)} ms`);
    await sleep(20);
  }
  return t.fail(`${what}: not observed within ${ms} ms`);
}

async function metric(url: string, result: 'ok' | 'failed'): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^switchyard_config_reloads_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

const rejections = (gw: TestGateway) => gw.logs.filter((l) => l['msg'] === 'config rejected; still serving the previous version');

let gw: TestGateway;
t.beforeEach(async () => {
  gw = await startGateway(config('a'), { watch: true });
});
t.afterEach(() => gw.close());

t.test('a valid edit takes effect within a second of the write', async (t) => {
  t.equal(await configTag(gw.url), 'a');
  const since = performance.now();
  await gw.write(config('b', { models: ['demo-2'] }));
  await until(t, 'new model listed', async () => {
    const body = (await (await fetch(`${gw.url}/v1/models`)).json()) as { data: { id: string }[] };
    return body.data.some((m) => m.id === 'demo-2');
  }, since, 1000);
  t.equal(await configTag(gw.url), 'b', 'transform header changed too');
  t.equal(gw.gateway.current().id, 1, 'exactly one new version');
  t.ok(gw.logs.some((l) => l['msg'] === 'config reloaded' && l['version'] === 1));
  t.equal(await metric(gw.url, 'ok'), 1);
});

t.test('an editor saving by rename is seen', async (t) => {
  const since = performance.now();
  await writeFile(`${gw.file}.tmp`, config('renamed'));
  await rename(`${gw.file}.tmp`, gw.file);
  await until(t, 'renamed file applied', async () => (await configTag(gw.url)) === 'renamed', since);
});

t.test('a syntax error is rejected with file:line, the old version keeps serving, and a fix applies', async (t) => {
  const failedBefore = await metric(gw.url, 'failed');
  const broken = config('broken').replace('  - route', '  - route\n  bad: [unclosed');
  const badLine = broken.split('\n').indexOf('  bad: [unclosed') + 1;
  let since = performance.now();
  await gw.write(broken);
  await until(t, 'rejection logged', () => rejections(gw).length === 1, since);
  const errors = rejections(gw)[0]!['errors'] as string[];
  t.match(errors[0], new RegExp(`^${escape(gw.file)}:${badLine}:\\d+: YAML syntax error: `));
  t.equal(await metric(gw.url, 'failed'), failedBefore + 1);
  t.equal(await configTag(gw.url), 'a', 'old config still serving');
  t.equal(gw.gateway.lastReload?.ok, false);
  const again = await gw.gateway.reload();
  t.equal(again.ok, false, 'the file is still broken');
  t.equal(rejections(gw).length, 1, 'the same broken file is logged once');
  t.equal(await metric(gw.url, 'failed'), failedBefore + 1, 'and counted once');

  since = performance.now();
  await gw.write(config('fixed'));
  await until(t, 'fixed file applied', async () => (await configTag(gw.url)) === 'fixed', since);
  t.equal(gw.gateway.lastReload?.ok, true);
  t.equal(await metric(gw.url, 'failed'), failedBefore + 1, 'no more failures');
});

t.test('a schema error is rejected naming file, line and field; the old version keeps serving', async (t) => {
  const broken = config('broken').replace('providers:', 'server:\n  body_limit: huge\nproviders:');
  let since = performance.now();
  await gw.write(broken);
  await until(t, 'rejection logged', () => rejections(gw).length === 1, since);
  t.same(rejections(gw)[0]!['errors'], [`${gw.file}:3:3: server.body_limit: must be a size such as '512kb', '4mb' or a number of bytes`]);
  t.equal(rejections(gw)[0]!['level'], 'error');
  t.equal(await metric(gw.url, 'failed'), 1);
  t.equal(await configTag(gw.url), 'a');

  // A plugin-level error (found while compiling, not by the gateway schema) is rejected the same way.
  since = performance.now();
  await gw.write(config('broken').replace('model: demo }', 'model: demo }, { provider: ghost }'));
  await until(t, 'second rejection logged', () => rejections(gw).length === 2, since);
  t.match((rejections(gw)[1]!['errors'] as string[])[0], `${gw.file}:5:56: models.demo.targets[1].provider: unknown provider 'ghost'`);
  t.equal(await metric(gw.url, 'failed'), 2);

  // Going back to the serving content is a recovery too, not a silent no-op.
  since = performance.now();
  await gw.write(config('a'));
  await until(t, 'status back to ok', () => gw.gateway.lastReload?.ok === true, since);
  t.equal(gw.gateway.current().id, 0, 'still the first version: nothing changed');
  await gw.write(config('c'));
  await until(t, 'later edit applied', async () => (await configTag(gw.url)) === 'c');
});

t.test('a catalog directory added by a reload is watched from then on', async (t) => {
  const catalog = await mkdtemp(join(tmpdir(), 'switchyard-catalog-'));
  t.teardown(() => rm(catalog, { recursive: true, force: true }));
  const entry = (tokens: number) => `provider: mock\nmodels:\n  demo: { context_window: ${tokens} }\n`;
  const contextWindow = async () => ((await (await fetch(`${gw.url}/v1/models/demo`)).json()) as { context_window?: number }).context_window;
  await writeFile(join(catalog, 'mock.yaml'), entry(1000));
  await gw.write(`${config('a')}catalog: [${JSON.stringify(catalog)}]\n`);
  await until(t, 'catalog applied', async () => (await contextWindow()) === 1000);
  const since = performance.now();
  await writeFile(join(catalog, 'mock.yaml'), entry(2000));
  await until(t, 'catalog edit applied', async () => (await contextWindow()) === 2000, since);
});

t.test('a Kubernetes ConfigMap update (..data symlink swap) is seen', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'switchyard-configmap-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  await mkdir(join(root, '..2026_01'));
  await writeFile(join(root, '..2026_01', 'gateway.yaml'), config('v1'));
  await symlink('..2026_01', join(root, '..data'));
  await symlink('..data/gateway.yaml', join(root, 'gateway.yaml'));
  const k8s = await startGateway(config('unused'), { watch: true, configFile: join(root, 'gateway.yaml') });
  t.teardown(() => k8s.close());
  t.equal(await configTag(k8s.url), 'v1');

  for (const [from, to, tag] of [['..2026_01', '..2026_02', 'v2'], ['..2026_02', '..2026_03', 'v3']] as const) {
    const since = performance.now();
    await mkdir(join(root, to));
    await writeFile(join(root, to, 'gateway.yaml'), config(tag));
    await symlink(to, join(root, '..data_tmp'));
    await rename(join(root, '..data_tmp'), join(root, '..data'));
    await rm(join(root, from), { recursive: true });
    await until(t, `ConfigMap ${tag} applied`, async () => (await configTag(k8s.url)) === tag, since);
  }
  t.equal(rejections(k8s).length, 0, 'no half-swapped state was ever loaded');
});

/** A temp directory removed when `t` ends. */
async function scratch(t: Test, name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `switchyard-${name}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts a gateway that reads and watches `file` (already written). */
async function watching(t: Test, file: string): Promise<TestGateway> {
  const g = await startGateway(config('unused'), { watch: true, configFile: file });
  t.teardown(() => g.close());
  return g;
}

/** Runs `replace` for tags 1..n, each must become the serving config; stops at the first one missed. */
async function everyReplacementApplies(t: Test, g: TestGateway, n: number, replace: (tag: string, i: number) => Promise<void>): Promise<void> {
  let applied = 0;
  for (let i = 1; i <= n; i++) {
    const tag = `r${i}`;
    const since = performance.now();
    await replace(tag, i);
    if (!(await until(t, `replacement ${i} applied`, async () => (await configTag(g.url)) === tag, since))) break;
    applied++;
  }
  t.equal(applied, n, `all ${n} replacements applied`);
}

t.test('switching a directory symlink between existing directories reloads every time', async (t) => {
  // <root>/current -> v1 | v2 (both exist); the gateway reads <root>/current/gateway.yaml.
  const root = await scratch(t, 'symlink-dir');
  await mkdir(join(root, 'v1'));
  await mkdir(join(root, 'v2'));
  await writeFile(join(root, 'v1', 'gateway.yaml'), config('r0'));
  await symlink('v1', join(root, 'current'));
  const g = await watching(t, join(root, 'current', 'gateway.yaml'));
  t.equal(await configTag(g.url), 'r0');
  await everyReplacementApplies(t, g, 20, async (tag, i) => {
    const target = i % 2 ? 'v2' : 'v1';
    await writeFile(join(root, target, 'gateway.yaml'), config(tag));
    if (i % 4 < 2) {
      // ln -sfn v2 current.tmp && mv -T current.tmp current
      await symlink(target, join(root, 'current.tmp'));
      await rename(join(root, 'current.tmp'), join(root, 'current'));
    } else {
      // ln -sfn v2 current
      await rm(join(root, 'current'));
      await symlink(target, join(root, 'current'));
    }
  });
  t.equal(rejections(g).length, 0, 'no half-switched state was ever loaded');
  // An edit in place in the directory the symlink now points to applies too.
  const since = performance.now();
  await writeFile(join(root, 'current', 'gateway.yaml'), config('in-place'));
  await until(t, 'in-place edit behind the symlink applied', async () => (await configTag(g.url)) === 'in-place', since);
});

t.test('re-pointing a symlinked config file, renaming over it, writing it in place, recreating it or its directory all reload', async (t) => {
  const root = await scratch(t, 'symlink-file');
  const file = join(root, 'gateway.yaml');
  await writeFile(join(root, 'a.yaml'), config('r0'));
  await symlink('a.yaml', file);
  const g = await watching(t, file);
  t.equal(await configTag(g.url), 'r0');
  let target = 'a.yaml';
  const ways: ((tag: string) => Promise<void>)[] = [
    // Re-pointed atomically to another file that already exists (ln -sfn b.yaml gateway.yaml.tmp && mv -T …).
    async (tag) => {
      target = target === 'a.yaml' ? 'b.yaml' : 'a.yaml';
      await writeFile(join(root, target), config(tag));
      await symlink(target, `${file}.tmp`);
      await rename(`${file}.tmp`, file);
    },
    // Replaced by a regular file renamed over it (an editor's atomic save).
    async (tag) => {
      await writeFile(`${file}.new`, config(tag));
      await rename(`${file}.new`, file);
    },
    // Written in place.
    (tag) => writeFile(file, config(tag)),
    // Deleted, then created again.
    async (tag) => {
      await rm(file);
      await writeFile(file, config(tag));
    },
    // Its whole directory deleted, then created again.
    async (tag) => {
      await rm(root, { recursive: true });
      await mkdir(root);
      await writeFile(file, config(tag));
    },
  ];
  await everyReplacementApplies(t, g, 15, (tag, i) => ways[(i - 1) % ways.length]!(tag));
});

t.test('20 reloads under concurrent load fail no request, and both versions answer', async (t) => {
  // Reloads are driven by reload() so that each one is known to have happened (the watcher's path is tested above).
  const loaded = await startGateway(config('a', { demo: 'chunk_delay: 2ms' }), { watch: false });
  t.teardown(() => loaded.close());
  const seen = new Map<string, number>();
  const failures: string[] = [];
  let stop = false;
  let completed = 0;
  const client = async (id: number) => {
    for (let i = 0; !stop && i < 10_000; i++) {
      const stream = (id + i) % 3 === 0;
      try {
        const res = await chat(loaded.url, stream);
        const text = await res.text();
        const ok = res.status === 200 && (stream ? text.endsWith('data: [DONE]\n\n') : text.includes('one two three'));
        if (!ok) failures.push(`${res.status} ${text.slice(0, 200)}`);
        const tag = res.headers.get('x-config') ?? 'none';
        seen.set(tag, (seen.get(tag) ?? 0) + 1);
        completed++;
      } catch (err) {
        failures.push(String(err));
      }
      // Leave the event loop (which the gateway shares with these clients) some room for the reloads.
      await sleep(5);
    }
  };
  const clients = Array.from({ length: 8 }, (_, id) => client(id));
  const results: string[] = [];
  for (let n = 0; n < 20; n++) {
    await loaded.write(config(n % 2 ? 'a' : 'b', { demo: 'chunk_delay: 2ms' }));
    const r = await loaded.gateway.reload();
    results.push(r.ok && r.changed ? `v${r.version}` : JSON.stringify(r));
    await sleep(20);
  }
  stop = true;
  await Promise.all(clients);
  t.same(results, Array.from({ length: 20 }, (_, n) => `v${n + 1}`), 'every reload swapped in a new version');
  t.same(failures, [], 'no request failed');
  t.ok(completed >= 40, `${completed} requests completed`);
  t.ok((seen.get('a') ?? 0) > 0 && (seen.get('b') ?? 0) > 0, `both configs answered: ${JSON.stringify([...seen])}`);
  t.same([...seen.keys()].filter((k) => k !== 'a' && k !== 'b'), [], 'every response came from one of the two configs');
});

t.test('requests in flight finish on their version, which closes only after the last one ends', async (t) => {
  const closedLog = join(gw.dir, 'closed.log');
  await writeFile(closedLog, '');
  await writeFile(
    join(gw.dir, 'closer.mjs'),
    [
      "import { appendFileSync } from 'node:fs';",
      'export default {',
      "  name: 'closer',",
      "  schema: { type: 'object', required: ['tag', 'log'], properties: { tag: { type: 'string' }, log: { type: 'string' } } },",
      '  create(config) {',
      '    return { handle: (ctx, next) => next(), close: () => appendFileSync(config.log, `${config.tag}\\n`) };',
      '  },',
      '};',
    ].join('\n'),
  );
  const closer = (tag: string) => [`  - use: ./closer.mjs`, `    config: { tag: ${tag}, log: "${closedLog}" }`];
  const closed = async () => (await readFile(closedLog, 'utf8')).split('\n').filter(Boolean);

  await gw.write(config('slow', { demo: 'latency: 1500ms', pipelineHead: closer('slow') }));
  await until(t, 'slow version live', async () => gw.gateway.current().id === 1);
  const slowVersion = gw.gateway.current();
  t.equal(slowVersion.loaded.config.providers['demo']!['latency'], '1500ms');

  const inFlight = chat(gw.url);
  const streaming = chat(gw.url, true);
  await until(t, 'both requests started', () => slowVersion.active >= 2);
  await gw.write(config('fast', { pipelineHead: closer('fast') }));
  // Reload now rather than after the watcher's debounce: the slow requests must still be running.
  await gw.gateway.reload();
  await until(t, 'fast version live', () => gw.gateway.current().id === 2);
  t.equal(await configTag(gw.url), 'fast', 'new requests use the new version');
  t.same(await closed(), [], 'the retired version is still open while its requests run');

  const res = await inFlight;
  t.equal(res.status, 200);
  t.equal(res.headers.get('x-config'), 'slow', 'answered by the version it started on');
  t.match(await res.json(), { choices: [{ message: { content: 'one two three' } }] });
  const stream = await streaming;
  t.equal(stream.headers.get('x-config'), 'slow');
  t.match(await stream.text(), /data: \[DONE\]\n\n$/);
  await until(t, 'retired version closed', async () => (await closed()).length > 0);
  t.same(await closed(), ['slow'], 'only the retired version closed, once');
});

t.test('closing the gateway during a reload closes the version being built too', async (t) => {
  const log = join(gw.dir, 'lifecycle.log');
  await writeFile(
    join(gw.dir, 'tracker.mjs'),
    [
      "import { appendFileSync } from 'node:fs';",
      'export default {',
      "  name: 'tracker',",
      "  schema: { type: 'object' },",
      '  async create(config) {',
      `    appendFileSync(${JSON.stringify(log)}, \`create \${config.tag}\\n\`);`,
      '    await new Promise((r) => setTimeout(r, 300));',
      `    return { handle: (ctx, next) => next(), close: () => appendFileSync(${JSON.stringify(log)}, \`close \${config.tag}\\n\`) };`,
      '  },',
      '};',
    ].join('\n'),
  );
  const tracked = (tag: string) => config(tag, { pipelineHead: ['  - use: ./tracker.mjs', `    config: { tag: ${tag} }`] });
  await gw.write(tracked('one'));
  await until(t, 'tracked version live', async () => gw.gateway.current().id === 1);
  await writeFile(log, '');
  await gw.write(tracked('two'));
  await until(t, 'second version being built', async () => (await readFile(log, 'utf8')).includes('create two'));
  await gw.gateway.close(500);
  const lines = async () => (await readFile(log, 'utf8')).split('\n').filter(Boolean).sort();
  t.same(await lines(), ['close one', 'close two', 'create two']);
  await gw.write(tracked('three'));
  await gw.gateway.reload();
  t.same(await lines(), ['close one', 'close two', 'create two'], 'a closed gateway builds nothing more');
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
