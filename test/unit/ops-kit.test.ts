/**
 * The ops kit in examples/ — docker-compose.yaml with nginx, Prometheus and Grafana; kubernetes.yaml
 * — checked as far as it can be without Docker or Kubernetes: every file parses, every file a
 * service mounts exists, and the ports, addresses and environment each piece uses agree with the
 * gateway config it serves (loaded with the environment the container would get).
 */
import t from 'tap';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig, type LoadedConfig } from '../../core/config/load.js';
import { parseBytes, parseDuration } from '../../core/config/units.js';
import { compileCidrs, contains } from '../../core/http/client-ip.js';
import { validate } from '../../core/commands.js';
import { builtinPlugins } from '../../plugins/index.js';

const examplesDir = fileURLToPath(new URL('../../examples/', import.meta.url));
const root = resolve(examplesDir, '..');
const read = (file: string) => readFileSync(join(examplesDir, file), 'utf8');
type Json = Record<string, any>;

/** Every file under examples/, relative to it. */
function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}
const files = walk(examplesDir).map((f) => relative(examplesDir, f));

/** The port of `host:port`, `[v6]:port`, `port`, `host:published:target` (compose's container side is the last). */
const portOf = (address: string | number) => Number(String(address).split(':').at(-1));

/** `${VAR}`, `${VAR:-default}`, `${VAR:?message}` → VAR, for every variable the text interpolates without a default. */
const requiredVariables = (text: string) => [...text.matchAll(/\$\{([A-Z_][A-Z0-9_]*)(?::\?[^}]*)?\}/g)].map((m) => m[1]!);

/** A Kubernetes memory quantity (`512Mi`, `1Gi`) in bytes. */
const quantity = (q: unknown) => parseBytes(String(q).replace(/Mi$/, 'mb').replace(/Gi$/, 'gb'))!;

/** Runs `fn` with `vars` in process.env (validate reads the environment), then restores it. */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** The ENV lines of the Dockerfile's runtime stage (after its last FROM). */
function dockerfileEnv(): Record<string, string> {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  const env: Record<string, string> = {};
  for (const m of runtime.matchAll(/^ENV\s+((?:.*\\\n)*.*)$/gm)) {
    for (const pair of m[1]!.replace(/\\\n/g, ' ').matchAll(/([A-Z_][A-Z0-9_]*)=(\S+)/g)) env[pair[1]!] = pair[2]!;
  }
  return env;
}

t.test('every YAML and JSON file in examples/ parses', async (t) => {
  for (const file of files) {
    if (/\.ya?ml$/.test(file)) {
      const docs = parseAllDocuments(read(file));
      const list = Array.isArray(docs) ? docs : [docs];
      t.same(list.flatMap((d) => d.errors.map((e) => e.message)), [], `${file} is valid YAML`);
    } else if (file.endsWith('.json')) {
      t.doesNotThrow(() => JSON.parse(read(file)), `${file} is valid JSON`);
    }
  }
});

