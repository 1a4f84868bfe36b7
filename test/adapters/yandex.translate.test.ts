/**
 * `yandex` request translation (OpenAI request → Foundation Models REST request), per
 * https://yandex.cloud/en/docs/ai-studio/text-generation/api-ref/TextGeneration/completion and
 * https://yandex.cloud/en/docs/ai-studio/embeddings/api-ref/Embeddings/textEmbedding.
 * Pure: buildRequest only, no network.
 */
import t, { type Test } from 'tap';
import { modelUri } from '../../plugins/route/providers/yandex/model-uri.js';
import { chatOp, embeddingOp, makeYandex } from './yandex-adapter.js';
import { assertServes, expectError, sentBody } from './harness.js';

const { adapter } = makeYandex();
const body = (b: Record<string, unknown>, model?: string) => sentBody(adapter, chatOp(b, model ? { model } : {}));
const rejects = (t: Test, b: Record<string, unknown>, code: string, param: string) => expectError(t, () => body(b), 400, code, param);

t.test('modelUri: plain id, id with branch, fine-tuned suffix, full URIs', async (t) => {
  t.equal(body({}, 'yandexgpt-lite')['modelUri'], 'gpt://b1gfolder/yandexgpt-lite/latest', 'plain id gets the latest branch');
  t.equal(body({}, 'yandexgpt/rc')['modelUri'], 'gpt://b1gfolder/yandexgpt/rc', 'an explicit branch is kept');
  t.equal(body({}, 'yandexgpt-lite@ft-123')['modelUri'], 'gpt://b1gfolder/yandexgpt-lite/latest@ft-123', 'fine-tuned suffix after the branch');
  t.equal(body({}, 'gpt://b1gother/yandexgpt/deprecated')['modelUri'], 'gpt://b1gother/yandexgpt/deprecated', 'a full gpt:// URI passes through');
  t.equal(modelUri('emb', 'text-search-query', 'f1', 'yc'), 'emb://f1/text-search-query/latest');
  t.equal(modelUri('gpt', 'ds://bt1abc', undefined, 'yc'), 'ds://bt1abc', 'no folder needed for a full URI');
  const noFolder = makeYandex({ folder_id: undefined }).adapter;
  const err = expectError(t, () => noFolder.buildRequest(chatOp({})), 400, 'invalid_value', 'model');
  t.match(err.message, /folder_id/);
  t.equal(sentBody(noFolder, chatOp({}, { model: 'gpt://b1gx/aliceai-llm/latest' }))['modelUri'], 'gpt://b1gx/aliceai-llm/latest');
});

t.test('request line and headers: Api-Key, x-folder-id, request id, logging off, overrides', async (t) => {
  const { adapter } = makeYandex({ base_url: 'http://127.0.0.1:9/', headers: { 'X-Team': 'blue' } });
  const req = await adapter.buildRequest(chatOp({}, { stream: true, headers: { 'x-extra': 'yes', 'x-team': null } }));
  t.equal(req.url, 'http://127.0.0.1:9/foundationModels/v1/completion');
  t.equal(req.method, 'POST');
  t.match(req.headers, { authorization: 'Api-Key AQVN-test-key-123', 'x-folder-id': 'b1gfolder', 'x-client-request-id': 'req-1', 'x-data-logging-enabled': 'false', 'content-type': 'application/json', 'x-extra': 'yes' });
  t.notOk('x-team' in req.headers, 'a transform plugin can remove a configured header');
  t.equal(adapter.streamFormat, 'ndjson');
  t.same(JSON.parse(String(req.body))['completionOptions'], { stream: true });
  const defaults = await makeYandex().adapter.buildRequest(chatOp({}));
  t.equal(defaults.url, 'https://llm.api.cloud.yandex.net/foundationModels/v1/completion', 'default base_url');
  const logging = await makeYandex({ data_logging: true }).adapter.buildRequest(chatOp({}));
  t.notOk('x-data-logging-enabled' in logging.headers, 'data_logging: true leaves Yandex logging on');
});

