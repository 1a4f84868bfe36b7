/**
 * The OpenAI Responses dialect (https://platform.openai.com/docs/api-reference/responses): request
 * checks, Responses → chat translation, chat → Response, and the streamed event sequence. Every
 * Response and every streamed event is validated against the OpenAI OpenAPI spec's own schemas
 * (test/fixtures/openai/responses-schemas.json, extracted by extract-responses-schemas.ts beside it).
 */
import t, { type Test } from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Ajv } from 'ajv';
import OpenAI from 'openai';
import { readSchema } from '../../core/config/schema.js';
import { GatewayError, errors } from '../../core/errors.js';
import type { Inbound, SseEvent } from '../../core/api/dialects/dialect.js';
import { responseIdFor, responsesDialect } from '../../core/api/dialects/responses.js';
import { eventSchemaName, specSchema } from '../helpers/responses-spec.js';

const validResponse = specSchema('Response');

/** Fails the test unless `response` is a spec-valid Response. */
function assertResponse(t: Test, response: unknown, what: string): void {
  const ok = validResponse(response);
  t.ok(ok, `${what} is a valid Response`, ok ? {} : { errors: validResponse.errors?.slice(0, 5) });
}

/** Fails the test unless every event is valid against the spec's schema for its `type`, numbered 0…n, with `event:` = type. */
function assertEvents(t: Test, events: SseEvent[]): void {
  events.forEach((e, i) => {
    const data = e.data as { type: string; sequence_number: number };
    t.equal(e.event, data.type, `event ${i}: SSE name equals the type`);
    t.equal(data.sequence_number, i, `event ${i}: sequence_number`);
    const name = eventSchemaName(data.type);
    if (!name) return void t.fail(`event ${i}: ${data.type} is not a Responses event type`);
    const validate = specSchema(name);
    const ok = validate(data);
    t.ok(ok, `event ${i} (${data.type}) matches ${name}`, ok ? {} : { errors: validate.errors?.slice(0, 5), data });
  });
}

const REQUEST_ID = 'req-abc.123';

function inbound(body: Record<string, unknown>, extra?: Record<string, unknown>): Inbound {
  return { dialect: 'responses', body, operation: 'create', messagesText: '[]', headers: {}, ...(extra ? { extra } : {}) };
}

const toChat = (body: Record<string, unknown>) => responsesDialect.toChat(body, 'create');

function caught(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error('expected a GatewayError');
}

/** Runs a chat chunk list through the stream translator (then `end()`), as the core does. */
function streamOf(body: Record<string, unknown>, chunks: unknown[]): SseEvent[] {
  const s = responsesDialect.stream(inbound(body), REQUEST_ID);
  return [...chunks.flatMap((c) => s.chunk(c)), ...s.end()];
}

/** A chat.completion.chunk (https://platform.openai.com/docs/api-reference/chat-streaming/streaming). */
function chunk(delta: Record<string, unknown>, finish: string | null = null, usage?: Record<string, unknown>): Record<string, unknown> {
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1767000000,
    model: 'served-model',
    choices: usage ? [] : [{ index: 0, delta, finish_reason: finish, logprobs: null }],
    ...(usage ? { usage } : {}),
  };
}

const USAGE = { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19, prompt_tokens_details: { cached_tokens: 4 }, completion_tokens_details: { reasoning_tokens: 2 } };

/** A chat.completion (https://platform.openai.com/docs/api-reference/chat/object). */
function completion(message: Record<string, unknown>, finish = 'stop'): Record<string, unknown> {
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1767000000,
    model: 'served-model',
    choices: [{ index: 0, message: { role: 'assistant', refusal: null, ...message }, finish_reason: finish, logprobs: null }],
    usage: USAGE,
  };
}