t.test('docker-compose.yaml', async (t) => {
  const composeText = read('docker-compose.yaml');
  const compose = parse(composeText) as Json;
  const services = compose['services'] as Record<string, Json>;
  const gateway = services['gateway']!;
  const environment = gateway['environment'] as Record<string, string | null>;

  /** `source:target[:mode]` bind mounts and named volumes of a service. */
  const mounts = (service: Json) =>
    ((service['volumes'] ?? []) as string[]).map((v) => {
      const [source, target] = v.split(':') as [string, string];
      return { source, target, bind: source.startsWith('.') || source.startsWith('/') };
    });
  const mountedFile = (service: Json, containerPath: string): string | undefined => {
    const m = mounts(service).find((m) => m.bind && (containerPath === m.target || containerPath.startsWith(`${m.target}/`)));
    return m && join(resolve(examplesDir, m.source), posix.relative(m.target, containerPath));
  };

  t.test('every bind mount exists, every named volume is declared, every dependency is a service', async (t) => {
    for (const [name, service] of Object.entries(services)) {
      for (const m of mounts(service)) {
        if (m.bind) t.ok(existsSync(resolve(examplesDir, m.source)), `${name}: ${m.source} exists`);
        else t.ok(m.source in (compose['volumes'] ?? {}), `${name}: volume ${m.source} is declared`);
      }
      const deps = service['depends_on'] ?? [];
      for (const dep of Array.isArray(deps) ? deps : Object.keys(deps)) t.ok(services[dep], `${name} depends on a service: ${dep}`);
    }
  });

  t.test('every variable the compose file requires from the shell is exported in its instructions', async (t) => {
    const header = composeText.slice(0, composeText.indexOf('\nname:'));
    for (const variable of new Set([...composeText.matchAll(/\$\{([A-Z_][A-Z0-9_]*):\?/g)].map((m) => m[1]!))) {
      t.match(header, new RegExp(`export .*\\b${variable}=`), `${variable} is exported in the header`);
    }
  });

  // The gateway config the replicas serve, loaded with the environment they get (compose
  // placeholders stand in for the shell's values): every variable it interpolates must be set.
  const configFile = mountedFile(gateway, environment['SWITCHYARD_CONFIG']!);
  t.ok(configFile && existsSync(configFile), 'SWITCHYARD_CONFIG is inside a bind mount');
  const containerEnv = Object.fromEntries(Object.entries(environment).map(([k, v]) => [k, v ?? 'from-the-shell']));
  const loaded: LoadedConfig = await loadConfig(configFile!, { ...dockerfileEnv(), ...containerEnv });
  const server = loaded.config.server;
  const listen = containerEnv['SWITCHYARD_LISTEN'] ?? dockerfileEnv()['SWITCHYARD_LISTEN'] ?? server.listen;
  const port = portOf(listen);

  t.test("the gateway's port is the one its config, the load balancer and Prometheus use", async (t) => {
    t.equal(portOf(server.listen), port, `server.listen in ${relative(examplesDir, configFile!)} agrees with SWITCHYARD_LISTEN`);
    t.match(listen, /^(0\.0\.0\.0|\[::\]):/, 'listens on every interface of the container');
    t.same((gateway['expose'] as string[]).map(portOf), [port], 'exposes that port');
    t.notOk(gateway['ports'], 'publishes no host port, so `--scale gateway=N` cannot collide');
  });

  t.test('SIGTERM: the stop grace period outlasts drain_delay + shutdown_timeout', async (t) => {
    const needed = parseDuration(server.drain_delay)! + parseDuration(server.shutdown_timeout)!;
    t.ok(parseDuration(gateway['stop_grace_period'])! > needed, `${gateway['stop_grace_period']} > ${needed} ms`);
  });

  t.test('the load balancer: nginx in front of every replica, on the gateway port, trusted by the gateway', async (t) => {
    const lb = Object.values(services).find((s) => String(s['image']).startsWith('nginx'))!;
    t.ok(lb, 'an nginx service');
    const confFile = mountedFile(lb, '/etc/nginx/nginx.conf')!;
    t.ok(existsSync(confFile), 'its nginx.conf is mounted');
    const conf = readFileSync(confFile, 'utf8');
    const upstream = /^\s*server\s+([\w.-]+):(\d+)\s+resolve\s*;/m.exec(conf);
    t.ok(upstream, 'an upstream server that is re-resolved (replicas come and go)');
    t.equal(services[upstream![1]!], gateway, 'the upstream host is the gateway service');
    t.equal(Number(upstream![2]), port, 'on the gateway port');
    t.match(conf, /resolver 127\.0\.0\.11\b/, "Docker's DNS resolves it");
    const listenPort = Number(/^\s*listen\s+(\d+)\s*;/m.exec(conf)?.[1]);
    t.ok((lb['ports'] as string[]).some((p) => portOf(p) === listenPort), `nginx listens on ${listenPort}, the port it publishes`);
    t.equal(parseBytes(/client_max_body_size\s+(\w+)\s*;/.exec(conf)![1]!), parseBytes(server.body_limit), 'its body limit is server.body_limit');
    t.match(conf, /proxy_buffering off;/, 'streams are not buffered');

    const subnets = (compose['networks']?.['default']?.['ipam']?.['config'] ?? []) as { subnet: string }[];
    t.ok(subnets.length > 0, 'the network has a fixed subnet');
    const trusted = compileCidrs(server.trusted_proxies);
    for (const { subnet } of subnets) {
      const [base, bits] = subnet.split('/') as [string, string];
      const first = base.split('.').reduce((n, o) => n * 256 + Number(o), 0);
      const last = first + 2 ** (32 - Number(bits)) - 1;
      const ip = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
      t.ok(contains(trusted, ip(first)) && contains(trusted, ip(last)), `${subnet} is inside server.trusted_proxies`);
    }
  });

  t.test('Prometheus scrapes every replica directly, on the gateway port', async (t) => {
    const prometheus = services['prometheus']!;
    const configPath = mountedFile(prometheus, '/etc/prometheus/prometheus.yml')!;
    t.ok(existsSync(configPath), 'prometheus.yml is mounted where Prometheus reads it');
    const prom = parse(readFileSync(configPath, 'utf8')) as Json;
    const job = (prom['scrape_configs'] as Json[])[0]!;
    t.equal(job['metrics_path'] ?? '/metrics', '/metrics');
    const sd = job['dns_sd_configs'][0];
    t.equal(sd['type'], 'A', 'one A record per replica');
    t.same(sd['names'], ['gateway'], 'the gateway service');
    t.equal(sd['port'], port, 'the gateway port');
    t.equal(job['job_name'], 'switchyard');
  });

  t.test('Grafana reads its data source from Prometheus and provisions the dashboard', async (t) => {
    const grafana = services['grafana']!;
    const provisioning = mountedFile(grafana, '/etc/grafana/provisioning')!;
    t.ok(provisioning && statSync(provisioning).isDirectory(), 'provisioning directory mounted');
    const datasource = (parse(readFileSync(join(provisioning, 'datasources', 'prometheus.yaml'), 'utf8')) as Json)['datasources'][0];
    t.equal(datasource['type'], 'prometheus');
    const url = new URL(datasource['url']);
    t.ok(services[url.hostname] === services['prometheus'], 'points at the prometheus service');
    t.ok((services['prometheus']!['ports'] as string[]).some((p) => portOf(p) === Number(url.port)), "on Prometheus' port");
    const prom = parse(read('prometheus.yml')) as Json;
    t.equal(datasource['jsonData']['timeInterval'], prom['global']['scrape_interval'], 'its time interval is the scrape interval');

    const provider = (parse(readFileSync(join(provisioning, 'dashboards', 'switchyard.yaml'), 'utf8')) as Json)['providers'][0];
    const dashboards = mountedFile(grafana, provider['options']['path'])!;
    t.ok(dashboards && existsSync(join(dashboards, 'switchyard-dashboard.json')), 'the dashboard is in the directory the provider reads');
    const home = mountedFile(grafana, grafana['environment']['GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH'])!;
    t.ok(home && existsSync(home), 'the home dashboard path is mounted');
  });
});

for (const file of ['kubernetes.yaml', 'kubernetes-scaled.yaml']) {
  t.test(file, async (t) => {
    const manifest = read(file);
    const docs = parseAllDocuments(manifest).map((d) => d.toJS() as Json);
    for (const d of docs) t.ok(d['apiVersion'] && d['kind'] && d['metadata']?.['name'], `${d['kind']} ${d['metadata']?.['name']}: apiVersion, kind and name`);
    const byKind = (kind: string) => docs.filter((d) => d['kind'] === kind);
    const deployment = byKind('Deployment')[0]!;
    const pod = deployment['spec']['template'];
    const podLabels = pod['metadata']['labels'] as Record<string, string>;
    const container = pod['spec']['containers'][0] as Json;
    const env = Object.fromEntries((container['env'] as Json[]).map((e) => [e['name'] as string, e]));
    const matches = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => podLabels[k] === v);
    const gatewayYaml = byKind('ConfigMap')[0]!['data']['gateway.yaml'] as string;

    t.test('selectors: the Deployment, the Service and the PodDisruptionBudget select its pods', async (t) => {
      t.ok(matches(deployment['spec']['selector']['matchLabels']), 'Deployment');
      t.ok(matches(byKind('Service')[0]!['spec']['selector']), 'Service');
      const pdb = byKind('PodDisruptionBudget')[0];
      t.ok(pdb, 'a PodDisruptionBudget');
      t.ok(matches(pdb!['spec']['selector']['matchLabels']), 'PodDisruptionBudget');
      const replicas = deployment['spec']['replicas'] as number;
      const minAvailable = pdb!['spec']['minAvailable'];
      t.ok(minAvailable === undefined || minAvailable < replicas, 'it never forbids every eviction (a node drain would hang)');
      if (replicas > 1) t.ok(minAvailable >= 1 || pdb!['spec']['maxUnavailable'] < replicas, 'with several replicas it keeps some serving');
    });

    t.test('volumes: every mount has a volume, the ConfigMap and any claim exist', async (t) => {
      const volumes = pod['spec']['volumes'] as Json[];
      for (const m of container['volumeMounts'] as Json[]) t.ok(volumes.some((v) => v['name'] === m['name']), `volume ${m['name']}`);
      for (const v of volumes) {
        if (v['configMap']) t.ok(byKind('ConfigMap').some((c) => c['metadata']['name'] === v['configMap']['name']), `ConfigMap ${v['configMap']['name']}`);
        if (v['persistentVolumeClaim']) t.ok(byKind('PersistentVolumeClaim').some((c) => c['metadata']['name'] === v['persistentVolumeClaim']['claimName']), `claim ${v['persistentVolumeClaim']['claimName']}`);
      }
    });

    t.test('the config in the ConfigMap is valid, and ports, probes, drain and environment agree with it', async (t) => {
      const dir = await mkdtemp(join(tmpdir(), 'switchyard-ops-kit-'));
      t.teardown(() => rm(dir, { recursive: true, force: true }));
      await writeFile(join(dir, 'gateway.yaml'), gatewayYaml);

      const processEnv: Record<string, string> = {};
      for (const [name, e] of Object.entries(env)) processEnv[name] = e['value'] ?? (name.endsWith('_URL') ? (name.startsWith('REDIS') ? 'redis://127.0.0.1:1' : 'postgres://nobody@127.0.0.1:1/none') : 'from-a-secret');
      for (const variable of requiredVariables(gatewayYaml)) t.ok(env[variable], `the container sets ${variable}, which the config interpolates`);
      const lines: string[] = [];
      t.ok(await withEnv(processEnv, () => validate([join(dir, 'gateway.yaml')], builtinPlugins, (l) => lines.push(l))), `valid: ${lines.join('\n')}`);
      const loaded = await loadConfig(join(dir, 'gateway.yaml'), processEnv);
      const listen = processEnv['SWITCHYARD_LISTEN'] ?? dockerfileEnv()['SWITCHYARD_LISTEN'] ?? loaded.config.server.listen;
      const port = portOf(listen);
      t.equal(portOf(loaded.config.server.listen), port, 'server.listen agrees with SWITCHYARD_LISTEN');

      const ports = container['ports'] as { name: string; containerPort: number }[];
      const portByName = (p: string | number) => (typeof p === 'number' ? p : ports.find((c) => c.name === p)?.containerPort);
      t.equal(ports[0]!.containerPort, port, 'the container port is the listen port');
      t.equal(portByName(container['readinessProbe']['httpGet']['port']), port, 'readiness probes that port');
      t.equal(portByName(container['livenessProbe']['httpGet']['port']), port, 'liveness probes that port');
      t.equal(portByName(container['startupProbe']['httpGet']['port']), port, 'the startup probe too');
      t.equal(container['readinessProbe']['httpGet']['path'], '/ready');
      t.equal(container['livenessProbe']['httpGet']['path'], '/health');
      t.equal(portByName(byKind('Service')[0]!['spec']['ports'][0]['targetPort']), port, 'the Service targets it');
      t.equal(Number(pod['metadata']['annotations']['prometheus.io/port']), port, 'the scrape annotation names it');
      t.equal(pod['metadata']['annotations']['prometheus.io/path'], '/metrics');

      const drainMs = parseDuration(loaded.config.server.drain_delay)! + parseDuration(loaded.config.server.shutdown_timeout)!;
      t.ok(pod['spec']['terminationGracePeriodSeconds'] * 1000 > drainMs, `the grace period outlasts drain_delay + shutdown_timeout (${drainMs} ms)`);

      const secretKeys = Object.values(env).flatMap((e) => (e['valueFrom']?.['secretKeyRef'] ? [e['valueFrom']['secretKeyRef']] : []));
      for (const ref of secretKeys) {
        t.match(manifest, new RegExp(`kubectl create secret generic ${ref.name}[\\s\\S]*?--from-literal=${ref.key}=`), `the header creates Secret key ${ref.name}/${ref.key}`);
      }
    });

    t.test('resources fit the footprint the header states, with its date', async (t) => {
      const header = manifest.slice(0, manifest.indexOf('\napiVersion:'));
      t.match(header, /Memory: measured \d{4}-\d\d-\d\d/, 'a dated measurement');
      const peak = Number(/peak (\d+) MiB/.exec(header)?.[1]) * 2 ** 20;
      const after = Number(/(\d+) MiB after/.exec(header)?.[1]) * 2 ** 20;
      t.ok(peak > 0 && after > 0, 'peak and after-load numbers');
      const { requests, limits } = container['resources'];
      t.ok(requests['cpu'], 'a CPU request');
      t.ok(quantity(requests['memory']) >= after, `the ${requests['memory']} request covers the ${after / 2 ** 20} MiB after load`);
      t.ok(quantity(limits['memory']) >= 1.25 * peak, `the ${limits['memory']} limit leaves a quarter above the ${peak / 2 ** 20} MiB peak`);
      t.ok(quantity(requests['memory']) <= quantity(limits['memory']), 'request within the limit');
    });

    t.test('the config directory hot-reloads: mounted whole, read-only, apart from any data', async (t) => {
      const mount = (container['volumeMounts'] as Json[]).find((m) => m['mountPath'] === dirname(env['SWITCHYARD_CONFIG']!['value']))!;
      t.ok(mount, 'SWITCHYARD_CONFIG is in a mounted directory');
      t.equal(mount['subPath'], undefined, 'no subPath (the kubelet swaps ..data in the directory)');
      t.equal(mount['readOnly'], true);
      const pglite = (parse(gatewayYaml) as Json)['stores']?.['sql']?.['pglite'];
      if (pglite === undefined) {
        t.pass('no embedded database: its state is in PostgreSQL');
      } else {
        t.equal(pglite, '${SWITCHYARD_DATA_DIR}', 'the embedded database is where SWITCHYARD_DATA_DIR says');
        const data = (container['volumeMounts'] as Json[]).find((m) => m['mountPath'] === env['SWITCHYARD_DATA_DIR']?.['value']);
        t.ok(data && !data['readOnly'] && data !== mount, 'which is a writable volume of its own');
      }
    });
  });
}