t.test('an IAM token goes out as a Bearer token; api_key and iam_token together are a config error', async (t) => {
  const iam = await makeYandex({ api_key: undefined, iam_token: 't1.9euelZq-iam' }).adapter.buildRequest(chatOp({}));
  t.equal(iam.headers['authorization'], 'Bearer t1.9euelZq-iam');
  t.equal(iam.headers['x-folder-id'], 'b1gfolder');
  t.throws(() => makeYandex({ iam_token: 't1.x' }), /set api_key or iam_token, not both/, 'both credentials are a config error');
});

t.test('serves chat completions and embeddings only', async (t) => {
  assertServes(t, adapter, ['chat.completions', 'embeddings']);
});

t.test('system and developer messages become system messages in place; parts are joined', async (t) => {
  t.same(body({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'developer', content: [{ type: 'text', text: 'Use ' }, { type: 'text', text: 'French.' }] }, { role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Salut' }, { role: 'user', content: 'Ça va?' }] })['messages'], [
    { role: 'system', text: 'Be brief.' },
    { role: 'system', text: 'Use French.' },
    { role: 'user', text: 'Hi' },
    { role: 'assistant', text: 'Salut' },
    { role: 'user', text: 'Ça va?' },
  ]);
});

t.test('image, audio and file parts are refused with 400 (the native API reads text only)', async (t) => {
  const err = rejects(t, { messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] }] }, 'unsupported_parameter', 'messages[0].content[1]');
  t.match(err.message, /image_url/);
  rejects(t, { messages: [{ role: 'user', content: [{ type: 'file', file: { file_id: 'f' } }] }] }, 'unsupported_parameter', 'messages[0].content[0]');
});

t.test('a content part, message field or tool call Yandex cannot take is a 400 naming it, never dropped', async (t) => {
  const user = { role: 'user', content: 'Hi' };
  const audio = rejects(t, { messages: [{ role: 'system', content: 'Be brief.' }, user, { role: 'user', content: [{ type: 'text', text: 'Listen' }, { type: 'input_audio', input_audio: { data: 'AAA', format: 'wav' } }] }] }, 'unsupported_parameter', 'messages[2].content[1]');
  t.match(audio.message, "Provider 'yc' cannot take content parts of type 'input_audio'");
  rejects(t, { messages: [{ role: 'user', content: [{ type: 'x_future_part' }] }] }, 'unsupported_parameter', 'messages[0].content[0]');
  const image = { type: 'image_url', image_url: { url: 'https://example.com/a.png' } };
  rejects(t, { messages: [{ role: 'system', content: [{ type: 'text', text: 'Look:' }, image] }, user] }, 'unsupported_parameter', 'messages[0].content[1]');
  rejects(t, { messages: [user, { role: 'assistant', content: [image] }] }, 'unsupported_parameter', 'messages[1].content[0]');
  const toolTurn = { role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] };
  rejects(t, { messages: [user, toolTurn, { role: 'tool', tool_call_id: 'c1', content: [image] }] }, 'unsupported_parameter', 'messages[2].content[0]');
  rejects(t, { messages: [user, { role: 'assistant', audio: { id: 'audio_1' } }] }, 'unsupported_parameter', 'messages[1].audio');
  rejects(t, { messages: [user, { role: 'assistant', function_call: { name: 'f', arguments: '{}' } }] }, 'unsupported_parameter', 'messages[1].function_call');
  rejects(t, { messages: [user, { role: 'assistant', tool_calls: [{ id: 'c1', type: 'custom', custom: { name: 'x', input: 'y' } }] }] }, 'unsupported_parameter', 'messages[1].tool_calls[0]');
});