t.test('request schema', async (t) => {
  const validate = new Ajv({ strict: false, allowUnionTypes: true, strictNumbers: true }).compile(readSchema('api/responses'));
  const good = [
    { model: 'm', input: 'Hi' },
    { input: [{ role: 'user', content: 'Hi' }] },
    { input: [{ type: 'message', role: 'developer', content: [{ type: 'input_text', text: 'x' }] }], tool_choice: 'required' },
    { input: [{ type: 'function_call', call_id: 'c1', name: 'f', arguments: '{}' }, { type: 'function_call_output', call_id: 'c1', output: 'ok' }] },
    { input: 'x', tools: [{ type: 'function', name: 'f', parameters: { type: 'object' }, strict: true }], tool_choice: { type: 'function', name: 'f' } },
    { input: 'x', text: { format: { type: 'json_schema', name: 's', schema: { type: 'object' } } }, reasoning: { effort: 'low' }, metadata: { a: 'b' } },
    { input: 'x', tools: [{ type: 'web_search' }] },
  ];
  for (const body of good) t.ok(validate(body), `accepts ${JSON.stringify(body)}`, { errors: validate.errors });
  const bad: [unknown, string][] = [
    [{ model: 'm' }, 'no input'],
    [{ input: [] }, 'empty input list'],
    [{ input: 42 }, 'input of the wrong type'],
    [{ input: [{ role: 'user' }] }, 'message without content'],
    [{ input: [{ role: 'robot', content: 'x' }] }, 'unknown role'],
    [{ input: [{ type: 'function_call', call_id: 'c', name: 'f' }] }, 'function_call without arguments'],
    [{ input: [{ type: 'function_call_output', call_id: 'c' }] }, 'function_call_output without output'],
    [{ input: [{ role: 'user', content: [{ type: 'input_text' }] }] }, 'input_text without text'],
    [{ input: 'x', tools: [{ type: 'function' }] }, 'function tool without name'],
    [{ input: 'x', tool_choice: 'sometimes' }, 'unknown tool_choice mode'],
    [{ input: 'x', tool_choice: { type: 'function' } }, 'tool_choice function without name'],
    [{ input: 'x', text: { format: { type: 'json_schema', name: 's' } } }, 'json_schema without schema'],
    [{ input: 'x', temperature: 3 }, 'temperature out of range'],
    [{ input: 'x', max_output_tokens: 1e999 }, 'infinite max_output_tokens'],
    [{ input: 'x', metadata: { a: 1 } }, 'non-string metadata'],
  ];
  for (const [body, why] of bad) t.notOk(validate(body), `refuses ${why}`);
});

t.test('toChat: string input, instructions and sampling fields', async (t) => {
  const { chat, extra } = toChat({
    model: 'gpt-x',
    input: 'Hello',
    instructions: 'Be brief.',
    temperature: 0.2,
    top_p: 0.9,
    max_output_tokens: 50,
    parallel_tool_calls: false,
    user: 'u-1',
    metadata: { team: 'blue' },
    reasoning: { effort: 'high', summary: 'auto' },
    previous_response_id: 'resp_prev',
    store: false,
  });
  t.same(chat, {
    model: 'gpt-x',
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hello' },
    ],
    temperature: 0.2,
    top_p: 0.9,
    max_completion_tokens: 50,
    parallel_tool_calls: false,
    user: 'u-1',
    reasoning_effort: 'high',
  });
  t.same(extra, { previous_response_id: 'resp_prev', store: false }, 'previous_response_id and store are kept for the responses plugin');
  t.notOk('stream' in chat, 'not streamed unless asked');
});

t.test('toChat: stream asks for usage', async (t) => {
  const { chat } = toChat({ input: 'x', stream: true });
  t.equal(chat['stream'], true);
  t.same(chat['stream_options'], { include_usage: true });
});

