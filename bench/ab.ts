/**
 * A/B: the production pipeline of another checkout (`--base=DIR`, e.g. a `git worktree` of an
 * earlier commit, built with `npm run build`) against this one, against the same upstream, loads
 * alternating A, B, A, B … so both see the same machine. Prints medians of CPU µs per request and
 * req/s for non-streaming and streamed saturation. For a change's effect on a shared, noisy
 * machine, this is steadier than comparing two `npm run bench` runs.
 *
 *   git worktree add /tmp/base <commit> && (cd /tmp/base && ln -s $PWD/node_modules . && npm run build)
 *   npm run build && npx tsx bench/ab.ts --base=/tmp/base [--rounds=6] [--duration=4]
 */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { freePort, startChild, type Child } from './procs.js';
import { chatBody, saturate, startProductionGateway, streamBody } from './production.js';
import { median } from './load.js';

const { values } = parseArgs({ options: { base: { type: 'string' }, rounds: { type: 'string', default: '6' }, duration: { type: 'string', default: '4' } } });
if (!values.base) throw new Error('--base=DIR: the checkout to compare against');
const root = fileURLToPath(new URL('..', import.meta.url));
const rounds = Number(values.rounds);
const duration = Number(values.duration);

const upstreamPort = await freePort();
const children: Child[] = [await startChild('upstream', `http://127.0.0.1:${upstreamPort}`, ['--import', 'tsx', 'bench/upstream.ts', String(upstreamPort)], {}, root)];
try {
  const a = await startProductionGateway('dist', resolve(values.base), upstreamPort, true, [], resolve(values.base));
  children.push(a);
  const b = await startProductionGateway('dist', root, upstreamPort, true);
  children.push(b);
  const results = { a: { ns: [] as number[][], s: [] as number[][] }, b: { ns: [] as number[][], s: [] as number[][] } };
  for (let round = 0; round < rounds; round++) {
    for (const [name, child] of [['a', a], ['b', b]] as const) {
      const ns = await saturate(child, chatBody, 50, round === 0 ? 2 : 0.5, duration);
      const s = await saturate(child, streamBody, 50, round === 0 ? 2 : 0.5, duration);
      results[name].ns.push([ns.cpuUsPerRequest, ns.rps]);
      results[name].s.push([s.cpuUsPerRequest, s.rps]);
      process.stderr.write(`round ${round + 1} ${name}: non-streaming ${ns.cpuUsPerRequest.toFixed(0)} µs, ${ns.rps.toFixed(0)} req/s; streamed ${s.cpuUsPerRequest.toFixed(0)} µs, ${s.rps.toFixed(0)} req/s\n`);
    }
  }
  const m = (rows: number[][], i: number) => median(rows.map((r) => r[i]!));
  console.log(`| build | non-streaming CPU µs/req | non-streaming req/s | streamed CPU µs/req | streamed req/s |\n| --- | ---: | ---: | ---: | ---: |`);
  for (const [name, label] of [['a', `A ${values.base}`], ['b', 'B this checkout']] as const) {
    const r = results[name];
    console.log(`| ${label} | ${m(r.ns, 0).toFixed(0)} | ${m(r.ns, 1).toFixed(0)} | ${m(r.s, 0).toFixed(0)} | ${m(r.s, 1).toFixed(0)} |`);
  }
  console.log(`\nmedians of ${rounds} alternating rounds, ${duration} s each, 50 connections, production pipeline with the access log on a pipe`);
} finally {
  for (const child of children.reverse()) await child.stop();
}
