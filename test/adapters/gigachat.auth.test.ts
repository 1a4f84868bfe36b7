/**
 * `gigachat` access tokens through a real gateway: the OAuth request
 * (https://developers.sber.ru/docs/ru/gigachat/api/reference/rest/post-token), one token shared by
 * concurrent requests, renewal before expiry, renewal and one retry after a 401, token endpoint
 * failures, and credentials kept out of errors and logs. Loopback token endpoint and API from
 * test/adapters/gigachat-wire.ts.
 */
import t, { type Test } from 'tap';
import OpenAI from 'openai';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startWireMock } from './wire-mock.js';
import type { ProviderMock } from './conformance.js';
import { gigachatRender, startAuthServer, type AuthServer } from './gigachat-wire.js';

const CLIENT_ID = '0199e2aa-7f3c-4c1e-9b6a-2c4d5e6f7a8b';
const CLIENT_SECRET = 'e3b0c442-98fc-4c14-9afb-f4c8996fb924';
const KEY = Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64');
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Привет' }];

interface Setup {
  auth: AuthServer;
  api: ProviderMock;
  gw: TestGateway;
  client: OpenAI;
}

/** Token endpoint + API + gateway with `settings` for the provider (credentials as client id and secret). */
async function setup(t: Test, settings = ''): Promise<Setup> {
  const auth = await startAuthServer();
  const api = await startWireMock(gigachatRender(auth), '/api/v1');
  const gw = await startGateway(
    `version: 1
providers:
  g: { adapter: gigachat, base_url: "${api.baseUrl}", auth_url: "${auth.url}", client_id: "${CLIENT_ID}", client_secret: "${CLIENT_SECRET}"${settings} }
models:
  giga: { targets: [{ provider: g, model: GigaChat-2 }] }
  embed: { targets: [{ provider: g, model: Embeddings }] }
`,
    { level: 'debug' },
  );
  t.teardown(async () => {
    await gw.close();
    await api.close();
    await auth.close();
  });
  api.respondWith({ kind: 'text', text: 'Здравствуйте!', usage: { input: 5, output: 3 } });
  return { auth, api, gw, client: new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-client', maxRetries: 0 }) };
}

const ask = (client: OpenAI) => client.chat.completions.create({ model: 'giga', messages });

t.test('the token request: Basic authorization key, a UUID v4 RqUID, the scope as a form', async (t) => {
  const { auth, client } = await setup(t, ', scope: GIGACHAT_API_B2B, token_refresh_margin: 2h');
  await ask(client);
  await ask(client);
  t.equal(auth.calls.length, 2, 'a margin longer than the token lifetime renews it every time');
  for (const call of auth.calls) {
    t.equal(call.headers['authorization'], `Basic ${KEY}`, 'base64 of client_id:client_secret');
    t.match(call.headers['rquid'], UUID_V4);
    t.equal(call.headers['content-type'], 'application/x-www-form-urlencoded');
    t.equal(call.body, 'scope=GIGACHAT_API_B2B');
  }
  t.not(auth.calls[0]!.headers['rquid'], auth.calls[1]!.headers['rquid'], 'a fresh RqUID per token request');
});

t.test('concurrent requests share one token fetch, and the token is reused until its refresh margin', async (t) => {
  const { auth, api, client } = await setup(t);
  auth.delayMs = 150; // every request arrives while the first fetch is still under way
  const answers = await Promise.all(Array.from({ length: 5 }, () => ask(client)));
  t.same(answers.map((a) => a.choices[0]?.message.content), Array(5).fill('Здравствуйте!'));
  t.equal(auth.calls.length, 1, 'one token fetch for five concurrent requests');
  const tokens = new Set(api.calls.map((c) => c.headers['authorization']));
  t.equal(tokens.size, 1, 'all five carried the same token');

  auth.delayMs = 0;
  await ask(client);
  t.equal(auth.calls.length, 1, 'a token 30 minutes from expiry is reused');

  // Tokens that live less than the 60 s default margin are stale as soon as they arrive.
  auth.ttlMs = 30_000;
  auth.valid.clear();
  const before = auth.calls.length;
  // The revoked token still looks valid to the adapter: 401, then a renewal whose token is stale
  // on arrival, so the retry fetches one more.
  await ask(client);
  t.equal(auth.calls.length, before + 2);
  await ask(client);
  t.equal(auth.calls.length, before + 3, 'a token expiring within the margin is never reused');
});

t.test('a 401 from the API renews the token once and retries once', async (t) => {
  const { auth, api, client } = await setup(t);
  await ask(client);
  t.equal(auth.calls.length, 1);
  auth.valid.clear(); // GigaChat no longer accepts the cached token
  api.calls.length = 0;
  const res = await ask(client);
  t.equal(res.choices[0]?.message.content, 'Здравствуйте!', 'the retry succeeded');
  t.equal(auth.calls.length, 2, 'exactly one renewal');
  t.equal(api.calls.length, 2, 'the refused call and one retry');
  t.not(api.calls[0]!.headers['authorization'], api.calls[1]!.headers['authorization'], 'the retry carries the new token');

  api.calls.length = 0;
  api.respondWith({ kind: 'error', status: 401, message: 'Unauthorized' });
  const err = (await ask(client).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
  t.ok(err instanceof OpenAI.AuthenticationError, 'a second 401 reaches the client');
  t.equal(api.calls.length, 2, 'one retry, not a loop');
  t.equal(auth.calls.length, 3, 'one renewal for it');
});

t.test('token endpoint failures: rejected key → 401, outage → 502, both upstream_auth_failed', async (t) => {
  const { auth, api, client } = await setup(t);
  auth.failWith = 401;
  const rejected = (await ask(client).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
  t.ok(rejected instanceof OpenAI.AuthenticationError);
  t.equal(rejected.code, 'upstream_auth_failed');
  t.match(rejected.message, "credentials doesn't match db data");
  t.equal(api.calls.length, 0, 'no API call without a token');

  auth.failWith = 500;
  const outage = (await ask(client).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
  t.equal(outage.status, 502);
  t.equal(outage.code, 'upstream_auth_failed');

  auth.failWith = undefined;
  t.equal((await ask(client)).choices[0]?.message.content, 'Здравствуйте!', 'a failed fetch is not cached');

  const bad = (await client.chat.completions.create({ model: 'giga', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
  t.equal(bad.status, 400, 'an image part is refused: GigaChat takes images only as uploaded files');
});

t.test('credentials and tokens never reach the client or the logs', async (t) => {
  const { auth, api, gw, client } = await setup(t);
  await ask(client);
  const token = [...auth.valid][0]!;
  api.respondWith({ kind: 'error', status: 400, message: `bad request from ${CLIENT_ID}: key ${KEY}, secret ${CLIENT_SECRET}, token ${token}` });
  const err = (await ask(client).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
  t.equal(err.status, 400);
  for (const secret of [KEY, CLIENT_SECRET, token]) t.notOk(err.message.includes(secret), 'redacted from the error');
  t.match(err.message, '[redacted]');

  api.respondWith({ kind: 'stream', parts: ['Здравствуйте', '!'], usage: { input: 5, output: 2 } });
  const stream = await client.chat.completions.create({ model: 'giga', messages, stream: true });
  for await (const _ of stream) void _;
  const embeddings = await client.embeddings.create({ model: 'embed', input: ['один', 'два'], encoding_format: 'float' });
  t.same(embeddings.usage, { prompt_tokens: 7, total_tokens: 7 }, 'per-input token counts summed');

  auth.failWith = 401;
  auth.valid.clear();
  await ask(client).catch(() => undefined);
  const logs = gw.logText();
  t.match(logs, 'GigaChat access token renewed', 'debug logs were captured');
  for (const secret of [KEY, CLIENT_SECRET, token]) t.notOk(logs.includes(secret), 'no secret in the logs');
});
