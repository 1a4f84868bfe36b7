/**
 * Config loading end to end (YAML → interpolation → schema → compile): what a valid file turns
 * into, and that every kind of mistake is reported as `file:line:col: path: message` pointing at the
 * exact place in the file. The YAML is written out line by line so the expected lines are visible.
 */
import t from 'tap';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig, ConfigLoadError, formatIssue, type LoadedConfig } from '../../core/config/load.js';
import { compileStandalone } from '../../core/commands.js';
import { packageRoot } from '../../core/config/schema.js';
import { builtinPlugins } from '../../plugins/index.js';

let dir: string;
let n = 0;
t.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-config-'));
});
t.teardown(() => rm(dir, { recursive: true, force: true }));

const yaml = (...lines: string[]) => `${lines.join('\n')}\n`;

async function writeConfig(text: string): Promise<string> {
  const file = join(dir, `gateway-${++n}.yaml`);
  await writeFile(file, text);
  return file;
}

/** Loads and compiles like `switchyard validate`; returns the loaded config or the formatted problems. */
async function check(text: string, env: NodeJS.ProcessEnv = {}): Promise<{ file: string; loaded?: LoadedConfig; problems: string[] }> {
  const file = await writeConfig(text);
  try {
    const loaded = await loadConfig(file, env);
    await compileStandalone(loaded, builtinPlugins);
    return { file, loaded, problems: [] };
  } catch (err) {
    if (!(err instanceof ConfigLoadError)) throw err;
    return { file, problems: err.issues.map(formatIssue) };
  }
}

