/**
 * Switchyard on Deno 2 from the TypeScript sources, as `deno task dev` runs them (bin/main.ts,
 * whose `./x.js` imports of `x.ts` files Deno resolves with deno.json's `sloppy-imports`), on the
 * bundled default config with no `--config`: the README's quickstart curl, a stream, and Ctrl-C.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { denoEnv, root, startDeno } from './deno-process.js';

const readme = await readFile(join(root, 'README.md'), 'utf8');
const quickstart = readme.slice(readme.indexOf('## Quickstart'), readme.indexOf('### Choosing the config file'));
const curl = [...quickstart.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).find((block) => block.startsWith('curl '));

const dataDir = await mkdtemp(join(tmpdir(), 'switchyard-deno-dev-'));
t.teardown(() => rm(dataDir, { recursive: true, force: true }));
const gw = await startDeno(t, ['task', 'dev'], denoEnv({ SWITCHYARD_DATA_DIR: dataDir, SWITCHYARD_LISTEN: '127.0.0.1:0' }));

t.test("the README's quickstart curl gets the demo model's answer from the sources", async (t) => {
  t.equal((await gw.logged(/^Switchyard listening on /))['config'], join(root, 'config', 'gateway.yaml'), 'the bundled default config');
  t.ok(curl, 'the quickstart has a curl command');
  const { stdout } = await promisify(execFile)('sh', ['-c', curl!.replaceAll('http://127.0.0.1:8080', gw.url)]);
  const answer = JSON.parse(stdout) as { object: string; choices: { message: { content: string } }[] };
  t.equal(answer.object, 'chat.completion');
  t.equal(answer.choices[0]!.message.content, 'Hello, Switchyard!');
});

t.test('a streamed answer ends in [DONE] and carries the transform header', async (t) => {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: 'Bearer sk-switchyard-dev', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'demo', stream: true, messages: [{ role: 'user', content: 'streamed from source' }] }),
  });
  t.equal(res.status, 200);
  t.equal(res.headers.get('x-switchyard-demo'), 'offline mock provider');
  const events = (await res.text()).split('\n\n').filter(Boolean).map((e) => e.replace(/^data: /, ''));
  t.equal(events.at(-1), '[DONE]');
  const text = events.slice(0, -1).map((e) => (JSON.parse(e) as { choices: { delta: { content?: string } }[] }).choices[0]!.delta.content ?? '').join('');
  t.equal(text, 'streamed from source');
});

t.test('Ctrl-C (SIGINT) stops it cleanly', async (t) => {
  gw.child.kill('SIGINT');
  t.equal(await gw.code, 0, 'exit code 0', { output: gw.output().slice(-2000) });
  t.equal((await gw.logged(/^shutting down/))['signal'], 'SIGINT');
});
