/**
 * Request translation of the `gemini` adapter (OpenAI → Gemini), per the Gemini REST reference:
 * https://ai.google.dev/api/generate-content#request-body, https://ai.google.dev/api/embeddings,
 * https://ai.google.dev/gemini-api/docs/image-generation.
 */
import t, { type Test } from 'tap';
import { SKIP_SIGNATURE } from '../../plugins/route/providers/gemini/messages.js';
import { geminiOp, makeGemini } from './gemini-adapter.js';
import { built, expectError, sentBody } from './harness.js';

const { adapter } = makeGemini();
const body = (b: Record<string, unknown>, extra = {}) => sentBody(adapter, geminiOp(b, extra));
const rejects = (t: Test, fn: () => unknown, code: string, param?: string) => expectError(t, fn, 400, code, param);

t.test('system and developer messages become one system instruction, in order', async (t) => {
  const b = body({ messages: [{ role: 'system', content: 'A' }, { role: 'user', content: 'Hi' }, { role: 'developer', content: [{ type: 'text', text: 'B' }] }, { role: 'assistant', content: 'Yo' }] });
  t.same(b['systemInstruction'], { parts: [{ text: 'A' }, { text: 'B' }] });
  t.same(b['contents'], [{ role: 'user', parts: [{ text: 'Hi' }] }, { role: 'model', parts: [{ text: 'Yo' }] }]);
});

t.test('images: data URLs go inline, http(s) URLs as fileData, anything else is a 400', async (t) => {
  const b = body({
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Compare' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
          { type: 'image_url', image_url: { url: 'https://example.com/cat.JPG?size=large' } },
          { type: 'image_url', image_url: { url: 'https://example.com/render' } },
          { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } },
          { type: 'file', file: { file_data: 'data:application/pdf;base64,JVBERi0=', filename: 'a.pdf' } },
        ],
      },
    ],
  });
  t.same((b['contents'] as { parts: unknown[] }[])[0]!.parts, [
    { text: 'Compare' },
    { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } },
    { fileData: { fileUri: 'https://example.com/cat.JPG?size=large', mimeType: 'image/jpeg' } },
    { fileData: { fileUri: 'https://example.com/render' } },
    { inlineData: { mimeType: 'audio/wav', data: 'UklGRg==' } },
    { inlineData: { mimeType: 'application/pdf', data: 'JVBERi0=' } },
  ]);
  rejects(t, () => body({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'ftp://example.com/a.png' } }] }] }), 'invalid_image_url', 'messages[0].content[0]');
  rejects(t, () => body({ messages: [{ role: 'user', content: [{ type: 'file', file: { file_id: 'file-123' } }] }] }), 'unsupported_parameter', 'messages[0].content[0]');
});

t.test('a content part, message field or tool call Gemini cannot take is a 400 naming it, never dropped', async (t) => {
  const user = { role: 'user', content: 'Hi' };
  const unknown = rejects(t, () => body({ messages: [{ role: 'system', content: 'Be brief.' }, user, { role: 'user', content: [{ type: 'text', text: 'Look' }, { type: 'x_future_part', data: 1 }] }] }), 'unsupported_parameter', 'messages[2].content[1]');
  t.match(unknown.message, "Provider 'g' cannot take content parts of type 'x_future_part'");
  const image = { type: 'image_url', image_url: { url: 'https://example.com/a.png' } };
  rejects(t, () => body({ messages: [{ role: 'system', content: [{ type: 'text', text: 'Look:' }, image] }, user] }), 'unsupported_parameter', 'messages[0].content[1]');
  rejects(t, () => body({ messages: [user, { role: 'assistant', content: [image] }] }), 'unsupported_parameter', 'messages[1].content[0]');
  const toolTurn = { role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] };
  rejects(t, () => body({ messages: [user, toolTurn, { role: 'tool', tool_call_id: 'c1', content: [image] }] }), 'unsupported_parameter', 'messages[2].content[0]');
  rejects(t, () => body({ messages: [user, { role: 'assistant', audio: { id: 'audio_1' } }] }), 'unsupported_parameter', 'messages[1].audio');
  rejects(t, () => body({ messages: [user, { role: 'assistant', tool_calls: [{ id: 'c1', type: 'custom', custom: { name: 'x', input: 'y' } }] }] }), 'unsupported_parameter', 'messages[1].tool_calls[0]');
});

