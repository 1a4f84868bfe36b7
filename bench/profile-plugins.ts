/**
 * Where a plugin benchmark target spends its time: runs one gateway config of bench/plugins.ts under
 * `node --cpu-prof` through a sequence of loads (the same ones bench/plugins.ts uses) and prints a
 * profile summary per load, from the samples taken during that load only. Loads run in order in
 * one process, so state they leave behind (e.g. a full memory store after unique bodies) shows up
 * in the loads after them.
 *
 *   tsx bench/profile-plugins.ts CONFIG LOAD... [--duration=S] [--connections=N] [--runtime=dist|tsx]
 *
 * CONFIG is a file in bench/configs (e.g. plugins-limits-cache.yaml); each LOAD is `same` (one
 * body) or `unique` (a new body per request). Example, the cache hit after e2's misses:
 *   tsx bench/profile-plugins.ts plugins-limits-cache.yaml unique unique unique same same
 * Build dist/ first (`npm run build`) for the default runtime.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, gatewayArgs, startChild, type Runtime } from './procs.js';
import { summariseProfile } from './profile.js';
import { BENCH_KEY, SAME_BODY, load } from './plugins.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: { duration: { type: 'string', default: '4' }, connections: { type: 'string', default: '50' }, runtime: { type: 'string', default: 'dist' } },
});
const [config, ...loads] = positionals;
if (!config || loads.length === 0 || loads.some((l) => l !== 'same' && l !== 'unique')) {
  process.stderr.write('usage: tsx bench/profile-plugins.ts CONFIG (same|unique)... [--duration=S] [--connections=N] [--runtime=dist|tsx]\n');
  process.exit(2);
}
const runtime = flags.runtime as Runtime;
const duration = Number(flags.duration);
const connections = Number(flags.connections);
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

const dir = mkdtempSync(join(tmpdir(), 'switchyard-plugin-profile-'));
const upstreamPort = await freePort();
const upstream = await startChild('upstream', `http://127.0.0.1:${upstreamPort}`, ['--import', 'tsx', 'bench/upstream.ts', String(upstreamPort)], {}, ROOT);
const port = await freePort();
const name = 'gateway.cpuprofile';
const args = gatewayArgs(runtime, join('bench', 'configs', config), `127.0.0.1:${port}`, ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}`]);
const gateway = await startChild(config, `http://127.0.0.1:${port}`, args, { BENCH_UPSTREAM_PORT: String(upstreamPort), BENCH_KEY }, ROOT);
const phases: { label: string; window: [number, number]; requests: number; cpu: number }[] = [];
try {
  for (const [i, kind] of loads.entries()) {
    const from = nowUs();
    const r = await load(gateway, SAME_BODY, kind === 'unique', connections, 0, duration);
    const label = `load ${i + 1} (${kind} bodies)`;
    phases.push({ label, window: [from, nowUs()], requests: r.requests, cpu: r.cpuUsPerRequest });
    process.stderr.write(`${label}: ${Math.round(r.rps)} req/s, ${Math.round(r.cpuUsPerRequest)} µs CPU/req under the profiler${r.non2xx || r.errors ? ` (${r.non2xx} non-2xx, ${r.errors} errors)` : ''}\n`);
  }
} finally {
  await gateway.stop(15_000);
  await upstream.stop();
}
if (!readdirSync(dir).includes(name)) throw new Error('the gateway wrote no profile');
for (const p of phases) {
  process.stdout.write(`${summariseProfile(join(dir, name), ROOT, `${config}, ${p.label} (${Math.round(p.cpu)} µs CPU per request under the profiler)`, p.requests, p.window)}\n`);
}
process.stderr.write(`raw profile: ${join(dir, name)}\n`);