t.test('toChat: message items of every role, with text, images and files', async (t) => {
  const { chat } = toChat({
    input: [
      { role: 'developer', content: 'Answer in French.' },
      { type: 'message', role: 'system', content: [{ type: 'input_text', text: 'Be kind.' }] },
      {
        role: 'user',
        content: [
          { type: 'input_text', text: 'What is this?' },
          { type: 'input_image', image_url: 'https://example.com/a.png', detail: 'low' },
          { type: 'input_file', file_data: 'data:application/pdf;base64,AAAA', filename: 'a.pdf' },
        ],
      },
      { type: 'message', role: 'assistant', id: 'msg_1', status: 'completed', content: [{ type: 'output_text', text: 'Un chat.', annotations: [] }] },
      { role: 'assistant', content: 'Plain.' },
    ],
  });
  t.same(chat['messages'], [
    { role: 'developer', content: 'Answer in French.' },
    { role: 'system', content: 'Be kind.' },
    {
      role: 'user',
      content: [
        { type: 'text', text: 'What is this?' },
        { type: 'image_url', image_url: { url: 'https://example.com/a.png', detail: 'low' } },
        { type: 'file', file: { file_data: 'data:application/pdf;base64,AAAA', filename: 'a.pdf' } },
      ],
    },
    { role: 'assistant', content: 'Un chat.' },
    { role: 'assistant', content: 'Plain.' },
  ]);
});

t.test('toChat: function calls join the assistant turn before them; outputs become tool messages', async (t) => {
  const { chat } = toChat({
    input: [
      { role: 'user', content: 'Weather in Paris and Rome?' },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Checking.' }] },
      { type: 'function_call', id: 'fc_1', call_id: 'call_1', name: 'weather', arguments: '{"city":"Paris"}' },
      { type: 'function_call', call_id: 'call_2', name: 'weather', arguments: '{"city":"Rome"}' },
      { type: 'function_call_output', call_id: 'call_1', output: '18C' },
      { type: 'function_call_output', call_id: 'call_2', output: [{ type: 'input_text', text: '2' }, { type: 'input_text', text: '1C' }] },
      { type: 'reasoning', id: 'rs_1', summary: [] },
      { type: 'function_call', call_id: 'call_3', name: 'weather', arguments: '{}' },
    ],
  });
  t.same(chat['messages'], [
    { role: 'user', content: 'Weather in Paris and Rome?' },
    {
      role: 'assistant',
      content: 'Checking.',
      tool_calls: [
        { id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
        { id: 'call_2', type: 'function', function: { name: 'weather', arguments: '{"city":"Rome"}' } },
      ],
    },
    { role: 'tool', tool_call_id: 'call_1', content: '18C' },
    { role: 'tool', tool_call_id: 'call_2', content: '21C' },
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_3', type: 'function', function: { name: 'weather', arguments: '{}' } }] },
  ]);
});

t.test('toChat: function tools, tool_choice and text formats', async (t) => {
  const params = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
  const { chat } = toChat({
    input: 'x',
    tools: [
      { type: 'function', name: 'weather', description: 'Weather now', parameters: params, strict: true },
      { type: 'function', name: 'noop', parameters: null, strict: null },
    ],
    tool_choice: { type: 'function', name: 'weather' },
    text: { format: { type: 'json_schema', name: 'answer', schema: { type: 'object' }, strict: true, description: 'The answer' }, verbosity: 'low' },
  });
  t.same(chat['tools'], [
    { type: 'function', function: { name: 'weather', description: 'Weather now', parameters: params, strict: true } },
    { type: 'function', function: { name: 'noop' } },
  ]);
  t.same(chat['tool_choice'], { type: 'function', function: { name: 'weather' } });
  t.same(chat['response_format'], { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object' }, description: 'The answer', strict: true } });
  t.equal(chat['verbosity'], 'low');

  t.same(toChat({ input: 'x', text: { format: { type: 'json_object' } } }).chat['response_format'], { type: 'json_object' });
  t.notOk('response_format' in toChat({ input: 'x', text: { format: { type: 'text' } } }).chat, 'plain text needs no response_format');
  t.equal(toChat({ input: 'x', tool_choice: 'none' }).chat['tool_choice'], 'none');
  t.same(toChat({ input: 'x', tool_choice: { type: 'allowed_tools', mode: 'required', tools: [{ type: 'function', name: 'weather' }] } }).chat['tool_choice'], {
    type: 'allowed_tools',
    allowed_tools: { mode: 'required', tools: [{ type: 'function', function: { name: 'weather' } }] },
  });
});

t.test('toChat: what chat cannot express is a 400 naming the field', async (t) => {
  const cases: [Record<string, unknown>, string, string][] = [
    [{ input: 'x', tools: [{ type: 'function', name: 'f' }, { type: 'web_search' }] }, 'unsupported_tool', 'tools[1].type'],
    [{ input: 'x', tool_choice: { type: 'file_search' } }, 'unsupported_tool_choice', 'tool_choice.type'],
    [{ input: [{ role: 'user', content: 'a' }, { type: 'item_reference', id: 'msg_1' }] }, 'unsupported_input_item', 'input[1].type'],
    [{ input: [{ type: 'computer_call_output', call_id: 'c', output: {} }] }, 'unsupported_input_item', 'input[0].type'],
    [{ input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'file-1', detail: 'auto' }] }] }, 'unsupported_content', 'input[0].content[0].image_url'],
    [{ input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'file-1' }] }] }, 'unsupported_content', 'input[0].content[0].file_data'],
    [{ input: [{ role: 'user', content: [{ type: 'input_audio', data: 'x' }] }] }, 'unsupported_content', 'input[0].content[0].type'],
    [{ input: [{ role: 'system', content: [{ type: 'input_image', image_url: 'https://x' }] }] }, 'unsupported_content', 'input[0].content'],
    [
      { input: [{ type: 'function_call', call_id: 'c', name: 'f', arguments: '{}' }, { type: 'function_call_output', call_id: 'c', output: [{ type: 'input_image', image_url: 'https://x' }] }] },
      'unsupported_content',
      'input[1].output[0].type',
    ],
    [{ input: [{ type: 'function_call_output', call_id: 'nowhere', output: 'x' }] }, 'invalid_request_body', 'input[0].call_id'],
    [{ input: 'x', conversation: 'conv_1' }, 'unsupported_parameter', 'conversation'],
    [{ input: 'x', background: true }, 'unsupported_parameter', 'background'],
  ];
  for (const [body, code, param] of cases) {
    const err = caught(() => toChat(body));
    t.equal(err.status, 400, `${param}: 400`);
    t.equal(err.code, code, `${param}: code`);
    t.equal(err.param, param, `${param}: param`);
  }
  const continued = toChat({ input: [{ type: 'function_call_output', call_id: 'call_9', output: 'x' }], previous_response_id: 'resp_1' }).chat['messages'];
  t.same(continued, [{ role: 'tool', tool_call_id: 'call_9', content: 'x' }], 'an output may answer a call in the stored conversation');
});

