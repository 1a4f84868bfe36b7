import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { validate } from '../../core/commands.js';
import { parseDuration } from '../../core/config/units.js';
import { builtinPlugins } from '../../plugins/index.js';

const examplesDir = fileURLToPath(new URL('../../examples/', import.meta.url));
const notGatewayConfigs = new Set(['docker-compose.yaml', 'kubernetes.yaml', 'kubernetes-scaled.yaml']);
const gatewayConfigs = readdirSync(examplesDir)
  .filter((f) => f.endsWith('.yaml') && !notGatewayConfigs.has(f))
  .sort();

/** Stand-ins for the credentials the examples read; each must be required (no default) by the files that use it. */
const dummyEnv: Record<string, string> = {
  OPENAI_API_KEY: 'sk-test-openai',
  REDIS_URL: 'redis://127.0.0.1:1',
  DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
  AZURE_OPENAI_API_KEY: 'test-azure',
  AZURE_OPENAI_ENDPOINT: 'https://example-resource.openai.azure.com',
  OPENROUTER_API_KEY: 'sk-or-test',
  MISTRAL_API_KEY: 'test-mistral',
  GROQ_API_KEY: 'gsk_test',
  ANTHROPIC_API_KEY: 'sk-ant-test',
  GEMINI_API_KEY: 'test-gemini',
  COHERE_API_KEY: 'test-cohere',
  GIGACHAT_CREDENTIALS: 'dGVzdC1pZDp0ZXN0LXNlY3JldA==',
  YANDEX_FOLDER_ID: 'b1gtestfolder',
  YANDEX_API_KEY: 'AQVN-test-yandex',
};

