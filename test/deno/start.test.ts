/**
 * Switchyard on Deno 2 as `deno task start` runs it — the compiled gateway (bin/switchyard.js →
 * dist/), one Deno process for the whole file — on a copy of the default config: the README's
 * quickstart curl, a stream, the embedded PGlite database, the process metrics, then a hot reload
 * that adds an OpenAI-compatible upstream, the official SDK through it, and SIGTERM while a stream
 * is in flight.
 */
import t from 'tap';
import OpenAI from 'openai';
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseDocument } from 'yaml';
import { GatewayMetrics } from '../../core/metrics.js';
import { chunk, sse, startMockOpenAI } from '../helpers/mock-openai.js';
import { denoEnv, root, startDeno } from './deno-process.js';

const DEV_KEY = 'sk-switchyard-dev';
const ADMIN_KEY = 'sk-admin-deno-smoke-0123456789';

const readme = await readFile(join(root, 'README.md'), 'utf8');
const quickstart = readme.slice(readme.indexOf('## Quickstart'), readme.indexOf('### Choosing the config file'));
const curl = [...quickstart.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).find((block) => block.startsWith('curl '));

const dir = await mkdtemp(join(tmpdir(), 'switchyard-deno-start-'));
const dataDir = join(dir, 'data');
const configFile = join(dir, 'gateway.yaml');
await copyFile(join(root, 'config', 'gateway.yaml'), configFile);
t.teardown(() => rm(dir, { recursive: true, force: true }));

const upstream = await startMockOpenAI();
t.teardown(() => upstream.close());

const gw = await startDeno(t, ['task', 'start', '--config', configFile, '--listen', '127.0.0.1:0'], denoEnv({ SWITCHYARD_DATA_DIR: dataDir, SWITCHYARD_ADMIN_KEY: ADMIN_KEY }));
const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: DEV_KEY, maxRetries: 0 });
const chat = (body: Record<string, unknown>, key = DEV_KEY) =>
  fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

t.test("the README's quickstart curl gets the demo model's answer", async (t) => {
  t.ok(curl, 'the quickstart has a curl command');
  const { stdout } = await promisify(execFile)('sh', ['-c', curl!.replaceAll('http://127.0.0.1:8080', gw.url)]);
  const answer = JSON.parse(stdout) as { object: string; choices: { message: { content: string } }[] };
  t.equal(answer.object, 'chat.completion');
  t.equal(answer.choices[0]!.message.content, 'Hello, Switchyard!');
  t.equal((await fetch(`${gw.url}/v1/models`)).status, 401, 'no key: refused');
});

t.test('a streamed answer arrives as SSE chunks ending in [DONE]', async (t) => {
  const res = await chat({ model: 'demo', stream: true, messages: [{ role: 'user', content: 'one two three' }] });
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^text\/event-stream/);
  const events = (await res.text()).split('\n\n').filter(Boolean).map((e) => e.replace(/^data: /, ''));
  t.equal(events.at(-1), '[DONE]');
  const deltas = events.slice(0, -1).map((e) => (JSON.parse(e) as { choices: { delta: { content?: string } }[] }).choices[0]!.delta.content ?? '');
  t.ok(deltas.filter(Boolean).length > 1, 'more than one content chunk');
  t.equal(deltas.join(''), 'one two three');
});

t.test('the embedded PGlite database stores an organization and a key that then works', async (t) => {
  const admin = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };
  const org = await fetch(`${gw.url}/admin/organizations`, { method: 'POST', headers: admin, body: JSON.stringify({ slug: 'acme', name: 'Acme' }) });
  t.equal(org.status, 201, await org.clone().text());
  const issued = await fetch(`${gw.url}/admin/organizations/acme/keys`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'backend' }) });
  t.equal(issued.status, 201);
  const { key } = (await issued.json()) as { key: string };
  const res = await chat({ model: 'demo', messages: [{ role: 'user', content: 'from the database' }] }, key);
  t.equal(res.status, 200, 'the key read back from PGlite is served');
  t.equal(((await res.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content, 'from the database');
  t.ok((await readdir(dataDir)).includes('PG_VERSION'), 'the database lives in SWITCHYARD_DATA_DIR');
});