t.test('responseIdFor is stable and URL-safe', async (t) => {
  t.equal(responseIdFor('req-abc.123'), 'resp_req-abc_123');
  t.equal(responseIdFor('3f1c-9'), responseIdFor('3f1c-9'));
  t.match(responseIdFor('a:b/c d'), /^resp_[A-Za-z0-9_-]+$/);
});

t.test('fromChat: a text answer', async (t) => {
  const body = { model: 'alias-model', input: 'Hi', instructions: 'Be brief.', metadata: { team: 'blue' }, temperature: 0.5, store: false };
  const response = responsesDialect.fromChat(completion({ content: 'Hello!' }), inbound(body), REQUEST_ID) as Record<string, any>;
  assertResponse(t, response, 'text answer');
  t.match(response, {
    id: responseIdFor(REQUEST_ID),
    object: 'response',
    created_at: 1767000000,
    status: 'completed',
    error: null,
    incomplete_details: null,
    model: 'alias-model',
    instructions: 'Be brief.',
    metadata: { team: 'blue' },
    temperature: 0.5,
    top_p: null,
    tools: [],
    tool_choice: 'auto',
    parallel_tool_calls: true,
    previous_response_id: null,
    store: false,
    text: { format: { type: 'text' } },
  });
  t.same(response['output'], [
    { id: `msg_req-abc_123_0`, type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'Hello!', annotations: [], logprobs: [] }] },
  ]);
  t.same(response['usage'], {
    input_tokens: 12,
    input_tokens_details: { cached_tokens: 4, cache_write_tokens: 0 },
    output_tokens: 7,
    output_tokens_details: { reasoning_tokens: 2 },
    total_tokens: 19,
  });
  t.type(response['completed_at'], 'number');
  t.notOk('output_text' in response, 'output_text is left to the SDKs');
  t.equal(responsesDialect.fromChat(completion({ content: 'x' }), inbound({ input: 'x' }), REQUEST_ID) && (responsesDialect.fromChat(completion({ content: 'x' }), inbound({ input: 'x' }), REQUEST_ID) as any).model, 'served-model', 'the served model when the request named none');
});