t.test('interpolation', async (t) => {
  t.test('${VAR}, ${VAR:-default} and $${LITERAL} resolve in block and flow style', async (t) => {
    const { loaded, problems } = await check(
      yaml(
        'version: 1',
        'providers:',
        '  up:',
        '    adapter: openai',
        '    base_url: ${BASE:-http://127.0.0.1:9/v1}',
        '    api_key: ${KEY}',
        '  flow: { adapter: openai, api_key: ${KEY}, base_url: "${BASE:-http://x/v1}" }',
        'models:',
        '  m: { targets: [{ provider: up }], description: "cost $${PRICE} per ${UNIT:-token}" }',
      ),
      { KEY: 'sk-secret' },
    );
    t.same(problems, []);
    const c = loaded!.config;
    t.equal(c.providers['up']!['api_key'], 'sk-secret');
    t.equal(c.providers['up']!['base_url'], 'http://127.0.0.1:9/v1');
    t.same(c.providers['flow'], { adapter: 'openai', api_key: 'sk-secret', base_url: 'http://x/v1' });
    t.equal(c.models['m']!.description, 'cost ${PRICE} per token');
  });

  t.test('an empty variable falls back to its default', async (t) => {
    const { loaded } = await check(yaml('version: 1', 'server:', '  listen: ${LISTEN:-127.0.0.1:7000}'), { LISTEN: '' });
    t.equal(loaded!.config.server.listen, '127.0.0.1:7000');
  });

  t.test('a value with YAML syntax in it stays one string and cannot add structure', async (t) => {
    const value = 'a: b # c\nserver: {listen: "0.0.0.0:1"}';
    const { loaded, problems } = await check(
      yaml('version: 1', 'providers:', '  up: { adapter: openai, api_key: ${V} }', '  up2:', '    adapter: openai', '    api_key: ${V}'),
      { V: value },
    );
    t.same(problems, []);
    t.same(loaded!.config.providers['up'], { adapter: 'openai', api_key: value });
    t.same(loaded!.config.providers['up2'], { adapter: 'openai', api_key: value });
    t.equal(loaded!.config.server.listen, '127.0.0.1:8080', 'server is untouched');
  });

  t.test('a number from the environment is coerced where the schema wants one', async (t) => {
    const { loaded } = await check(yaml('version: 1', 'upstream:', '  connections: ${CONNS}'), { CONNS: '12' });
    t.equal(loaded!.config.upstream.connections, 12);
  });

  t.test('a path that is wholly a variable resolves from the working directory, a written one from the file', async (t) => {
    const text = yaml(
      'version: 1',
      'stores: { sql: { pglite: "${DATA_DIR:-./data}" } }',
      'catalog: [${CATALOG_DIR}, ./catalog-env, "${CATALOG_BASE:-.}/catalog-env"]',
      'pipeline:',
      '  - use: ${PLUGIN}',
      '  - route',
    );
    const file = await writeConfig(text);
    await mkdir(join(dir, 'catalog-env'), { recursive: true });
    const env = { DATA_DIR: './mydata', CATALOG_DIR: 'cats', CATALOG_BASE: 'base', PLUGIN: 'plugins/p.ts' };
    const loaded = await loadConfig(file, env).catch((e: unknown) => e);
    // The catalog directories from the environment do not exist (the error names where they were looked for).
    t.ok(loaded instanceof ConfigLoadError);
    t.match((loaded as Error).message, `${resolve('cats')}: cannot read catalog directory`);
    t.match((loaded as Error).message, `${join(dir, 'base', 'catalog-env')}: cannot read catalog directory`, 'a variable inside a longer path: relative to the file');

    const ok = await loadConfig(file, { ...env, CATALOG_DIR: join(dir, 'catalog-env'), CATALOG_BASE: '' });
    t.same(ok.config.stores.sql, { pglite: resolve('mydata') }, 'the data directory is under the working directory');
    t.same(ok.config.catalog, [join(dir, 'catalog-env'), './catalog-env', './catalog-env'], 'absolute and written paths unchanged');
    t.same(ok.config.pipeline[0], { use: resolve('plugins/p.ts') });

    const defaults = await loadConfig(await writeConfig(yaml('version: 1', 'stores: { sql: { pglite: "${DATA_DIR:-./data}" } }')), {});
    t.same(defaults.config.stores.sql, { pglite: './data' }, 'a default written in the file stays relative to the file');
    const memory = await loadConfig(await writeConfig(yaml('version: 1', 'stores: { sql: { pglite: "${DATA_DIR}" } }')), { DATA_DIR: 'memory' });
    t.same(memory.config.stores.sql, { pglite: 'memory' });
  });

  t.test('SWITCHYARD_DATA_DIR=./mydata puts the default config\'s database under the working directory', async (t) => {
    const loaded = await loadConfig(join(packageRoot(), 'config', 'gateway.yaml'), { SWITCHYARD_DATA_DIR: './mydata' });
    t.same(loaded.config.stores.sql, { pglite: resolve('mydata') });
    const unset = await loadConfig(join(packageRoot(), 'config', 'gateway.yaml'), {});
    t.same(unset.config.stores.sql, { pglite: '../data' }, 'unset: ./data of the checkout, next to config/');
  });

  t.test('a missing variable is an error naming it at its file:line:col, every one of them', async (t) => {
    const { file, problems } = await check(
      yaml(
        'version: 1', //                                   1
        'providers:', //                                   2
        '  up:', //                                        3
        '    adapter: openai', //                          4
        '    api_key: ${OPENAI_KEY}', //                   5
        'pipeline:', //                                    6
        '  - transform:', //                               7
        '      rules:', //                                 8
        '        - request:', //                           9
        '            system_prompt: |', //                 10
        '              You work for $${COMPANY}.', //      11
        '              Team: ${TEAM}', //                  12
        '  - route', //                                    13
      ),
    );
    t.same(problems, [
      `${file}:5:14: environment variable OPENAI_KEY is not set or empty (write \${OPENAI_KEY:-default} to give it a default)`,
      `${file}:12:21: environment variable TEAM is not set or empty (write \${TEAM:-default} to give it a default)`,
    ]);
  });
});

