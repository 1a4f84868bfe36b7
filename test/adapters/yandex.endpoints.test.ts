/**
 * `yandex` through a real gateway, driven by the official `openai` SDK, beyond the shared suite:
 * embeddings (one text per call; lists of several refused before any upstream call), IAM-token
 * auth, a recorded cumulative stream written to the socket in 3-byte pieces (cutting multi-byte
 * characters), and a stream that fails with an error line after the 200. Fixtures:
 * test/fixtures/yandex/ (each cites its reference page).
 */
import t from 'tap';
import OpenAI from 'openai';
import type { ServerResponse } from 'node:http';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { collectStream, streamUntilError, type ProviderMock, type RecordedCall, type Scenario } from './conformance.js';
import { startWireMock } from './wire-mock.js';
import { renderYandex, result, yandexFixture } from './yandex-wire.js';

type Special = 'recorded-stream' | 'stream-then-error' | undefined;
let special: Special;

async function writeSlowly(res: ServerResponse, text: string): Promise<void> {
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += 3) {
    res.write(bytes.subarray(i, i + 3));
    if (i % 60 === 0) await new Promise((r) => setImmediate(r)); // let pieces reach the socket apart
  }
}

async function render(s: Scenario, call: RecordedCall, res: ServerResponse): Promise<void> {
  if (special === 'recorded-stream') {
    res.writeHead(200, { 'content-type': 'application/json' });
    await writeSlowly(res, yandexFixture<{ lines: unknown[] }>('stream-lines').lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
    res.end();
    return;
  }
  if (special === 'stream-then-error') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write(`${JSON.stringify(result({ text: 'Par' }, 'ALTERNATIVE_STATUS_PARTIAL', { input: 3, output: 1 }))}\n`);
    res.end(`${JSON.stringify({ error: { grpcCode: 14, httpCode: 503, message: 'Model is overloaded', httpStatus: 'Service Unavailable' } })}\n`);
    return;
  }
  renderYandex(s, call, res);
}

let mock: ProviderMock;
let gw: TestGateway;
let client: OpenAI;

t.before(async () => {
  mock = await startWireMock(render);
  gw = await startGateway(`version: 1
providers:
  y: { adapter: yandex, base_url: "${mock.baseUrl}", folder_id: b1gfolder, iam_token: t1.iam-token-value, data_logging: true }
models:
  chat: { targets: [{ provider: y, model: yandexgpt/rc }] }
  emb: { targets: [{ provider: y, model: text-search-query }] }
`);
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-client', maxRetries: 0 });
});
t.afterEach(() => {
  mock.calls.length = 0;
  special = undefined;
});
t.teardown(async () => {
  await gw.close();
  await mock.close();
});

t.test('embeddings: one text → textEmbedding with an emb:// URI; string-typed numbers come back as floats', async (t) => {
  const res = await client.embeddings.create({ model: 'emb', input: 'Привет, мир' });
  t.equal(res.object, 'list');
  t.same(res.data[0]?.embedding, [-0.0255126953125, 0.0362548828125, 0.01409912109375, -0.0833740234375]);
  t.equal(res.usage.prompt_tokens, 3);
  t.equal(mock.calls[0]?.url, '/foundationModels/v1/textEmbedding');
  t.same(mock.calls[0]?.body, { modelUri: 'emb://b1gfolder/text-search-query/latest', text: 'Привет, мир' });
  const one = await client.embeddings.create({ model: 'emb', input: ['only'], encoding_format: 'float' });
  t.equal(one.data.length, 1, 'a one-element list works');
});

t.test('embeddings: several inputs are a 400 naming the limit, and nothing is sent upstream', async (t) => {
  const err = (await client.embeddings.create({ model: 'emb', input: ['a', 'b'] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
  t.ok(err instanceof OpenAI.BadRequestError, `got ${(err as Error).constructor.name}`);
  t.equal(err.code, 'unsupported_parameter');
  t.equal(err.param, 'input');
  t.match(err.message, /one text per request/);
  t.equal(mock.calls.length, 0);
});

t.test('IAM token auth: Bearer header, folder header, branch kept; data_logging: true sends no opt-out', async (t) => {
  mock.respondWith({ kind: 'text', text: 'ok', usage: { input: 1, output: 1 } });
  await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'Hi' }] });
  const call = mock.calls[0]!;
  t.equal(call.headers['authorization'], 'Bearer t1.iam-token-value');
  t.equal(call.headers['x-folder-id'], 'b1gfolder');
  t.notOk(call.headers['x-data-logging-enabled']);
  t.equal(call.body?.['modelUri'], 'gpt://b1gfolder/yandexgpt/rc');
});

t.test('a recorded cumulative stream cut into 3-byte pieces reaches the client as clean deltas', async (t) => {
  special = 'recorded-stream';
  const { contents, finish, usage } = await collectStream(await client.chat.completions.create({ model: 'chat', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Считай' }] }));
  t.same(contents, ['Один', ', два, три', ', четыре, пять.'], 'each line adds only its new text');
  t.equal(finish, 'stop');
  t.match(usage, { prompt_tokens: 15, completion_tokens: 10, total_tokens: 25, completion_tokens_details: { reasoning_tokens: 2 } });
  t.same(mock.calls[0]?.body?.['completionOptions'], { stream: true });
});

t.test('an error line after the 200 ends the client stream with the provider message', async (t) => {
  special = 'stream-then-error';
  const { text, error } = await streamUntilError(await client.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'Hi' }] }));
  t.equal(text, 'Par', 'the text before the error arrived');
  t.ok(error instanceof Error, 'the client sees an error');
  t.match((error as Error).message, /Model is overloaded/);
});
