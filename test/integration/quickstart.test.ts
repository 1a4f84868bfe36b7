/**
 * The README's quickstart, as a user runs it: the CLI started on the bundled default config (no
 * `--config`), then the README's own `curl` commands (a chat completion, then the key's usage),
 * copied out of README.md and pointed at the port this run got. Also: the public development key
 * refuses a non-loopback address.
 */
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../../core/config/schema.js';

const root = packageRoot();
const readme = await readFile(join(root, 'README.md'), 'utf8');
const quickstart = readme.slice(readme.indexOf('## Quickstart'), readme.indexOf('### Choosing the config file'));
const curls = [...quickstart.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((block) => block.startsWith('curl '));
const curl = curls.find((block) => block.includes('/v1/chat/completions'));
const usageCurl = curls.find((block) => block.includes('/v1/usage'));
const messagesCurl = curls.find((block) => block.includes('/v1/messages'));

interface Started {
  url?: string;
  stdout: string;
  stderr: string;
  code: Promise<number | null>;
  stop(): void;
}

function start(env: NodeJS.ProcessEnv): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/main.ts', 'start'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const started: Started = {
    stdout: '',
    stderr: '',
    code: new Promise((resolve) => child.on('close', (code) => resolve(code))),
    stop: () => child.kill('SIGINT'),
  };
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  void started.code.then(() => clearTimeout(timer));
  child.stderr.on('data', (chunk: Buffer) => (started.stderr += chunk.toString()));
  return new Promise((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => {
      started.stdout += chunk.toString();
      const m = /Switchyard listening on (http:\/\/[\d.:[\]]+)/.exec(started.stdout);
      if (m && !started.url) {
        started.url = m[1];
        resolve(started);
      }
    });
    void started.code.then(() => resolve(started));
  });
}

function baseEnv(dataDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, SWITCHYARD_DATA_DIR: dataDir, SWITCHYARD_LISTEN: '127.0.0.1:0' };
  for (const name of ['SWITCHYARD_CONFIG', 'SWITCHYARD_DEV_KEY', 'SWITCHYARD_ADMIN_KEY', 'SWITCHYARD_SECRET']) delete env[name];
  return env;
}

t.test("the README's quickstart curl gets an answer from a gateway started on the defaults", async (t) => {
  t.ok(curl, 'the quickstart has a curl command');
  const data = await mkdtemp(join(tmpdir(), 'switchyard-quickstart-'));
  t.teardown(() => rm(data, { recursive: true, force: true }));
  const gateway = await start(baseEnv(data));
  t.teardown(() => gateway.stop());
  t.ok(gateway.url, `started: ${gateway.stderr}`);
  const command = curl!.replaceAll('http://127.0.0.1:8080', gateway.url!);
  const { stdout } = await promisify(execFile)('sh', ['-c', command]);
  const answer = JSON.parse(stdout) as { object: string; choices: { message: { content: string } }[] };
  t.equal(answer.object, 'chat.completion');
  t.equal(answer.choices[0]!.message.content, 'Hello, Switchyard!', 'the demo model echoed the message');

  // billing meters the default pipeline: a cost header, and the key's usage one curl away.
  const priced = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: 'Bearer sk-switchyard-dev', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'What does this cost?' }] }),
  });
  t.equal(priced.status, 200);
  const cost = Number(priced.headers.get('x-switchyard-cost'));
  t.ok(Number.isInteger(cost) && cost > 0, `x-switchyard-cost is a positive number of micro-units (${priced.headers.get('x-switchyard-cost')})`);
  t.ok(usageCurl, 'the quickstart has a usage curl command');
  interface Usage {
    object: string;
    org_id: string;
    key_id: string;
    currency: string;
    organization: { today: { requests: number; cost_micros: number } };
    key: { this_month: { requests: number } };
  }
  const usageCommand = usageCurl!.replaceAll('http://127.0.0.1:8080', gateway.url!);
  let usage: Usage | undefined;
  // Usage rows are written in batches about every second: ask until both requests are in.
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    usage = JSON.parse((await promisify(execFile)('sh', ['-c', usageCommand])).stdout) as Usage;
    if (usage.organization?.today.requests >= 2) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  t.match(usage, { object: 'usage', org_id: 'dev', key_id: 'dev', currency: 'USD', organization: { today: { requests: 2 } }, key: { this_month: { requests: 2 } } });
  t.ok(usage!.organization.today.cost_micros >= cost, 'the usage sums the costs');

  // The same gateway speaks Anthropic's Messages API: the README's curl, as Anthropic clients send it.
  t.ok(messagesCurl, 'the quickstart has an Anthropic Messages curl command');
  const message = JSON.parse((await promisify(execFile)('sh', ['-c', messagesCurl!.replaceAll('http://127.0.0.1:8080', gateway.url!)])).stdout) as { type: string; content: { type: string; text: string }[] };
  t.equal(message.type, 'message');
  t.equal(message.content[0]?.text, 'Hello from an Anthropic client', 'answered in Anthropic shape by the demo model');

  const without = await fetch(`${gateway.url}/v1/models`);
  t.equal(without.status, 401, 'and a request without the key is refused');
  gateway.stop();
  t.equal(await gateway.code, 0, 'stops cleanly on Ctrl-C (SIGINT)');
});

t.test('the public development key refuses to listen on a non-loopback address, and says why', async (t) => {
  const data = await mkdtemp(join(tmpdir(), 'switchyard-quickstart-'));
  t.teardown(() => rm(data, { recursive: true, force: true }));
  const gateway = await start({ ...baseEnv(data), SWITCHYARD_LISTEN: '0.0.0.0:0' });
  t.equal(await gateway.code, 1);
  t.notOk(gateway.url, 'never listened');
  t.match(gateway.stderr, /development key/);
  t.match(gateway.stderr, /SWITCHYARD_DEV_KEY/);
});