t.test('schema errors name file, line, column and field path', async (t) => {
  t.test('unknown field in server', async (t) => {
    const { file, problems } = await check(yaml('version: 1', 'server:', '  listen: 127.0.0.1:0', '  bodylimit: 1mb'));
    t.same(problems, [`${file}:4:3: server.bodylimit: unknown field 'bodylimit' (did you mean 'body_limit'?)`]);
  });

  t.test('a typo leads with the unknown field and its nearest name, without the noise it causes', async (t) => {
    const { file, problems } = await check(
      yaml('version: 1', 'providers: { demo: { adapter: mock } }', 'models: { demo: { targets: [{ provider: demo }] } }', 'pipeline:', '  - rate-limit:', '      limits:', '        - { per: key, rmp: 600 }', '  - route'),
    );
    t.same(problems, [`${file}:7:23: pipeline[0].rate-limit.limits[0].rmp: unknown field 'rmp' (did you mean 'rpm'?)`]);
    const plain = await check(yaml('version: 1', 'stores:', '  kv: { rdis: "redis://127.0.0.1:6379" }'));
    t.same(plain.problems, [`${plain.file}:3:9: stores.kv.rdis: unknown field 'rdis' (did you mean 'redis'?)`], 'names from every anyOf branch');
    const far = await check(yaml('version: 1', 'server:', '  colour: blue'));
    t.same(far.problems, [`${far.file}:3:3: server.colour: unknown field 'colour'`], 'no suggestion when nothing is close');
  });

  t.test('monthly budgets are refused: nothing enforces them yet', async (t) => {
    const { file, problems } = await check(
      yaml('version: 1', 'pipeline:', '  - auth:', '      keys: [static]', '      static:', '        - { name: ci, key: k, org: o, limits: { monthly_budget_micros: 5000000 } }', '  - route'),
    );
    t.equal(problems.length, 1);
    t.match(problems[0], `${file}:6:`);
    t.match(problems[0], 'pipeline[0].auth.static[0].limits.monthly_budget_micros: monthly budgets are not supported yet');
  });

  t.test('wrong type for body_limit', async (t) => {
    const { file, problems } = await check(yaml('version: 1', 'server:', '  access_log: true', '  body_limit: [4, mb]'));
    t.same(problems, [`${file}:4:3: server.body_limit: must be string or integer`]);
  });

  t.test('a size that is not a size', async (t) => {
    const { file, problems } = await check(yaml('version: 1', 'server:', '  body_limit: 4 megabytes'));
    t.same(problems, [`${file}:3:3: server.body_limit: must be a size such as '512kb', '4mb' or a number of bytes`]);
  });

  t.test('bad duration, also one too long for a timer', async (t) => {
    const { file, problems } = await check(yaml('version: 1', 'server:', '  headers_timeout: 10 parsecs', 'upstream:', '  total_timeout: 1000h'));
    t.equal(problems.length, 2);
    t.match(problems[0], `${file}:3:3: server.headers_timeout: must be a duration such as '500ms'`);
    t.match(problems[1], `${file}:5:3: upstream.total_timeout: must be a duration`);
  });

  t.test('every problem in the file is reported at once', async (t) => {
    const { file, problems } = await check(yaml('version: 2', 'server:', '  listen: 1', '  nope: true', 'log: { level: loud }'));
    t.same(problems, [
      `${file}:1:1: version: must be equal to constant`,
      `${file}:4:3: server.nope: unknown field 'nope'`,
      `${file}:5:8: log.level: must be one of: trace, debug, info, warn, error, fatal, silent`,
    ]);
  });

  t.test('unknown plugin name in pipeline', async (t) => {
    const { file, problems } = await check(yaml('version: 1', 'pipeline:', '  - transfrom: { rules: [] }', '  - route'));
    t.equal(problems.length, 1);
    t.match(problems[0], `${file}:3:5: pipeline[0].transfrom: unknown plugin 'transfrom'; available: `);
  });

  t.test('a plugin config error deep inside transform rules', async (t) => {
    const { file, problems } = await check(
      yaml(
        'version: 1', //                                           1
        'providers: { demo: { adapter: mock } }', //               2
        'models: { demo: { targets: [{ provider: demo }] } }', //  3
        'pipeline:', //                                            4
        '  - transform:', //                                       5
        '      rules:', //                                         6
        '        - response:', //                                  7
        '            headers: { set: { x-a: ok } }', //            8
        '        - match:', //                                     9
        '            endpoints: [chat.completions, chat]', //      10
        '          request:', //                                   11
        '            headers:', //                                 12
        '              add: { x-b: one }', //                      13
        '  - route', //                                            14
      ),
    );
    t.equal(problems.length, 2);
    t.match(problems[0], `${file}:10:43: pipeline[0].transform.rules[1].match.endpoints[1]: must be one of: chat.completions,`);
    t.equal(problems[1], `${file}:13:15: pipeline[0].transform.rules[1].request.headers.add: unknown field 'add'`);
  });

  t.test('unknown provider referenced by a model target', async (t) => {
    const { file, problems } = await check(
      yaml('version: 1', 'providers:', '  demo: { adapter: mock }', 'models:', '  smart:', '    targets:', '      - provider: demo', '      - provider: ghost'),
    );
    t.same(problems, [`${file}:8:9: models.smart.targets[1].provider: unknown provider 'ghost'; configured: demo`]);
  });

  t.test('unknown adapter', async (t) => {
    const { file, problems } = await check(yaml('version: 1', 'providers:', '  local:', '    adapter: olama', '    base_url: http://127.0.0.1:11434'));
    t.equal(problems.length, 1);
    t.match(problems[0], `${file}:4:5: providers.local.adapter: unknown adapter 'olama'; available: `);
  });

  t.test("an adapter's own setting", async (t) => {
    const { file, problems } = await check(yaml('version: 1', 'providers:', '  demo:', '    adapter: mock', '    latency: soon'));
    t.match(problems, [`${file}:5:5: providers.demo.latency: must be a duration`]);
  });
});