t.test("an assistant's refusal is its text, a legacy function_call a functionCall; a participant name follows unsupported_params", async (t) => {
  const b = body({
    messages: [
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: null, refusal: 'No.' },
      { role: 'user', content: 'Weather?' },
      { role: 'assistant', content: null, function_call: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
      { role: 'function', name: 'get_weather', content: '{"temp":21}' },
    ],
  });
  t.same(b['contents'], [
    { role: 'user', parts: [{ text: 'Hi' }] },
    { role: 'model', parts: [{ text: 'No.' }] },
    { role: 'user', parts: [{ text: 'Weather?' }] },
    { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: SKIP_SIGNATURE }] },
    { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { temp: 21 } } }] },
  ]);
  const dropping = makeGemini();
  t.same(sentBody(dropping.adapter, geminiOp({ messages: [{ role: 'user', name: 'alice', content: 'Hi' }] }))['contents'], [{ role: 'user', parts: [{ text: 'Hi' }] }]);
  t.same(dropping.logs.find((l) => l['msg'] === 'dropped parameters the provider cannot honour')?.['dropped'], ['messages[0].name']);
  const strict = makeGemini({ unsupported_params: 'reject' }).adapter;
  rejects(t, () => strict.buildRequest(geminiOp({ messages: [{ role: 'user', name: 'alice', content: 'Hi' }] })), 'unsupported_parameter', 'messages[0].name');
});

t.test('tool_choice maps to functionCallingConfig modes', async (t) => {
  const tc = (choice: unknown) => body({ tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: choice })['toolConfig'];
  t.same(tc('auto'), { functionCallingConfig: { mode: 'AUTO' } });
  t.same(tc('none'), { functionCallingConfig: { mode: 'NONE' } });
  t.same(tc('required'), { functionCallingConfig: { mode: 'ANY' } });
  t.same(tc({ type: 'function', function: { name: 'f' } }), { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['f'] } });
  rejects(t, () => tc({ type: 'allowed_tools' }), 'invalid_value', 'tool_choice');
  rejects(t, () => body({ tools: [{ type: 'custom', custom: { name: 'x' } }] }), 'unsupported_tool', 'tools[0]');
});

t.test('sampling parameters go to generationConfig; max_completion_tokens wins over max_tokens', async (t) => {
  const b = body({ temperature: 0.5, top_p: 0.9, max_tokens: 10, max_completion_tokens: 20, stop: 'END', n: 2, seed: 7, presence_penalty: 0.1, frequency_penalty: 0.2, reasoning_effort: 'low' });
  t.same(b['generationConfig'], { temperature: 0.5, topP: 0.9, maxOutputTokens: 20, stopSequences: ['END'], candidateCount: 2, seed: 7, presencePenalty: 0.1, frequencyPenalty: 0.2, thinkingConfig: { thinkingLevel: 'LOW' } });
  t.same((body({ stop: ['a', 'b'] })['generationConfig'] as Record<string, unknown>)['stopSequences'], ['a', 'b']);
  t.notOk('generationConfig' in body({}), 'no empty generationConfig');
  rejects(t, () => body({ reasoning_effort: 'extreme' }), 'invalid_value', 'reasoning_effort');
});