t.test('fromChat: reasoning and function calls', async (t) => {
  const tools = [{ type: 'function', name: 'weather', parameters: { type: 'object' } }];
  const chat = completion(
    {
      content: null,
      reasoning_content: 'Need the weather tool.',
      tool_calls: [
        { id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
        { id: 'call_2', type: 'function', function: { name: 'weather', arguments: '{"city":"Rome"}' } },
      ],
    },
    'tool_calls',
  );
  const response = responsesDialect.fromChat(chat, inbound({ input: 'x', tools, tool_choice: 'required' }), REQUEST_ID) as Record<string, any>;
  assertResponse(t, response, 'tool-call answer');
  t.same(
    response['output'].map((o: Record<string, unknown>) => [o['type'], o['id']]),
    [
      ['reasoning', 'rs_req-abc_123_0'],
      ['function_call', 'fc_req-abc_123_1'],
      ['function_call', 'fc_req-abc_123_2'],
    ],
  );
  t.same(response['output'][0]['content'], [{ type: 'reasoning_text', text: 'Need the weather tool.' }]);
  t.match(response['output'][1], { call_id: 'call_1', name: 'weather', arguments: '{"city":"Paris"}', status: 'completed' });
  t.same(response['tools'], [{ type: 'function', name: 'weather', parameters: { type: 'object' }, strict: null }], 'tools echoed in the Response shape');
  t.equal(response['tool_choice'], 'required');
});

t.test('fromChat: a length stop is incomplete; a refusal is a refusal part', async (t) => {
  const cut = responsesDialect.fromChat(completion({ content: 'Once upon' }, 'length'), inbound({ input: 'x', max_output_tokens: 16 }), REQUEST_ID) as Record<string, any>;
  assertResponse(t, cut, 'incomplete answer');
  t.equal(cut['status'], 'incomplete');
  t.same(cut['incomplete_details'], { reason: 'max_output_tokens' });
  t.equal(cut['output'][0]['status'], 'incomplete');
  t.equal(cut['max_output_tokens'], 16);
  t.notOk('completed_at' in cut);

  const refused = responsesDialect.fromChat(completion({ content: null, refusal: 'I cannot help.' }), inbound({ input: 'x' }), REQUEST_ID) as Record<string, any>;
  assertResponse(t, refused, 'refusal');
  t.same(refused['output'][0]['content'], [{ type: 'refusal', refusal: 'I cannot help.' }]);
});

t.test('stream: a text answer is the full Responses event sequence', async (t) => {
  const events = streamOf({ model: 'alias-model', input: 'Hi' }, [
    chunk({ role: 'assistant', content: '' }),
    chunk({ content: 'Hel' }),
    chunk({ content: 'lo!' }),
    chunk({}, 'stop'),
    chunk({}, null, USAGE),
  ]);
  assertEvents(t, events);
  t.same(
    events.map((e) => e.event),
    [
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ],
  );
  const data = events.map((e) => e.data as Record<string, any>);
  t.same(data.filter((d) => d['type'] === 'response.output_text.delta').map((d) => d['delta']), ['Hel', 'lo!']);
  t.equal(data[6]!['text'], 'Hello!');
  t.equal(data[0]!['response']['status'], 'in_progress');
  t.equal(data[0]!['response']['id'], responseIdFor(REQUEST_ID));
  const final = data.at(-1)!['response'];
  assertResponse(t, final, 'completed response');
  t.equal(final['status'], 'completed');
  t.equal(final['model'], 'alias-model');
  t.same(final['output'][0]['content'][0]['text'], 'Hello!');
  t.same(final['usage'], { input_tokens: 12, input_tokens_details: { cached_tokens: 4, cache_write_tokens: 0 }, output_tokens: 7, output_tokens_details: { reasoning_tokens: 2 }, total_tokens: 19 });
  const nonStreamed = responsesDialect.fromChat(completion({ content: 'Hello!' }), inbound({ model: 'alias-model', input: 'Hi' }), REQUEST_ID) as Record<string, any>;
  t.same(final['output'], nonStreamed['output'], 'streamed and non-streamed output agree');
  t.same(final['usage'], nonStreamed['usage'], 'streamed and non-streamed usage agree');
});

t.test('stream: reasoning, then text, then parallel function calls', async (t) => {
  const events = streamOf({ input: 'x', tools: [{ type: 'function', name: 'weather', parameters: {} }] }, [
    chunk({ role: 'assistant', reasoning_content: 'Think' }),
    chunk({ reasoning_content: 'ing.' }),
    chunk({ content: 'Let me check.' }),
    chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'weather', arguments: '' } }] }),
    chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
    chunk({ tool_calls: [{ index: 1, id: 'call_2', type: 'function', function: { name: 'weather', arguments: '{"city":"Rome"}' } }] }),
    chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
    chunk({}, 'tool_calls'),
    chunk({}, null, USAGE),
  ]);
  assertEvents(t, events);
  const data = events.map((e) => e.data as Record<string, any>);
  const types = data.map((d) => d['type'] as string);
  t.same(types.slice(0, 5), ['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added', 'response.reasoning_text.delta']);
  t.ok(types.indexOf('response.reasoning_text.done') < types.indexOf('response.output_text.delta'), 'the reasoning item closes before the text item opens');
  t.ok(types.indexOf('response.output_text.done') < types.lastIndexOf('response.output_item.added'), 'the text item closes before the first call opens');
  const args = (index: number) => data.filter((d) => d['type'] === 'response.function_call_arguments.delta' && d['output_index'] === index).map((d) => d['delta']).join('');
  t.equal(args(2), '{"city":"Paris"}', 'interleaved fragments go to their own call');
  t.equal(args(3), '{"city":"Rome"}');
  const argsDone = data.filter((d) => d['type'] === 'response.function_call_arguments.done');
  t.same(argsDone.map((d) => [d['output_index'], d['name'], d['arguments']]), [
    [2, 'weather', '{"city":"Paris"}'],
    [3, 'weather', '{"city":"Rome"}'],
  ]);
  const added = data.filter((d) => d['type'] === 'response.output_item.added').map((d) => d['item']);
  t.match(added[2], { type: 'function_call', call_id: 'call_1', name: 'weather', arguments: '', status: 'in_progress' });
  const final = data.at(-1)!['response'];
  t.equal(data.at(-1)!['type'], 'response.completed');
  assertResponse(t, final, 'final response');
  t.same(
    final['output'].map((o: Record<string, unknown>) => o['type']),
    ['reasoning', 'message', 'function_call', 'function_call'],
  );
  t.equal(final['output'][0]['content'][0]['text'], 'Thinking.');
  t.match(final['output'][3], { call_id: 'call_2', arguments: '{"city":"Rome"}', status: 'completed' });
});