t.test("process metrics: Node's families except GC, and switchyard_runtime_info says deno", async (t) => {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const families = (s: string) => [...s.matchAll(/^# TYPE (switchyard_(?:process|nodejs|runtime)_\S+)/gm)].map((m) => m[1]!).sort();
  const onNode = families(await new GatewayMetrics().registry.metrics());
  t.ok(onNode.includes('switchyard_nodejs_gc_duration_seconds'), 'Node has the GC histogram');
  t.same(families(text), onNode.filter((name) => name !== 'switchyard_nodejs_gc_duration_seconds'), 'the same families, less the one Deno cannot feed');
  t.match(text, /^switchyard_runtime_info\{runtime="deno",version="2\.\d+\.\d+"\} 1$/m);
  t.match(text, /^switchyard_process_resident_memory_bytes [1-9]\d+$/m, 'resident memory is read');
  t.match(text, /^switchyard_requests_total\{route="\/v1\/chat\/completions",model="demo",status="200"\} [1-9]/m, 'requests are counted');
});

t.test('hot reload: an edit that adds an upstream applies without a restart', async (t) => {
  const doc = parseDocument(await readFile(configFile, 'utf8'));
  doc.setIn(['server', 'drain_delay'], '200ms');
  doc.setIn(['providers', 'up'], doc.createNode({ adapter: 'openai', base_url: upstream.baseUrl, api_key: 'sk-upstream-secret' }));
  doc.setIn(['models', 'gpt-4o-mini'], doc.createNode({ targets: [{ provider: 'up' }] }));
  await writeFile(configFile, String(doc));
  const reloaded = await gw.logged(/^config reloaded$/);
  t.equal(reloaded['file'], configFile);
  const ids: string[] = [];
  for await (const model of client.models.list()) ids.push(model.id);
  t.ok(ids.includes('gpt-4o-mini') && ids.includes('demo'), `models.list shows the new model: ${ids.join(', ')}`);
});

t.test('the official SDK through the gateway to an OpenAI-compatible upstream', async (t) => {
  const res = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi there' }] });
  t.equal(res.choices[0]?.message.content, 'upstream says: hi there');
  t.equal(res.usage?.total_tokens, 21);
  t.equal(upstream.requests.at(-1)!.headers['authorization'], 'Bearer sk-upstream-secret', 'the provider key went upstream');

  const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'one two' }] });
  let text = '';
  for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
  t.equal(text, 'upstream says: one two ');

  const err = await client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
  t.ok(err instanceof OpenAI.NotFoundError, 'an unknown model is the SDK NotFoundError');
  t.equal((err as InstanceType<typeof OpenAI.NotFoundError>).code, 'model_not_found');
});

t.test('SIGTERM: the stream in flight completes, then the process exits 0', async (t) => {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  upstream.on('/v1/chat/completions', async (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    sse(res, chunk('gpt-4o-mini', { role: 'assistant', content: 'before ' }));
    await released;
    sse(res, chunk('gpt-4o-mini', { content: 'after' }));
    sse(res, chunk('gpt-4o-mini', {}, 'stop'));
    sse(res, '[DONE]');
    res.end();
  });
  const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'x' }] });
  const iterator = stream[Symbol.asyncIterator]();
  const first = await iterator.next();
  t.equal(first.value?.choices[0]?.delta.content, 'before ', 'the stream started');

  gw.child.kill('SIGTERM');
  t.equal((await gw.logged(/^shutting down/))['signal'], 'SIGTERM');
  release();
  let rest = '';
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) rest += next.value.choices[0]?.delta.content ?? '';
  t.equal(rest, 'after', 'the in-flight stream finished after the signal');
  t.equal(await gw.code, 0, 'exit code 0');
  await gw.logged(/^stopped$/);
});