t.test('JSON schema: json_schema sets responseJsonSchema with only the keywords Gemini accepts', async (t) => {
  const schema = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    type: 'object',
    additionalProperties: false,
    properties: {
      kind: { const: 'point' },
      name: { type: 'string', pattern: '^[a-z]+$', minLength: 1, default: 'x' },
      tags: { type: 'array', items: { type: 'string', maxLength: 3 }, uniqueItems: true },
      at: { anyOf: [{ $ref: '#/$defs/coord' }, { type: 'null' }] },
    },
    required: ['kind', 'name'],
    $defs: { coord: { type: 'object', properties: { x: { type: 'number', multipleOf: 0.5 } } } },
  };
  const b = body({ response_format: { type: 'json_schema', json_schema: { name: 'p', strict: true, schema } } });
  t.same(b['generationConfig'], {
    responseMimeType: 'application/json',
    responseJsonSchema: {
      type: 'object',
      additionalProperties: false,
      properties: { kind: { enum: ['point'] }, name: { type: 'string' }, tags: { type: 'array', items: { type: 'string' } }, at: { anyOf: [{ $ref: '#/$defs/coord' }, { type: 'null' }] } },
      required: ['kind', 'name'],
      $defs: { coord: { type: 'object', properties: { x: { type: 'number' } } } },
    },
  });
  t.same(body({ response_format: { type: 'json_object' } })['generationConfig'], { responseMimeType: 'application/json' });
  t.notOk('generationConfig' in body({ response_format: { type: 'text' } }));
  const tools = body({ tools: [{ type: 'function', function: { name: 'f', description: 'd', parameters: { $schema: 'x', type: 'object', properties: { a: { type: 'string', format: 'date', examples: ['2024-01-01'] } } } } }] })['tools'];
  t.same(tools, [{ functionDeclarations: [{ name: 'f', description: 'd', parametersJsonSchema: { type: 'object', properties: { a: { type: 'string', format: 'date' } } } }] }]);
});

t.test('unsupported parameters are dropped (and logged) or rejected, per unsupported_params', async (t) => {
  const dropping = makeGemini();
  const b = sentBody(dropping.adapter, geminiOp({ user: 'u-1', logit_bias: { 1: 2 }, parallel_tool_calls: false, temperature: 1 }));
  t.same(b['generationConfig'], { temperature: 1 });
  t.same(dropping.logs.find((l) => l['msg'] === 'dropped parameters the provider cannot honour')?.['dropped'], ['user', 'logit_bias', 'parallel_tool_calls']);
  const strict = makeGemini({ unsupported_params: 'reject' }).adapter;
  rejects(t, () => strict.buildRequest(geminiOp({ user: 'u-1' })), 'unsupported_parameter', 'user');
  rejects(t, () => strict.buildRequest(geminiOp({ parallel_tool_calls: false })), 'unsupported_parameter', 'parallel_tool_calls');
  t.doesNotThrow(() => strict.buildRequest(geminiOp({ parallel_tool_calls: true, n: 2, seed: 1 })), 'parallel_tool_calls: true and n are honoured');
});