t.test('stream: a refusal is a message item with a refusal part', async (t) => {
  const events = streamOf({ input: 'x' }, [chunk({ role: 'assistant', refusal: 'I cannot ' }), chunk({ refusal: 'help.' }), chunk({}, 'stop'), chunk({}, null, USAGE)]);
  assertEvents(t, events);
  const data = events.map((e) => e.data as Record<string, any>);
  t.same(data.filter((d) => d['type'] === 'response.refusal.delta').map((d) => d['delta']), ['I cannot ', 'help.']);
  t.equal(data.find((d) => d['type'] === 'response.refusal.done')!['refusal'], 'I cannot help.');
  const final = data.at(-1)!['response'];
  assertResponse(t, final, 'refusal response');
  t.same(final['output'][0]['content'], [{ type: 'refusal', refusal: 'I cannot help.' }]);
  const nonStreamed = responsesDialect.fromChat(completion({ content: null, refusal: 'I cannot help.' }), inbound({ input: 'x' }), REQUEST_ID) as Record<string, any>;
  t.same(final['output'], nonStreamed['output'], 'streamed and non-streamed refusals agree');
});

t.test('stream: a length stop ends with response.incomplete', async (t) => {
  const events = streamOf({ input: 'x', max_output_tokens: 16 }, [chunk({ content: 'Once' }), chunk({}, 'length'), chunk({}, null, USAGE)]);
  assertEvents(t, events);
  const last = events.at(-1)!.data as Record<string, any>;
  t.equal(last['type'], 'response.incomplete');
  t.equal(last['response']['status'], 'incomplete');
  t.same(last['response']['incomplete_details'], { reason: 'max_output_tokens' });
  t.equal(last['response']['usage']['output_tokens'], 7);
});

