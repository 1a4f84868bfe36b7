/**
 * Exactness across replicas: two gateway processes sharing the real Redis on 127.0.0.1:6379
 * (REDIS_URL) admit exactly the limit between them, for requests and for tokens; the same two
 * processes on the memory store each admit the limit (per-process limits, documented). Fails —
 * never skips — when Redis is unreachable. Each run uses its own key prefix and cleans up.
 */
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { createScratchRedis, REDIS_URL } from './scratch-redis.js';
import { Agent, fetch as undiciFetch } from 'undici';

const root = fileURLToPath(new URL('../..', import.meta.url));
const scratch = createScratchRedis('replicas');
const { prefix, raw } = scratch;
const dispatcher = new Agent({ connections: 128 });

let dir: string;
t.before(async () => {
  t.equal(await scratch.check(), 'PONG', `Redis answers at ${REDIS_URL}`);
  dir = await mkdtemp(join(tmpdir(), 'switchyard-replicas-'));
});
t.teardown(async () => {
  await scratch.drop();
  await dispatcher.close();
  await rm(dir, { recursive: true, force: true });
});

const KEY_A = 'sk-test-replicas-team-a-0123456789abcdef';

function config(kv: string, rateLimit: string): string {
  return `version: 1
stores: { kv: ${kv} }
providers:
  demo: { adapter: mock }
models:
  demo: { targets: [{ provider: demo }] }
pipeline:
  - auth: { keys: [static], static: [{ name: team-a, key: "${KEY_A}", org: acme }] }
  - rate-limit: ${rateLimit}
  - route
`;
}

interface Replica {
  url: string;
  child: ChildProcess;
}

/** Starts a gateway process on a free loopback port and waits until `/ready` answers 200. */
async function startReplica(file: string): Promise<Replica> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/main.ts', 'start', '--config', file, '--listen', '127.0.0.1:0'], {
    cwd: root,
    env: { ...process.env, SWITCHYARD_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${output}`)), 20_000);
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const found = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(output);
      if (found) {
        clearTimeout(timer);
        resolve(found[1]!);
      }
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code}:\n${output}`)));
  });
  for (let i = 0; i < 100; i++) {
    if ((await fetch(`${url}/ready`).catch(() => undefined))?.status === 200) return { url, child };
    await sleep(100);
  }
  throw new Error(`gateway never became ready:\n${output}`);
}

async function startPair(name: string, yaml: string): Promise<Replica[]> {
  const file = join(dir, `${name}.yaml`);
  await writeFile(file, yaml);
  return Promise.all([startReplica(file), startReplica(file)]);
}

async function stop(replicas: Replica[]): Promise<void> {
  await Promise.all(
    replicas.map(
      (r) =>
        new Promise<void>((resolve) => {
          if (r.child.exitCode !== null) return resolve();
          r.child.once('exit', () => resolve());
          r.child.kill('SIGTERM');
        }),
    ),
  );
}

interface Answer {
  status: number;
  retryAfter: string | null;
  tokens: number;
}

async function chat(url: string, body: Record<string, unknown> = {}): Promise<Answer> {
  // undici's own fetch, to bound the connections 1,000 concurrent requests open.
  const res = await undiciFetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY_A}` },
    body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hi' }], ...body }),
    dispatcher,
  });
  const json = (await res.json()) as { usage?: { total_tokens: number } };
  return { status: res.status, retryAfter: res.headers.get('retry-after'), tokens: json.usage?.total_tokens ?? 0 };
}

/** Fires `n` requests at once, alternating between the replicas. */
function flood(replicas: Replica[], n: number, body: Record<string, unknown> = {}): Promise<Answer[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => chat(replicas[i % replicas.length]!.url, body)));
}

const count = (answers: Answer[], status: number) => answers.filter((a) => a.status === status).length;
/** `{200: 100, 429: 900}`: shown when an assertion fails. */
const tally = (answers: Answer[]) => JSON.stringify(answers.reduce<Record<number, number>>((m, a) => ({ ...m, [a.status]: (m[a.status] ?? 0) + 1 }), {}));

t.test('Redis: 1,000 concurrent requests over two replicas at 100/min per key admit exactly 100', async (t) => {
  const replicas = await startPair('rpm-redis', config(`{ redis: { url: "${REDIS_URL}", prefix: "${prefix}rpm:" } }`, '{ limits: [{ per: key, rpm: 100 }] }'));
  t.teardown(() => stop(replicas));
  const answers = await flood(replicas, 1000);
  t.equal(count(answers, 200), 100, `exactly the limit succeeded ${tally(answers)}`);
  t.equal(count(answers, 429), 900, 'everything else was refused');
  t.ok(answers.filter((a) => a.status === 429).every((a) => Number(a.retryAfter) >= 1), 'every 429 says when to retry');
});

t.test('Redis: a global limit is shared the same way', async (t) => {
  const replicas = await startPair('global-redis', config(`{ redis: { url: "${REDIS_URL}", prefix: "${prefix}global:" } }`, '{ limits: [{ per: global, rpm: 100 }] }'));
  t.teardown(() => stop(replicas));
  const answers = await flood(replicas, 1000);
  t.equal(count(answers, 200), 100, tally(answers));
  t.equal(count(answers, 429), 900);
});

t.test('memory store: each replica enforces the limit on its own, so two admit twice the limit', async (t) => {
  const replicas = await startPair('rpm-memory', config('memory', '{ limits: [{ per: key, rpm: 100 }] }'));
  t.teardown(() => stop(replicas));
  const answers = await flood(replicas, 1000);
  t.equal(count(answers, 200), 200, `100 per process ${tally(answers)}`);
  t.equal(count(answers, 429), 800);
});

t.test('Redis: a TPM limit holds across replicas within one request of tokens', async (t) => {
  const replicas = await startPair('tpm-redis', config(`{ redis: { url: "${REDIS_URL}", prefix: "${prefix}tpm:" } }`, '{ limits: [{ per: key, tpm: 2000 }], completion_allowance: 1 }'));
  t.teardown(() => stop(replicas));
  // 400 characters → 100 prompt tokens, echoed → 100 completion tokens: 200 per request.
  const text = 'z'.repeat(400);
  const exact = await flood(replicas, 100, { max_tokens: 100, messages: [{ role: 'user', content: text }] });
  t.equal(count(exact, 200), 10, `a reservation equal to the usage admits exactly tpm / 200 requests at once ${tally(exact)}`);
  t.equal(exact.reduce((n, a) => n + a.tokens, 0), 2000);

  await raw.unlink(...(await raw.keys(`${prefix}tpm:*`)));
  // Reserving only 101 (no max_tokens): settled to 200 after each response, so sequential traffic
  // overshoots by at most the last request's underestimate.
  let used = 0;
  let admitted = 0;
  for (let i = 0; i < 30; i++) {
    const answer = await chat(replicas[i % 2]!.url, { messages: [{ role: 'user', content: text }] });
    if (answer.status !== 200) break;
    admitted++;
    used += answer.tokens;
    // Settling happens after the response is done; give it a moment, as a real client's pace would.
    await sleep(100);
  }
  t.ok(admitted >= 9 && admitted <= 10, `admitted ${admitted}`);
  t.ok(used <= 2000 + 200, `used ${used} tokens of 2000, within one request`);
});
