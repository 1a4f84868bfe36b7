/**
 * `transform` behaviour, through a real in-process gateway in front of a mock OpenAI upstream:
 * what the upstream receives, and what the client gets back (JSON and every stream chunk).
 */
import t from 'tap';
import { startGateway, openaiConfig, type TestGateway } from '../helpers/gateway.js';
import { startMockOpenAI, type MockOpenAI } from '../helpers/mock-openai.js';

let upstream: MockOpenAI;

t.before(async () => {
  upstream = await startMockOpenAI();
});
t.afterEach(() => upstream.reset());
t.teardown(() => upstream.close());

/** Starts a gateway whose `models:` also has a `p-*` glob, with `pipeline` (YAML lines) appended. */
async function gatewayWith(pipeline: string): Promise<TestGateway> {
  return startGateway(openaiConfig(upstream.baseUrl, `  "p-*": { targets: [{ provider: up }] }\n${pipeline}`));
}

async function post(gw: TestGateway, path: string, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${gw.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

async function postJson(gw: TestGateway, path: string, body: Record<string, unknown>): Promise<{ res: Response; json: Record<string, any> }> {
  const res = await post(gw, path, body);
  return { res, json: (await res.json()) as Record<string, any> };
}

/** The JSON chunks of an SSE response, without the final `[DONE]`. */
async function streamChunks(res: Response): Promise<Record<string, any>[]> {
  const text = await res.text();
  const data = text.split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice(6));
  if (data.at(-1) !== '[DONE]') throw new Error(`stream did not end with [DONE]: ${text.slice(-200)}`);
  return data.slice(0, -1).map((d) => JSON.parse(d) as Record<string, any>);
}

const chat = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user', content: 'hi' }], ...extra });
const sent = () => upstream.requests.at(-1)!.body!;

t.test('request set, default and remove reach the upstream, including dot paths', async (t) => {
  const gw = await gatewayWith(`pipeline:
  - transform:
      rules:
        - request:
            set: { max_tokens: 100, metadata.team: platform }
            default: { temperature: 0.2, top_p: 0.9, metadata.env: prod }
            remove: [user, metadata.secret]
  - route
`);
  t.teardown(() => gw.close());
  const { res } = await postJson(gw, '/v1/chat/completions', chat('gpt-4o-mini', { max_tokens: 4000, temperature: 1.5, user: 'alice', metadata: { team: 'x', secret: 's', keep: 'k' } }));
  t.equal(res.status, 200);
  const body = sent();
  t.equal(body['max_tokens'], 100, 'set overwrites what the client sent');
  t.equal(body['temperature'], 1.5, 'default keeps what the client sent');
  t.equal(body['top_p'], 0.9, 'default fills what the client left out');
  t.notOk('user' in body, 'remove drops a top-level field');
  t.same(body['metadata'], { team: 'platform', env: 'prod', keep: 'k' }, 'dot paths set, default and remove nested fields');
});

t.test('a dot path creates the objects it needs', async (t) => {
  const gw = await gatewayWith(`pipeline:
  - transform: { rules: [{ request: { set: { metadata.gateway.name: switchyard } } }] }
  - route
`);
  t.teardown(() => gw.close());
  await postJson(gw, '/v1/chat/completions', chat('gpt-4o-mini'));
  t.same(sent()['metadata'], { gateway: { name: 'switchyard' } });
});

t.test('renaming the model happens before routing, and restore_model reports the requested id', async (t) => {
  const gw = await gatewayWith(`pipeline:
  - transform:
      rules:
        - match: { models: [gpt-4] }
          request: { model: gpt-4o-mini }
          response: { restore_model: true }
  - route
`);
  t.teardown(() => gw.close());
  const { res, json } = await postJson(gw, '/v1/chat/completions', chat('gpt-4'));
  t.equal(res.status, 200, 'gpt-4 is not in models: but the renamed id is');
  t.equal(sent()['model'], 'gpt-4o-mini');
  t.equal(json['model'], 'gpt-4', 'JSON response says the model the client asked for');
  const chunks = await streamChunks(await post(gw, '/v1/chat/completions', chat('gpt-4', { stream: true })));
  t.ok(chunks.length > 2);
  t.ok(chunks.every((c) => c['model'] === 'gpt-4'), 'every stream chunk says the requested model');
});

t.test('without restore_model the response keeps the provider model id', async (t) => {
  const gw = await gatewayWith(`pipeline:
  - transform: { rules: [{ match: { models: [gpt-4] }, request: { model: gpt-4o-mini } }] }
  - route
`);
  t.teardown(() => gw.close());
  const { json } = await postJson(gw, '/v1/chat/completions', chat('gpt-4'));
  t.equal(json['model'], 'gpt-4o-mini');
});

t.test('system prompt: prepend, append after the client system messages, or replace them', async (t) => {
  const gw = await gatewayWith(`pipeline:
  - transform:
      rules:
        - { match: { models: [p-string] }, request: { system_prompt: Be brief. } }
        - { match: { models: [p-prepend] }, request: { system_prompt: { content: Be brief., position: prepend } } }
        - { match: { models: [p-object] }, request: { system_prompt: { content: Be brief. } } }
        - { match: { models: [p-append] }, request: { system_prompt: { content: Be brief., position: append } } }
        - { match: { models: [p-replace] }, request: { system_prompt: { content: Be brief., position: replace } } }
  - route
`);
  t.teardown(() => gw.close());
  const messages = [
    { role: 'system', content: 'client system' },
    { role: 'developer', content: 'client developer' },
    { role: 'user', content: 'hi' },
  ];
  const roles = async (model: string) => {
    await postJson(gw, '/v1/chat/completions', { model, messages });
    return (sent()['messages'] as { role: string; content: string }[]).map((m) => `${m.role}:${m.content}`);
  };
  const ours = 'system:Be brief.';
  t.same(await roles('p-string'), [ours, 'system:client system', 'developer:client developer', 'user:hi'], 'a string prepends');
  t.same(await roles('p-prepend'), [ours, 'system:client system', 'developer:client developer', 'user:hi']);
  t.same(await roles('p-object'), [ours, 'system:client system', 'developer:client developer', 'user:hi'], 'position defaults to prepend');
  t.same(await roles('p-append'), ['system:client system', 'developer:client developer', ours, 'user:hi']);
  t.same(await roles('p-replace'), [ours, 'user:hi']);
});

t.test('request headers set and remove reach the upstream', async (t) => {
  const gw = await gatewayWith(`pipeline:
  - transform:
      rules:
        - request:
            headers:
              set: { X-Team: blue, openai-organization: org-gateway }
              remove: [X-Request-Id]
  - route
`);
  t.teardown(() => gw.close());
  await postJson(gw, '/v1/chat/completions', chat('gpt-4o-mini'));
  const headers = upstream.requests.at(-1)!.headers;
  t.equal(headers['x-team'], 'blue');
  t.equal(headers['openai-organization'], 'org-gateway');
  t.notOk('x-request-id' in headers, 'the header the adapter adds is removed');
  t.equal(headers['authorization'], 'Bearer sk-upstream-secret', 'other headers are untouched');
});

const responseRules = `pipeline:
  - transform:
      rules:
        - response:
            set: { service_tier: gateway, choices.0.gateway: true }
            remove: [system_fingerprint, choices.not_an_index]
            rename: { id: request_ref, usage.total_tokens: usage.all_tokens }
            headers: { set: { X-Served-By: switchyard }, remove: [x-switchyard-provider] }
  - route
`;

t.test('response set, remove, rename and headers on a JSON response', async (t) => {
  const gw = await gatewayWith(responseRules);
  t.teardown(() => gw.close());
  const { res, json } = await postJson(gw, '/v1/chat/completions', chat('gpt-4o-mini'));
  t.equal(json['service_tier'], 'gateway');
  t.equal(json['choices'][0].gateway, true, 'dot path with an array index');
  t.notOk('system_fingerprint' in json);
  t.equal(json['choices'].length, 1, 'a non-index segment under an array removes nothing');
  t.notOk('id' in json);
  t.equal(json['request_ref'], 'chatcmpl-123');
  t.same(json['usage'], { prompt_tokens: 9, completion_tokens: 12, all_tokens: 21 });
  t.equal(res.headers.get('x-served-by'), 'switchyard');
  t.equal(res.headers.get('x-switchyard-provider'), null);
  t.equal(res.headers.get('x-switchyard-model'), 'gpt-4o-mini', 'other gateway headers stay');
});

t.test('response rules apply to every chunk of a stream', async (t) => {
  const gw = await gatewayWith(responseRules);
  t.teardown(() => gw.close());
  const res = await post(gw, '/v1/chat/completions', chat('gpt-4o-mini', { stream: true, stream_options: { include_usage: true } }));
  t.equal(res.headers.get('x-served-by'), 'switchyard', 'headers are rewritten before the stream starts');
  t.equal(res.headers.get('x-switchyard-provider'), null);
  const chunks = await streamChunks(res);
  t.ok(chunks.length >= 4, `got ${chunks.length} chunks`);
  for (const c of chunks) {
    t.equal(c['service_tier'], 'gateway');
    t.notOk('system_fingerprint' in c);
    t.equal(c['request_ref'], 'chatcmpl-123');
    t.notOk('id' in c);
  }
  const usage = chunks.find((c) => c['usage'])!['usage'];
  t.same(usage, { prompt_tokens: 9, completion_tokens: 12, all_tokens: 21 }, 'the usage chunk is renamed too');
  t.equal(chunks.map((c) => c['choices'][0]?.delta?.content ?? '').join(''), 'upstream says: hi ', 'content passes through');
});

t.test('response rewrites do not change the usage the gateway records', async (t) => {
  const gw = await gatewayWith(`pipeline:
  - transform: { rules: [{ response: { remove: [usage.prompt_tokens, usage.completion_tokens] } }] }
  - route
`);
  t.teardown(() => gw.close());
  for (const stream of [false, true]) {
    const res = await post(gw, '/v1/chat/completions', chat('demo', { stream, stream_options: stream ? { include_usage: true } : undefined }));
    if (stream) await streamChunks(res);
    else t.same(Object.keys(((await res.json()) as { usage: object }).usage), ['total_tokens'], 'the client sees the rewritten usage');
  }
  await new Promise((r) => setTimeout(r, 50));
  const lines = gw.logs.filter((l) => l['msg'] === 'request');
  t.equal(lines.length, 2);
  for (const line of lines) t.match(line['usage'], { prompt_tokens: Number, completion_tokens: Number }, 'the access log keeps the real usage');
});

t.test('match by model globs, endpoints and paths', async (t) => {
  const gw = await gatewayWith(`pipeline:
  - transform:
      rules:
        - { match: { models: ["gpt-4o*"] }, request: { set: { metadata.glob: hit } } }
        - { match: { endpoints: [embeddings] }, request: { set: { encoding_format: float } } }
        - { match: { paths: [/v1/completions] }, request: { set: { suffix: "!" } } }
        - { match: { models: ["text-*"], endpoints: [chat.completions] }, request: { set: { both: true } } }
  - route
`);
  t.teardown(() => gw.close());
  await postJson(gw, '/v1/chat/completions', chat('gpt-4o-mini'));
  t.same(sent()['metadata'], { glob: 'hit' }, 'gpt-4o-mini matches gpt-4o*');
  t.notOk('encoding_format' in sent());

  await postJson(gw, '/v1/chat/completions', chat('p-other'));
  t.notOk('metadata' in sent(), 'p-other does not match gpt-4o*');

  await postJson(gw, '/v1/embeddings', { model: 'text-embedding-3-small', input: 'a' });
  t.equal(sent()['encoding_format'], 'float', 'endpoint match');
  t.notOk('both' in sent(), 'every condition of a match must hold');
  t.notOk('suffix' in sent());

  await postJson(gw, '/api/v1/completions', { model: 'gpt-3.5-turbo-instruct', prompt: 'x' });
  t.equal(sent()['suffix'], '!', 'path match sees /api/v1 as /v1');
  t.notOk('encoding_format' in sent());
});

t.test('rules run in order on the request and in reverse on the response', async (t) => {
  const gw = await gatewayWith(`pipeline:
  - transform:
      rules:
        - match: { models: [gpt-4] }
          request: { model: gpt-4o-mini, set: { metadata.order: first } }
          response: { set: { order: first } }
        - match: { models: [gpt-4] }
          request: { set: { metadata.order: second } }
          response: { set: { order: second } }
  - route
`);
  t.teardown(() => gw.close());
  const { json } = await postJson(gw, '/v1/chat/completions', chat('gpt-4'));
  t.equal(sent()['metadata'] && (sent()['metadata'] as Record<string, unknown>)['order'], 'second', 'the later rule wins on the request');
  t.equal(json['order'], 'first', 'the earlier rule runs last on the way back');
  t.equal(sent()['model'], 'gpt-4o-mini', 'the second rule still matched the model the client sent');
});

t.test('a request without a match leaves body, headers and response untouched', async (t) => {
  const gw = await gatewayWith(`pipeline:
  - transform:
      rules:
        - match: { models: [nothing-matches] }
          request: { set: { max_tokens: 1 }, headers: { set: { x-team: red } } }
          response: { set: { touched: true }, headers: { set: { x-touched: "1" } } }
  - route
`);
  t.teardown(() => gw.close());
  const { res, json } = await postJson(gw, '/v1/chat/completions', chat('gpt-4o-mini'));
  t.same(sent(), chat('gpt-4o-mini'));
  t.notOk('x-team' in upstream.requests.at(-1)!.headers);
  t.notOk('touched' in json);
  t.equal(res.headers.get('x-touched'), null);
});

t.test('on a raw proxy route, a paths match sets and removes the forwarded request headers', async (t) => {
  const gw = await gatewayWith(`pipeline: [route]
routes:
  - path: /internal/*
    upstream: ${upstream.url}
    pipeline:
      - transform:
          rules:
            - match: { paths: ["/internal/search*"] }
              request: { headers: { set: { x-team: ops }, remove: [x-debug] } }
`);
  t.teardown(() => gw.close());
  for (const path of ['/internal/search?q=1', '/internal/other']) {
    const res = await fetch(`${gw.url}${path}`, { headers: { 'x-debug': '1' } });
    await res.arrayBuffer();
  }
  const [search, other] = upstream.requests;
  t.equal(search?.url, '/internal/search?q=1');
  t.equal(search?.headers['x-team'], 'ops');
  t.notOk(search && 'x-debug' in search.headers);
  t.equal(other?.url, '/internal/other');
  t.notOk(other && 'x-team' in other.headers, 'the other path does not match');
  t.equal(other?.headers['x-debug'], '1');
});