t.test('stream: an empty stream still opens and completes', async (t) => {
  const events = streamOf({ input: 'x' }, []);
  assertEvents(t, events);
  t.same(events.map((e) => e.event), ['response.created', 'response.in_progress', 'response.completed']);
});

t.test('stream: a failure after the start is an error event, then response.failed', async (t) => {
  const s = responsesDialect.stream(inbound({ input: 'x' }), REQUEST_ID);
  const events = [...s.chunk(chunk({ content: 'Par' })), ...s.error(errors.badGateway('upstream_stream_error', 'The provider closed the stream.'), REQUEST_ID)];
  assertEvents(t, events);
  const tail = events.slice(-2).map((e) => e.data as Record<string, any>);
  t.match(tail[0], { type: 'error', code: 'upstream_stream_error', message: 'The provider closed the stream.', param: null });
  t.equal(tail[1]!['type'], 'response.failed');
  t.equal(tail[1]!['response']['status'], 'failed');
  t.same(tail[1]!['response']['error'], { code: 'server_error', message: 'The provider closed the stream.' });
  t.equal(tail[1]!['response']['output'][0]['content'][0]['text'], 'Par', 'what was streamed is kept');

  const early = responsesDialect.stream(inbound({ input: 'x' }), REQUEST_ID).error(new GatewayError(429, 'rate_limit_error', 'rate_limited', 'Slow down.'), REQUEST_ID);
  assertEvents(t, early);
  t.same(early.map((e) => e.event), ['response.created', 'response.in_progress', 'error', 'response.failed']);
  t.equal((early[3]!.data as Record<string, any>)['response']['error']['code'], 'rate_limit_exceeded');
});

t.test('errorBody: the OpenAI envelope with the status unchanged', async (t) => {
  const { status, body } = responsesDialect.errorBody(errors.badRequest('unsupported_tool', 'No.', 'tools[0].type'), 'req-9');
  t.equal(status, 400);
  t.same(body, { error: { message: 'No.', type: 'invalid_request_error', param: 'tools[0].type', code: 'unsupported_tool', request_id: 'req-9' } });
  t.equal(responsesDialect.errorBody(errors.paymentRequired('Out of credit.'), 'r').status, 402);
});