const saved = Object.fromEntries(Object.keys(dummyEnv).map((k) => [k, process.env[k]]));
t.teardown(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

/** Provider fields holding a credential the gateway spends for its callers. */
const PROVIDER_CREDENTIALS = ['api_key', 'credentials', 'client_secret', 'iam_token'];
/** Request headers that carry a credential upstream. */
const CREDENTIAL_HEADERS = ['authorization', 'x-api-key', 'api-key'];

type Entry = string | Record<string, any>;
const pluginNames = (pipeline: Entry[] = []) => pipeline.map((e) => (typeof e === 'string' ? e : Object.keys(e)[0]!));

/**
 * Every pipeline of `config` that spends a provider credential and lacks `auth`: the model pipeline
 * when a provider holds a credential, and each raw route that sets a credential header upstream.
 */
function unauthenticatedSpenders(config: Record<string, any>): string[] {
  const found: string[] = [];
  const holdsKey = Object.values((config['providers'] ?? {}) as Record<string, Record<string, unknown>>).some((p) => PROVIDER_CREDENTIALS.some((f) => p[f] !== undefined));
  if (holdsKey && !pluginNames(config['pipeline']).includes('auth')) found.push('pipeline');
  for (const route of (config['routes'] ?? []) as { path: string; pipeline?: Entry[] }[]) {
    const sets = (route.pipeline ?? []).flatMap((e) => (typeof e === 'object' && e['transform'] ? (e['transform']['rules'] as any[]) : []))
      .flatMap((rule) => Object.keys(rule?.request?.headers?.set ?? {}).map((h) => h.toLowerCase()));
    if (sets.some((h) => CREDENTIAL_HEADERS.includes(h)) && !pluginNames(route.pipeline).includes('auth')) found.push(`routes ${route.path}`);
  }
  return found;
}

async function check(file: string): Promise<{ ok: boolean; output: string }> {
  const lines: string[] = [];
  const ok = await validate([file], builtinPlugins, (l) => lines.push(l));
  return { ok, output: lines.join('\n') };
}

t.test('the examples directory has the provider, fallback and raw-proxy configs', async (t) => {
  for (const name of ['openai', 'azure-openai', 'openrouter', 'mistral', 'groq', 'vllm', 'ollama', 'fallback', 'raw-proxy']) {
    t.ok(gatewayConfigs.includes(`${name}.yaml`), `${name}.yaml exists`);
  }
});

for (const name of gatewayConfigs) {
  const file = join(examplesDir, name);
  const text = readFileSync(file, 'utf8');
  const variables = Object.keys(dummyEnv).filter((v) => text.includes(`\${${v}}`));

  t.test(`${name} is a valid gateway config`, async (t) => {
    Object.assign(process.env, dummyEnv);
    const { ok, output } = await check(file);
    t.ok(ok, output);
    t.match(text, /^# yaml-language-server: \$schema=\.\.\/schemas\/gateway\.schema\.json\n#/, 'starts with the schema line and a header comment');
    t.match(text.split(/\nversion:/)[0], /https:\/\/\S+/, 'the header cites documentation');
  });

  t.test(`${name} makes callers authenticate wherever it spends a provider key`, async (t) => {
    t.same(unauthenticatedSpenders(parse(text) as Record<string, any>), []);
  });

  if (variables.length > 0) {
    t.test(`${name} refuses to load without its credentials (${variables.join(', ')})`, async (t) => {
      for (const variable of variables) {
        Object.assign(process.env, dummyEnv);
        delete process.env[variable];
        const { ok, output } = await check(file);
        t.notOk(ok, `invalid without ${variable}`);
        t.match(output, `environment variable ${variable} is not set`);
      }
    });
  }
}

t.test('the Kubernetes example serves a valid config from a directory mount and outlasts its drain', async (t) => {
  const docs = parseAllDocuments(readFileSync(join(examplesDir, 'kubernetes.yaml'), 'utf8')).map((d) => d.toJS() as Record<string, any>);
  const configMap = docs.find((d) => d['kind'] === 'ConfigMap')!;
  const deployment = docs.find((d) => d['kind'] === 'Deployment')!;
  t.ok(docs.some((d) => d['kind'] === 'Service'), 'has a Service');
  const gatewayYaml = configMap['data']['gateway.yaml'] as string;

  const dir = await mkdtemp(join(tmpdir(), 'switchyard-k8s-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'gateway.yaml'), gatewayYaml);
  const pod = deployment['spec']['template']['spec'];
  const container = pod['containers'][0];
  const env = Object.fromEntries((container['env'] as { name: string; value?: string }[]).map((e) => [e.name, e.value]));
  Object.assign(process.env, dummyEnv, { SWITCHYARD_DATA_DIR: env['SWITCHYARD_DATA_DIR'] });
  t.teardown(() => void delete process.env['SWITCHYARD_DATA_DIR']);
  const { ok, output } = await check(join(dir, 'gateway.yaml'));
  t.ok(ok, `the ConfigMap's gateway.yaml validates: ${output}`);
  t.same(unauthenticatedSpenders(parse(gatewayYaml) as Record<string, any>), [], 'callers authenticate before spending the provider key');

  const mount = (container['volumeMounts'] as { name: string; mountPath: string; subPath?: string }[]).find((m) => m.name === 'config')!;
  t.equal(mount.subPath, undefined, 'no subPath, so ConfigMap updates reach the file');
  t.equal(dirname(env['SWITCHYARD_CONFIG']!), mount.mountPath, 'SWITCHYARD_CONFIG points into the mounted directory');
  t.equal(container['readinessProbe']['httpGet']['path'], '/ready');
  t.equal(container['livenessProbe']['httpGet']['path'], '/health');

  const server = parse(gatewayYaml)['server'];
  const drainMs = parseDuration(server['drain_delay'] ?? '5s')! + parseDuration(server['shutdown_timeout'] ?? '30s')!;
  const preStopMs = Number(container['lifecycle']?.['preStop']?.['exec']?.['command']?.[1] ?? 0) * 1000;
  t.ok(pod['terminationGracePeriodSeconds'] * 1000 > drainMs + preStopMs, 'the grace period is longer than preStop + drain_delay + shutdown_timeout');
});

t.test('the compose example builds from the Dockerfile and mounts a directory holding its config', async (t) => {
  const compose = parse(readFileSync(join(examplesDir, 'docker-compose.yaml'), 'utf8')) as Record<string, any>;
  const gateway = compose['services']['gateway'];
  const context = resolve(examplesDir, gateway['build']['context']);
  t.ok(existsSync(join(context, gateway['build']['dockerfile'])), 'the Dockerfile exists');
  const [source, target] = (gateway['volumes'][0] as string).split(':') as [string, string];
  const configFile = gateway['environment']['SWITCHYARD_CONFIG'] as string;
  t.equal(dirname(configFile), target, 'SWITCHYARD_CONFIG points into the mounted directory');
  const hostFile = join(resolve(examplesDir, source), configFile.slice(target.length + 1));
  const { ok, output } = await check(hostFile);
  t.ok(ok, `the mounted config validates: ${output}`);
});

t.test("the Dockerfile's build stage has every directory tsconfig.build.json compiles, so the image has the whole dist/", async (t) => {
  const root = resolve(examplesDir, '..');
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
  const buildStage = dockerfile.slice(0, dockerfile.indexOf('RUN npm run build'));
  t.ok(buildStage.length > 0, 'the build stage runs `npm run build`');
  const copied = new Set([...buildStage.matchAll(/^COPY\s+(?!--from)(.+?)\s+\S+\s*$/gm)].flatMap((m) => m[1]!.split(/\s+/)));
  const include = (JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8')) as { include: string[] }).include;
  for (const dir of include) t.ok(copied.has(dir), `the build stage copies ${dir}/ before building`);
  const cmd = /^CMD \[(.+)\]$/m.exec(dockerfile)?.[1] ?? '';
  const script = (JSON.parse(`[${cmd}]`) as string[]).slice(1).find((arg) => !arg.startsWith('-'));
  t.ok(script && existsSync(join(root, script)), 'the image command runs a file the repository has');
});