t.test('tool turns: names recovered from call ids, results wrapped when not objects, signatures replayed', async (t) => {
  const b = body({
    messages: [
      { role: 'user', content: 'Go' },
      {
        role: 'assistant',
        content: 'Calling.',
        tool_calls: [
          { id: 'call_0_aaaaaaaaaaaaaaaa', type: 'function', function: { name: 'lookup', arguments: '{"q":"a"}' } },
          { id: 'gemini-native-7', type: 'function', function: { name: 'fetch', arguments: '' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_0_aaaaaaaaaaaaaaaa', content: 'plain text result' },
      { role: 'tool', tool_call_id: 'gemini-native-7', content: [{ type: 'text', text: '[1,2]' }] },
      { role: 'user', content: 'Thanks' },
    ],
  });
  t.same(b['contents'], [
    { role: 'user', parts: [{ text: 'Go' }] },
    { role: 'model', parts: [{ text: 'Calling.' }, { functionCall: { name: 'lookup', args: { q: 'a' } }, thoughtSignature: SKIP_SIGNATURE }, { functionCall: { name: 'fetch', args: {}, id: 'gemini-native-7' } }] },
    { role: 'user', parts: [{ functionResponse: { name: 'lookup', response: { output: 'plain text result' } } }, { functionResponse: { name: 'fetch', response: { output: [1, 2] }, id: 'gemini-native-7' } }] },
    { role: 'user', parts: [{ text: 'Thanks' }] },
  ]);
  rejects(t, () => body({ messages: [{ role: 'tool', tool_call_id: 'nope', content: 'x' }] }), 'unknown_tool_call', 'messages[0].tool_call_id');
  rejects(t, () => body({ messages: [{ role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{bad' } }] }] }), 'invalid_tool_call');
});

t.test('URLs, headers and served endpoints', async (t) => {
  const chat = built(adapter, geminiOp({}, { model: 'models/gemini-3.8-flash' }));
  t.equal(chat.url, 'https://generativelanguage.googleapis.com/v1beta/models/gemini-3.8-flash:generateContent');
  t.equal(chat.headers['x-goog-api-key'], 'gemini-test-key');
  t.notMatch(chat.url, 'key=', 'the key is never in the URL');
  const stream = built(adapter, geminiOp({ stream: true }, { stream: true, headers: { 'x-extra': 'on', 'x-request-id': null } }));
  t.equal(stream.url, 'https://generativelanguage.googleapis.com/v1beta/models/gemini-3.8-flash:streamGenerateContent?alt=sse');
  t.equal(stream.headers['accept'], 'text/event-stream');
  t.equal(stream.headers['x-extra'], 'on', 'transform headers are applied');
  t.notOk('x-request-id' in stream.headers, 'and removed');
  t.same([adapter.supports('chat.completions'), adapter.supports('embeddings'), adapter.supports('images.generations'), adapter.supports('completions')], [true, true, true, false]);
  const safe = makeGemini({ safety_settings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_ONLY_HIGH' }] }).adapter;
  t.same(sentBody(safe, geminiOp({}))['safetySettings'], [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_ONLY_HIGH' }]);
});

t.test('embeddings: one input → embedContent, a list → batchEmbedContents, dimensions → outputDimensionality', async (t) => {
  const op = (input: unknown, extra: Record<string, unknown> = {}) => geminiOp({ model: 'gemini-embedding-001', input, ...extra }, { endpoint: 'embeddings', model: 'gemini-embedding-001' });
  const one = built(adapter, op('hello', { dimensions: 256 }));
  t.equal(one.url, 'https://generativelanguage.googleapis.com/v1beta/models/gemini-embedding-001:embedContent');
  t.same(JSON.parse(String(one.body)), { content: { parts: [{ text: 'hello' }] }, outputDimensionality: 256 });
  const many = built(adapter, op(['a', 'b']));
  t.equal(many.url, 'https://generativelanguage.googleapis.com/v1beta/models/gemini-embedding-001:batchEmbedContents');
  t.same(JSON.parse(String(many.body)), { requests: [{ model: 'models/gemini-embedding-001', content: { parts: [{ text: 'a' }] } }, { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'b' }] } }] });
  rejects(t, () => built(adapter, op([1, 2, 3])), 'invalid_value', 'input');
});

t.test('images: generateContent with IMAGE output, size → nearest aspect ratio, n > 1 rejected', async (t) => {
  const op = (b: Record<string, unknown>) => geminiOp({ model: 'gemini-nano-banana-2.1', prompt: 'a cat', ...b }, { endpoint: 'images.generations', model: 'gemini-nano-banana-2.1' });
  const req = built(adapter, op({ size: '1536x1024' }));
  t.equal(req.url, 'https://generativelanguage.googleapis.com/v1beta/models/gemini-nano-banana-2.1:generateContent');
  t.same(JSON.parse(String(req.body)), { contents: [{ role: 'user', parts: [{ text: 'a cat' }] }], generationConfig: { responseModalities: ['IMAGE'], imageConfig: { aspectRatio: '3:2' } } });
  const ratio = (size: string) => (sentBody(adapter, op({ size }))['generationConfig'] as { imageConfig?: { aspectRatio: string } }).imageConfig?.aspectRatio;
  t.same(['1024x1024', '1792x1024', '1024x1792', '256x256', 'auto'].map(ratio), ['1:1', '16:9', '9:16', '1:1', undefined]);
  rejects(t, () => built(adapter, op({ n: 2 })), 'unsupported_parameter', 'n');
  rejects(t, () => built(adapter, op({ size: 'big' })), 'invalid_value', 'size');
  rejects(t, () => makeGemini({ unsupported_params: 'reject' }).adapter.buildRequest(op({ quality: 'hd' })), 'unsupported_parameter', 'quality');
});