/** Serves one canned body on loopback, so the official SDK parses what the dialect wrote. */
async function sdkAgainst(t: Test, respond: (res: import('node:http').ServerResponse) => void): Promise<OpenAI> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => respond(res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return new OpenAI({ apiKey: 'sk-test', baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, maxRetries: 0 });
}

t.test('the official openai SDK reads the Response and the event stream', async (t) => {
  const response = responsesDialect.fromChat(completion({ content: 'Bonjour' }), inbound({ model: 'm', input: 'Hi' }), REQUEST_ID);
  const plain = await sdkAgainst(t, (res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(response)));
  const created = await plain.responses.create({ model: 'm', input: 'Hi' });
  t.equal(created.output_text, 'Bonjour');
  t.equal(created.id, responseIdFor(REQUEST_ID));

  const events = streamOf({ model: 'm', input: 'Hi', tools: [{ type: 'function', name: 'weather', parameters: {} }] }, [
    chunk({ content: 'Checking.' }),
    chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":' } }] }),
    chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
    chunk({}, 'tool_calls'),
    chunk({}, null, USAGE),
  ]);
  const sse = events.map((e) => `event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`).join('');
  const streaming = await sdkAgainst(t, (res) => res.writeHead(200, { 'content-type': 'text/event-stream' }).end(sse));
  const stream = streaming.responses.stream({ model: 'm', input: 'Hi' });
  const deltas: string[] = [];
  stream.on('response.output_text.delta', (e) => deltas.push(e.delta));
  const final = await stream.finalResponse();
  t.same(deltas, ['Checking.']);
  t.equal(final.output_text, 'Checking.');
  const call = final.output.find((o) => o.type === 'function_call');
  t.match(call, { call_id: 'call_1', name: 'weather', arguments: '{"city":"Paris"}' });
  t.equal(final.usage?.total_tokens, 19);
});

t.test('the spec validators catch a broken Response and a broken event', async (t) => {
  const good = responsesDialect.fromChat(completion({ content: 'x' }), inbound({ input: 'x' }), REQUEST_ID) as Record<string, any>;
  t.ok(validResponse(good));
  const noLogprobs = structuredClone(good);
  delete noLogprobs['output'][0]['content'][0]['logprobs'];
  t.notOk(validResponse(noLogprobs), 'output_text without logprobs');
  const badUsage = structuredClone(good);
  delete badUsage['usage']['input_tokens_details']['cache_write_tokens'];
  t.notOk(validResponse(badUsage), 'usage details incomplete');
  const noTools = structuredClone(good);
  delete noTools['tools'];
  t.notOk(validResponse(noTools), 'tools missing');
  const delta = specSchema('ResponseTextDeltaEvent');
  t.notOk(delta({ type: 'response.output_text.delta', item_id: 'i', output_index: 0, content_index: 0, delta: 'x', sequence_number: 1 }), 'delta without logprobs');
});

t.test('the official openai SDK reports a failed stream as an error with the message', async (t) => {
  const s = responsesDialect.stream(inbound({ model: 'm', input: 'Hi' }), REQUEST_ID);
  const events = [...s.chunk(chunk({ content: 'Par' })), ...s.error(errors.badGateway('upstream_stream_error', 'The provider closed the stream.'), REQUEST_ID)];
  const sse = events.map((e) => `event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`).join('');
  const client = await sdkAgainst(t, (res) => res.writeHead(200, { 'content-type': 'text/event-stream' }).end(sse));
  const stream = client.responses.stream({ model: 'm', input: 'Hi' });
  const seen: string[] = [];
  stream.on('event', (e) => seen.push(e.type));
  const outcome = await stream.finalResponse().then(
    (r) => ({ status: r.status, error: r.error?.message }),
    (err: Error) => ({ thrown: err.message }),
  );
  t.ok(seen.includes('error'), 'the error event reaches the client');
  t.match(JSON.stringify(outcome), /The provider closed the stream\./, 'and the failure carries the message');
});