t.test("an assistant turn's refusal is kept as its text; a participant name follows unsupported_params", async (t) => {
  t.same(body({ messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: null, refusal: 'No.' }] })['messages'], [{ role: 'user', text: 'Hi' }, { role: 'assistant', text: 'No.' }]);
  const dropping = makeYandex();
  t.same(sentBody(dropping.adapter, chatOp({ messages: [{ role: 'user', name: 'alice', content: 'Hi' }] }))['messages'], [{ role: 'user', text: 'Hi' }]);
  t.match(dropping.logs.find((l) => l['msg'] === 'dropped request fields the provider cannot honour'), { dropped: ['messages[0].name'] });
  expectError(t, () => makeYandex({ unsupported_params: 'reject' }).adapter.buildRequest(chatOp({ messages: [{ role: 'user', name: 'alice', content: 'Hi' }] })), 400, 'unsupported_parameter', 'messages[0].name');
});

t.test('tool calls become toolCallList; tool results a user toolResultList with recovered names', async (t) => {
  const b = body({
    messages: [
      { role: 'user', content: 'Weather?' },
      { role: 'assistant', content: 'Checking.', tool_calls: [{ id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }, { id: 'call_b', type: 'function', function: { name: 'now', arguments: '' } }] },
      { role: 'tool', tool_call_id: 'call_b', content: [{ type: 'text', text: '12:00' }] },
      { role: 'tool', tool_call_id: 'call_a', content: '{"temp":21}' },
      { role: 'user', content: 'Thanks' },
    ],
  });
  t.same(b['messages'], [
    { role: 'user', text: 'Weather?' },
    { role: 'assistant', text: 'Checking.' },
    { role: 'assistant', toolCallList: { toolCalls: [{ functionCall: { name: 'get_weather', arguments: { city: 'Paris' } } }, { functionCall: { name: 'now', arguments: {} } }] } },
    { role: 'user', toolResultList: { toolResults: [{ functionResult: { name: 'now', content: '12:00' } }, { functionResult: { name: 'get_weather', content: '{"temp":21}' } }] } },
    { role: 'user', text: 'Thanks' },
  ]);
  const err = rejects(t, { messages: [{ role: 'tool', tool_call_id: 'call_unknown', content: 'x' }] }, 'invalid_value', 'messages');
  t.match(err.message, /call_unknown/);
  rejects(t, { messages: [{ role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{oops' } }] }] }, 'invalid_value', 'messages');
  rejects(t, { messages: [{ role: 'function', name: 'f', content: 'x' }] }, 'unsupported_parameter', 'messages[0].role');
});

const weather = { type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: true } };

t.test('tools become {function: {name, description, parameters, strict}}', async (t) => {
  t.same(body({ tools: [weather, { type: 'function', function: { name: 'ping' } }] })['tools'], [
    { function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } }, description: 'Weather for a city', strict: true } },
    { function: { name: 'ping', parameters: { type: 'object', properties: {} } } },
  ]);
  rejects(t, { tools: [{ type: 'custom', custom: { name: 'x' } }] }, 'unsupported_parameter', 'tools');
});

t.test('tool_choice maps to toolChoice mode / functionName; parallel_tool_calls to parallelToolCalls', async (t) => {
  const choice = (tool_choice: unknown) => body({ tools: [weather], tool_choice })['toolChoice'];
  t.same(choice('auto'), { mode: 'AUTO' });
  t.same(choice('none'), { mode: 'NONE' });
  t.same(choice('required'), { mode: 'REQUIRED' });
  t.same(choice({ type: 'function', function: { name: 'get_weather' } }), { functionName: 'get_weather' });
  t.equal(choice(undefined), undefined, 'no toolChoice by default');
  t.equal(body({ tools: [weather], parallel_tool_calls: false })['parallelToolCalls'], false);
  rejects(t, { tool_choice: 'required' }, 'invalid_value', 'tool_choice');
  rejects(t, { tools: [weather], tool_choice: 'sometimes' }, 'invalid_value', 'tool_choice');
  t.notOk('toolChoice' in body({ tool_choice: 'none' }), "'none' without tools is harmless");
});

t.test('temperature, max tokens (as an int64 string) and reasoning_effort', async (t) => {
  t.same(body({ temperature: 0.3, max_tokens: 100 })['completionOptions'], { stream: false, temperature: 0.3, maxTokens: '100' });
  t.equal((body({ max_tokens: 100, max_completion_tokens: 200 })['completionOptions'] as { maxTokens: string }).maxTokens, '200', 'max_completion_tokens wins');
  t.same((body({ reasoning_effort: 'high' })['completionOptions'] as Record<string, unknown>)['reasoningOptions'], { mode: 'ENABLED_HIDDEN' });
  t.same((body({ reasoning_effort: 'none' })['completionOptions'] as Record<string, unknown>)['reasoningOptions'], { mode: 'DISABLED' });
  t.match(rejects(t, { temperature: 1.5 }, 'invalid_value', 'temperature').message, /0 to 1/);
  rejects(t, { max_tokens: 0 }, 'invalid_value', 'max_tokens');
});

t.test('response_format: json_object → jsonObject, json_schema → jsonSchema', async (t) => {
  const schema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] };
  t.equal(body({ response_format: { type: 'json_object' } })['jsonObject'], true);
  t.same(body({ response_format: { type: 'json_schema', json_schema: { name: 'answer', schema } } })['jsonSchema'], { schema });
  const plain = body({ response_format: { type: 'text' } });
  t.notOk('jsonObject' in plain || 'jsonSchema' in plain, 'text adds nothing');
  rejects(t, { response_format: { type: 'json_schema', json_schema: { name: 'x' } } }, 'invalid_value', 'response_format');
});

