/**
 * An unknown model id is a 404 `model_not_found` that suggests the nearest ids the caller could
 * have meant — configured ids and aliases, or `provider/model` with the provider's name fixed —
 * and never names a model outside the caller key's `allowed_models`.
 */
import t from 'tap';
import { startGateway } from '../helpers/gateway.js';

const gw = await startGateway(`version: 1
providers:
  demo: { adapter: mock }
  anthropic: { adapter: mock }
models:
  gpt-4o-mini: { targets: [{ provider: demo }] }
  gpt-4o-nano: { targets: [{ provider: demo }], aliases: [nano] }
  embed-large: { targets: [{ provider: demo }] }
pipeline:
  - auth:
      keys: [static]
      static:
        - { name: any, key: sk-any-model-key, org: o }
        - { name: mini, key: sk-mini-only-key, org: o, allowed_models: ["gpt-4o-m*"] }
  - route
`);
t.teardown(() => gw.close());

async function notFound(model: string, key = 'sk-any-model-key'): Promise<{ status: number; code: string; message: string }> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });
  const { error } = (await res.json()) as { error: { code: string; message: string } };
  return { status: res.status, code: error.code, message: error.message };
}

t.test('a typo of a configured id or alias suggests it', async (t) => {
  const typo = await notFound('gpt-4o-mnii');
  t.equal(typo.status, 404);
  t.equal(typo.code, 'model_not_found');
  t.equal(typo.message, "The model 'gpt-4o-mnii' does not exist on this gateway. Did you mean 'gpt-4o-mini'? GET /v1/models lists the models it serves.");
  t.match((await notFound('nanp')).message, "Did you mean 'nano'?");
  t.match((await notFound('GPT-4O-NANO')).message, "Did you mean 'gpt-4o-nano' or", 'case differences too, the nearest first');
  t.match((await notFound('gpt-4o-mino')).message, "Did you mean 'gpt-4o-mini' or 'gpt-4o-nano'?", 'the nearest first');
});

t.test('a misspelt provider prefix suggests the configured provider', async (t) => {
  t.match((await notFound('antropic/claude-sonnet-4-5')).message, "Did you mean 'anthropic/claude-sonnet-4-5'?");
});

t.test('an id far from everything gets no suggestion', async (t) => {
  const far = await notFound('llama-3.3-70b');
  t.equal(far.status, 404);
  t.notMatch(far.message, 'Did you mean');
});

t.test("suggestions stay within the key's allowed models", async (t) => {
  const r = await notFound('gpt-4o-mino', 'sk-mini-only-key');
  t.equal(r.status, 404);
  t.match(r.message, "Did you mean 'gpt-4o-mini'?");
  t.notMatch(r.message, 'nano');
});

t.test('GET /v1/models/{id} suggests too', async (t) => {
  const res = await fetch(`${gw.url}/v1/models/embed-lrage`, { headers: { authorization: 'Bearer sk-any-model-key' } });
  t.equal(res.status, 404);
  t.match(((await res.json()) as { error: { message: string } }).error.message, "Did you mean 'embed-large'?");
});
