/**
 * Embeddings and image generation through a real gateway to the loopback Gemini API, driven by
 * the official `openai` SDK (which asks for base64 embeddings and decodes them itself).
 */
import t from 'tap';
import OpenAI from 'openai';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import type { ProviderMock } from './conformance.js';
import { geminiFixture, mockVector, startGeminiMock } from './gemini-wire.js';

let mock: ProviderMock;
let gw: TestGateway;
let client: OpenAI;

t.before(async () => {
  mock = await startGeminiMock();
  gw = await startGateway(`version: 1
providers:
  g: { adapter: gemini, base_url: "${mock.baseUrl}", api_key: gemini-provider-key }
models:
  embed: { targets: [{ provider: g, model: gemini-embedding-001 }] }
  draw: { targets: [{ provider: g, model: gemini-nano-banana-2.1 }] }
  chat: { targets: [{ provider: g, model: gemini-3.8-flash }] }
`);
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-client', maxRetries: 0 });
});
t.afterEach(() => void (mock.calls.length = 0));
t.teardown(async () => {
  await gw.close();
  await mock.close();
});

const rounded = (v: number[]) => v.map((x) => Math.round(x * 1e4) / 1e4);

t.test('a list of inputs is embedded with batchEmbedContents, honouring dimensions', async (t) => {
  const res = await client.embeddings.create({ model: 'embed', input: ['first text', 'second'], dimensions: 8 });
  t.equal(res.object, 'list');
  t.same(res.data.map((d) => d.index), [0, 1]);
  t.same(rounded(res.data[0]!.embedding), mockVector('first text', 8), 'the SDK decoded our base64 back to the vector');
  t.equal(res.usage.prompt_tokens, 5, 'estimated: Gemini reports no embedding usage');
  t.equal(mock.calls[0]!.url, '/v1beta/models/gemini-embedding-001:batchEmbedContents');
  t.same((mock.calls[0]!.body!['requests'] as { outputDimensionality: number }[]).map((r) => r.outputDimensionality), [8, 8]);
});

t.test('a single input is embedded with embedContent', async (t) => {
  const res = await client.embeddings.create({ model: 'embed', input: 'just one', encoding_format: 'float' });
  t.same(res.data[0]!.embedding, mockVector('just one', 4));
  t.equal(mock.calls[0]!.url, '/v1beta/models/gemini-embedding-001:embedContent');
});

t.test('images are generated with an image model through generateContent', async (t) => {
  mock.respondWith({ kind: 'text', text: '', usage: { input: 7, output: 1120 } });
  const res = await client.images.generate({ model: 'draw', prompt: 'a lighthouse at dusk', size: '1792x1024' });
  const png = geminiFixture<{ candidates: { content: { parts: { inlineData: { data: string } }[] } }[] }>('image-generate-content').candidates[0]!.content.parts[0]!.inlineData.data;
  t.same(res.data?.map((d) => d.b64_json), [png]);
  t.equal(mock.calls[0]!.url, '/v1beta/models/gemini-nano-banana-2.1:generateContent');
  t.same(mock.calls[0]!.body!['generationConfig'], { responseModalities: ['IMAGE'], imageConfig: { aspectRatio: '16:9' } });
});

t.test('legacy completions are refused without calling Gemini', async (t) => {
  const err = (await client.completions.create({ model: 'chat', prompt: 'Hello' }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
  t.equal(err.status, 400);
  t.equal(err.code, 'unsupported_endpoint');
  t.equal(mock.calls.length, 0);
});
