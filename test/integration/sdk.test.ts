import t from 'tap';
import OpenAI from 'openai';
import { startGateway, openaiConfig, type TestGateway } from '../helpers/gateway.js';
import { startMockOpenAI, sendError, type MockOpenAI } from '../helpers/mock-openai.js';

let upstream: MockOpenAI;
let gw: TestGateway;
let client: OpenAI;

t.before(async () => {
  upstream = await startMockOpenAI();
  gw = await startGateway(openaiConfig(upstream.baseUrl));
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-client', maxRetries: 0 });
});
t.afterEach(() => upstream.reset());
t.teardown(async () => {
  await gw.close();
  await upstream.close();
});

t.test('chat.completions.create goes through to the upstream with the provider key', async (t) => {
  const res = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi there' }] });
  t.equal(res.choices[0]?.message.content, 'upstream says: hi there');
  t.equal(res.usage?.total_tokens, 21);
  t.equal(upstream.requests.length, 1);
  t.equal(upstream.requests[0]!.headers['authorization'], 'Bearer sk-upstream-secret');
  t.equal(upstream.requests[0]!.body!['model'], 'gpt-4o-mini');
});

t.test('chat stream yields every chunk and hides the usage chunk the gateway asked for', async (t) => {
  const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'one two' }] });
  let text = '';
  let usageChunks = 0;
  for await (const c of stream) {
    text += c.choices[0]?.delta.content ?? '';
    if (c.usage) usageChunks++;
  }
  t.equal(text, 'upstream says: one two ');
  t.equal(usageChunks, 0, 'client did not ask for usage');
  t.same((upstream.requests[0]!.body!['stream_options'] as object), { include_usage: true }, 'gateway asked upstream for usage');
});

t.test('unknown model surfaces as the SDK NotFoundError with code model_not_found', async (t) => {
  const err = await client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
  t.ok(err instanceof OpenAI.NotFoundError);
  t.equal((err as InstanceType<typeof OpenAI.NotFoundError>).code, 'model_not_found');
  t.equal(upstream.requests.length, 0);
});

t.test('upstream 429 surfaces as RateLimitError with retry-after', async (t) => {
  upstream.on('/v1/chat/completions', (_req, res) => sendError(res, 429, 'Rate limit reached', 'requests', 'rate_limit_exceeded', { 'retry-after': '7' }));
  const err = (await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.RateLimitError>;
  t.ok(err instanceof OpenAI.RateLimitError);
  t.equal(err.headers?.get('retry-after'), '7');
  t.match(err.message, /Rate limit reached/);
});

t.test('embeddings, completions, images and models through the SDK', async (t) => {
  const emb = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'] });
  t.equal(emb.data.length, 2);
  const cmpl = await client.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'Say this' });
  t.equal(cmpl.choices[0]?.text, 'completed: Say this');
  const img = await client.images.generate({ model: 'dall-e-3', prompt: 'a cat' });
  t.equal(img.data?.[0]?.url, 'https://example.invalid/image.png');
  const models = [];
  for await (const m of client.models.list()) models.push(m.id);
  t.ok(models.includes('gpt-4o-mini') && models.includes('demo'));
  const one = await client.models.retrieve('gpt-4o-mini');
  t.equal(one.owned_by, 'up');
});