t.test('YAML syntax errors give the line', async (t) => {
  const tab = await check(yaml('version: 1', 'server:', '\tlisten: 127.0.0.1:0'));
  t.equal(tab.problems.length, 1);
  t.match(tab.problems[0], `${tab.file}:3:1: YAML syntax error: `);
  const dup = await check(yaml('version: 1', 'models: {}', 'version: 1'));
  t.same(dup.problems, [`${dup.file}:3:1: YAML syntax error: Map keys must be unique`]);
  const flow = await check(yaml('version: 1', 'providers: { demo: { adapter: mock }', 'models: {}'));
  t.ok(flow.problems.length >= 1);
  t.match(flow.problems[0], new RegExp(`^${flow.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:[23]:\\d+: YAML syntax error: `));
});

t.test('a file that is not a mapping, or missing, is a clear error', async (t) => {
  const empty = await check('');
  t.same(empty.problems, [`${empty.file}:1:1: the config must be a YAML mapping with at least \`version: 1\``]);
  const missing = join(dir, 'nope.yaml');
  const err = await loadConfig(missing, {}).catch((e: unknown) => e);
  t.ok(err instanceof ConfigLoadError);
  t.match((err as Error).message, `${missing}: cannot read config: `);
});

t.test('route must be the last pipeline entry', async (t) => {
  const { file, problems } = await check(
    yaml('version: 1', 'pipeline:', '  - route', '  - transform:', '      rules: [{ response: { headers: { set: { x-a: b } } } }]'),
  );
  t.same(problems, [
    `${file}:3:5: pipeline[0]: plugin 'route' answers every request itself, so it must be the last entry of the pipeline`,
    `${file}:4:5: pipeline[1]: the pipeline must end with a terminal plugin such as \`route\``,
  ]);
});

t.test('a catalog file with a bad field is reported at its own file and line', async (t) => {
  const catDir = join(dir, 'catalog-bad');
  await mkdir(catDir);
  const catFile = join(catDir, 'acme.yaml');
  await writeFile(catFile, yaml('provider: acme', 'models:', '  acme-1:', '    mode: chat', '    context_window: 8192', '    max_ouput_tokens: 1024'));
  const { problems } = await check(yaml('version: 1', 'catalog: [./catalog-bad]'));
  t.same(problems, [`${catFile}:6:5: models.acme-1.max_ouput_tokens: unknown field 'max_ouput_tokens' (did you mean 'max_output_tokens'?)`]);

  const gone = await check(yaml('version: 1', 'catalog: [./no-such-dir]'));
  t.equal(gone.problems.length, 1);
  t.match(gone.problems[0], `${join(dir, 'no-such-dir')}: cannot read catalog directory: `);
});

t.test('a valid extra catalog directory adds and overrides entries', async (t) => {
  const catDir = join(dir, 'catalog-good');
  await mkdir(catDir);
  await writeFile(join(catDir, 'mock.yaml'), yaml('provider: mock', 'models:', '  demo:', '    context_window: 999'));
  const { loaded, problems } = await check(yaml('version: 1', 'catalog: [./catalog-good]'));
  t.same(problems, []);
  t.equal(loaded!.catalog.get('mock', 'demo')?.context_window, 999);
  t.equal(loaded!.catalog.get('mock', 'demo-embed')?.mode, 'embedding', 'built-in entries remain');
});