t.test('n > 1 is always rejected; n = 1 is fine', async (t) => {
  rejects(t, { n: 2 }, 'unsupported_parameter', 'n');
  t.notOk('n' in body({ n: 1 }));
});

t.test('unsupported_params: drop leaves top_p/stop/seed/penalties/user out (logged); reject answers 400', async (t) => {
  const dropping = makeYandex();
  const b = sentBody(dropping.adapter, chatOp({ top_p: 0.9, stop: ['END'], seed: 7, frequency_penalty: 0.5, presence_penalty: 0.1, user: 'u1' }));
  t.same(Object.keys(b).sort(), ['completionOptions', 'messages', 'modelUri']);
  t.match(dropping.logs.find((l) => l['msg'] === 'dropped request fields the provider cannot honour'), { level: 'debug', dropped: ['top_p', 'stop', 'seed', 'frequency_penalty', 'presence_penalty', 'user'] });
  const rejecting = makeYandex({ unsupported_params: 'reject' }).adapter;
  expectError(t, () => rejecting.buildRequest(chatOp({ stop: 'END' })), 400, 'unsupported_parameter', 'stop');
});

t.test('embeddings: one text per request to textEmbedding; dimensions → dim; longer lists are a 400', async (t) => {
  const req = await adapter.buildRequest(embeddingOp({ input: 'hello', dimensions: 256 }));
  t.equal(req.url, 'https://llm.api.cloud.yandex.net/foundationModels/v1/textEmbedding');
  t.same(JSON.parse(String(req.body)), { modelUri: 'emb://b1gfolder/text-search-doc/latest', text: 'hello', dim: '256' });
  t.same(sentBody(adapter, embeddingOp({ input: ['only one'] }, 'text-search-query')), { modelUri: 'emb://b1gfolder/text-search-query/latest', text: 'only one' }, 'a one-element list is one text');
  const many = expectError(t, () => adapter.buildRequest(embeddingOp({ input: ['a', 'b'] })), 400, 'unsupported_parameter', 'input');
  t.match(many.message, /one text per request/);
  expectError(t, () => adapter.buildRequest(embeddingOp({ input: [1, 2, 3] })), 400, 'invalid_value', 'input');
  expectError(t, () => adapter.buildRequest(embeddingOp({ input: [] })), 400, 'invalid_value', 'input');
  expectError(t, () => makeYandex({ unsupported_params: 'reject' }).adapter.buildRequest(embeddingOp({ input: 'x', user: 'u' })), 400, 'unsupported_parameter', 'user');
});
