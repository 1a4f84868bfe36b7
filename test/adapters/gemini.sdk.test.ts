/**
 * Wire-format check for the Gemini mock and adapter, using Google's official `@google/genai` SDK:
 * the SDK, pointed at the mock, parses its answers, streams, embeddings and errors (so the mock
 * speaks the real protocol), and the requests the SDK sends look like the ones the adapter builds
 * for the same call (so the adapter does too).
 */
import t from 'tap';
import { ApiError, GoogleGenAI } from '@google/genai';
import type { ProviderMock } from './conformance.js';
import { startGeminiMock } from './gemini-wire.js';
import { geminiOp, makeGemini } from './gemini-adapter.js';
import { built, sentBody } from './harness.js';

let mock: ProviderMock;
let ai: GoogleGenAI;
const { adapter } = makeGemini();

t.before(async () => {
  mock = await startGeminiMock();
  ai = new GoogleGenAI({ apiKey: 'sdk-key', httpOptions: { baseUrl: mock.baseUrl.replace(/\/v1beta$/, '') } });
});
t.afterEach(() => void (mock.calls.length = 0));
t.teardown(() => mock.close());

const weather = { name: 'get_weather', description: 'Weather for a city', parametersJsonSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };

t.test('the SDK parses a generateContent answer, and sends what the adapter sends', async (t) => {
  mock.respondWith({ kind: 'text', text: 'Hi there!', usage: { input: 11, output: 3 } });
  const res = await ai.models.generateContent({ model: 'gemini-3.8-flash', contents: [{ role: 'user', parts: [{ text: 'Hello' }] }], config: { systemInstruction: { parts: [{ text: 'Be brief.' }] }, temperature: 0.2, maxOutputTokens: 50, stopSequences: ['END'] } });
  t.equal(res.text, 'Hi there!');
  t.equal(res.candidates?.[0]?.finishReason, 'STOP');
  t.equal(res.usageMetadata?.promptTokenCount, 11);
  t.equal(res.usageMetadata?.candidatesTokenCount, 3);

  const sdk = mock.calls[0]!;
  const ours = built(adapter, geminiOp({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello' }], temperature: 0.2, max_tokens: 50, stop: 'END' }));
  t.equal(new URL(ours.url).pathname, sdk.url, 'same path');
  t.equal(sdk.headers['x-goog-api-key'], 'sdk-key', 'the SDK also sends the key as x-goog-api-key');
  t.equal(ours.headers['x-goog-api-key'], 'gemini-test-key');
  t.same(JSON.parse(String(ours.body)), sdk.body, 'same body');
});

t.test('the SDK parses the SSE stream, and streams from the same URL the adapter uses', async (t) => {
  mock.respondWith({ kind: 'stream', parts: ['Hel', 'lo', ' world'], usage: { input: 5, output: 3 } });
  const stream = await ai.models.generateContentStream({ model: 'gemini-3.8-flash', contents: 'Hello' });
  const texts: string[] = [];
  let last;
  for await (const chunk of stream) {
    texts.push(chunk.text ?? '');
    last = chunk;
  }
  t.same(texts, ['Hel', 'lo', ' world']);
  t.equal(last?.candidates?.[0]?.finishReason, 'STOP');
  t.equal(last?.usageMetadata?.totalTokenCount, 8);
  const ours = built(adapter, geminiOp({ messages: [{ role: 'user', content: 'Hello' }], stream: true }, { stream: true }));
  const url = new URL(ours.url);
  t.equal(url.pathname + url.search, mock.calls[0]!.url);
});

t.test('the SDK parses function calls with their thought signature, and declares tools as the adapter does', async (t) => {
  mock.respondWith({ kind: 'tools', stream: false, usage: { input: 20, output: 10 }, calls: [{ id: 'x', name: 'get_weather', arguments: '{"city":"Paris"}' }] });
  const res = await ai.models.generateContent({
    model: 'gemini-3.8-flash',
    contents: 'Weather in Paris?',
    config: { tools: [{ functionDeclarations: [weather] }], toolConfig: { functionCallingConfig: { mode: 'ANY' as never, allowedFunctionNames: ['get_weather'] } } },
  });
  t.same(res.functionCalls?.map((c) => [c.name, c.args]), [['get_weather', { city: 'Paris' }]]);
  t.ok(res.candidates?.[0]?.content?.parts?.[0]?.thoughtSignature, 'signature parsed');
  const ours = sentBody(
    adapter,
    geminiOp({
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: weather.parametersJsonSchema } }],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
    }),
  );
  const sdk = mock.calls[0]!.body!;
  t.same(ours['tools'], sdk['tools']);
  t.same(ours['toolConfig'], sdk['toolConfig']);
});

t.test('a function result turn is shaped as the SDK shapes it', async (t) => {
  mock.respondWith({ kind: 'text', text: 'Sunny.', usage: { input: 30, output: 2 } });
  const signature = 'c2lnbmF0dXJl';
  await ai.models.generateContent({
    model: 'gemini-3.8-flash',
    contents: [
      { role: 'user', parts: [{ text: 'Weather in Paris?' }] },
      { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: signature }] },
      { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { temp: 21 } } }] },
    ],
  });
  const ours = sentBody(
    adapter,
    geminiOp({
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_0_0123456789abcdef', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' }, extra_content: { google: { thought_signature: signature } } }] },
        { role: 'tool', tool_call_id: 'call_0_0123456789abcdef', content: '{"temp":21}' },
      ],
    }),
  );
  t.same(ours['contents'], mock.calls[0]!.body!['contents']);
});

t.test('the SDK parses batchEmbedContents, and the adapter sends the same batch', async (t) => {
  const res = await ai.models.embedContent({ model: 'gemini-embedding-001', contents: ['first text', 'second'], config: { outputDimensionality: 8 } });
  t.equal(res.embeddings?.length, 2);
  t.equal(res.embeddings?.[0]?.values?.length, 8);
  const sdk = mock.calls[0]!;
  const ours = built(adapter, geminiOp({ model: 'gemini-embedding-001', input: ['first text', 'second'], dimensions: 8 }, { endpoint: 'embeddings', model: 'gemini-embedding-001' }));
  t.equal(new URL(ours.url).pathname, sdk.url);
  const strip = (body: unknown) => (body as { requests: { content: { parts: unknown } }[] }).requests.map((r) => ({ ...r, content: { parts: r.content.parts } }));
  t.same(strip(JSON.parse(String(ours.body))), strip(sdk.body), 'same requests (the SDK also labels each content with a role)');
});

t.test('the SDK reads the mock error envelope as an API error with its status and message', async (t) => {
  mock.respondWith({ kind: 'error', status: 429, message: 'quota exceeded', retryAfter: '13' });
  const err = await ai.models.generateContent({ model: 'gemini-3.8-flash', contents: 'Hi' }).catch((e: unknown) => e);
  t.ok(err instanceof ApiError, `got ${(err as Error).constructor.name}`);
  t.equal((err as ApiError).status, 429);
  t.match((err as ApiError).message, 'quota exceeded');
  t.match((err as ApiError).message, 'RESOURCE_EXHAUSTED');
});
