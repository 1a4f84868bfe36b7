/**
 * examples/kubernetes.yaml as the kubelet would run it, without Kubernetes: the ConfigMap's
 * gateway.yaml in a read-only directory, the container's environment from the Deployment (its data
 * directory pointed at a temp directory standing in for the volume), the Secret's keys set. With
 * `auth` on it must start, issue a key through the admin API and serve callers that present it.
 */
import t from 'tap';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { Gateway } from '../../core/gateway.js';
import { createLogger } from '../../core/log.js';
import { parseBytes } from '../../core/config/units.js';
import { builtinPlugins } from '../../plugins/index.js';

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}
interface Mount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
}

const manifest = readFileSync(fileURLToPath(new URL('../../examples/kubernetes.yaml', import.meta.url)), 'utf8');
const docs = parseAllDocuments(manifest).map((d) => d.toJS() as Record<string, any>);
const configMap = docs.find((d) => d['kind'] === 'ConfigMap')!;
const pod = docs.find((d) => d['kind'] === 'Deployment')!['spec']['template']['spec'];
const container = pod['containers'][0];
const env = container['env'] as EnvVar[];
const mounts = container['volumeMounts'] as Mount[];
const volumes = pod['volumes'] as Record<string, any>[];
const ADMIN_KEY = 'k8s-example-admin-key-0123456789';
const secrets: Record<string, string> = { OPENAI_API_KEY: 'sk-not-used-offline', SWITCHYARD_ADMIN_KEY: ADMIN_KEY };

t.test('the data directory is a writable volume, apart from the read-only config', async (t) => {
  const literal = Object.fromEntries(env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
  const dataMount = mounts.find((m) => m.mountPath === literal['SWITCHYARD_DATA_DIR']);
  t.ok(dataMount, 'SWITCHYARD_DATA_DIR is a volume mount');
  t.notOk(dataMount?.readOnly, 'mounted writable');
  const volume = volumes.find((v) => v['name'] === dataMount?.name)!;
  t.ok(volume['persistentVolumeClaim'] || volume['emptyDir'], 'backed by a claim or an emptyDir, not the ConfigMap');
  const configMount = mounts.find((m) => m.mountPath === dirname(literal['SWITCHYARD_CONFIG']!))!;
  t.equal(configMount.readOnly, true);
  t.ok(pod['securityContext']['fsGroup'], 'the non-root user may write the volume');
  for (const e of env.filter((v) => v.valueFrom)) t.ok(secrets[e.name], `the test knows Secret key ${e.name}`);
});

/** A Kubernetes memory quantity (`512Mi`, `1Gi`) in bytes. */
const quantity = (q: unknown) => parseBytes(String(q).replace(/Mi$/, 'mb').replace(/Gi$/, 'gb'))!;

t.test('one replica, replaced not rolled, with memory for the embedded database as measured', async (t) => {
  const deployment = docs.find((d) => d['kind'] === 'Deployment')!['spec'];
  t.equal(deployment['replicas'], 1, 'PGlite belongs to one process');
  t.equal(deployment['strategy']['type'], 'Recreate', 'the old pod lets go of the volume before the new one opens it');
  // The manifest's header gives the measurement (date, peak and steady resident memory of a first start).
  const measured = /Memory: measured (\d{4}-\d\d-\d\d)[\s\S]*?first start on an empty volume peak (\d+) MiB[\s\S]*?(\d+) MiB after/.exec(manifest);
  t.ok(measured, 'the header states the measurement and its date');
  const [peak, steady] = [Number(measured![2]) * 2 ** 20, Number(measured![3]) * 2 ** 20];
  const { requests, limits } = container['resources'];
  t.ok(quantity(limits['memory']) >= 1.25 * peak, `the ${limits['memory']} limit leaves a quarter above the measured peak`);
  t.ok(quantity(requests['memory']) >= steady, `the ${requests['memory']} request covers the measured steady state`);
  t.ok(quantity(requests['memory']) <= quantity(limits['memory']), 'request within the limit');
});

t.test('starts with auth on, from a read-only config directory, and serves a key it issued', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'switchyard-k8s-'));
  const configDir = join(root, 'etc-switchyard');
  const dataDir = join(root, 'var-lib-switchyard');
  await mkdir(configDir);
  await mkdir(dataDir);
  await writeFile(join(configDir, 'gateway.yaml'), configMap['data']['gateway.yaml'] as string);
  await chmod(join(configDir, 'gateway.yaml'), 0o444);
  await chmod(configDir, 0o555);
  t.teardown(async () => {
    await chmod(configDir, 0o755);
    await rm(root, { recursive: true, force: true });
  });

  // The container's environment, with its paths moved into the temp directory.
  const processEnv: NodeJS.ProcessEnv = { PATH: process.env['PATH'] };
  for (const e of env) processEnv[e.name] = e.valueFrom ? secrets[e.name] : e.value;
  processEnv['SWITCHYARD_CONFIG'] = join(configDir, 'gateway.yaml');
  processEnv['SWITCHYARD_DATA_DIR'] = dataDir;

  const gateway = await Gateway.start({
    configFile: processEnv['SWITCHYARD_CONFIG'],
    env: processEnv,
    listen: '127.0.0.1:0',
    plugins: builtinPlugins,
    logger: createLogger({ level: 'silent' }),
    processMetrics: false,
    watch: false,
  });
  t.teardown(() => gateway.close(2000));
  const url = gateway.url;
  const admin = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };

  t.equal((await fetch(`${url}/v1/models`)).status, 401, 'no key: refused');
  const org = await fetch(`${url}/admin/organizations`, { method: 'POST', headers: admin, body: JSON.stringify({ slug: 'acme', name: 'Acme' }) });
  t.equal(org.status, 201);
  const issued = await fetch(`${url}/admin/organizations/acme/keys`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'backend' }) });
  t.equal(issued.status, 201);
  const { key } = (await issued.json()) as { key: string };
  const models = await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
  t.equal(models.status, 200, 'the issued key is served');
  t.ok(((await models.json()) as { data: unknown[] }).data.length > 0);
  t.equal((await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${key}x` } })).status, 401, 'a wrong key: refused');

  t.same(await readdir(configDir), ['gateway.yaml'], 'nothing was written next to the config');
  t.ok((await readdir(dataDir)).length > 0, 'the database lives in SWITCHYARD_DATA_DIR');
});
