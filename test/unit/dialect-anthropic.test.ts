/**
 * The Anthropic Messages dialect: request → chat body, chat answer → Anthropic message, chat chunks
 * → Anthropic's stream events, errors → Anthropic's error shape; and the request schemas. Request
 * fixtures are in `test/fixtures/anthropic/inbound-*.json` (each cites the doc page it follows);
 * event sequences follow https://docs.anthropic.com/en/api/messages-streaming.
 */
import t from 'tap';
import { Ajv } from 'ajv';
import { anthropicDialect } from '../../core/api/dialects/anthropic.js';
import type { Inbound, SseEvent } from '../../core/api/dialects/dialect.js';
import { readSchema } from '../../core/config/schema.js';
import { errors, GatewayError, StoreUnavailableError } from '../../core/errors.js';
import { readFixture } from '../adapters/wire-mock.js';

type Json = Record<string, unknown>;

const fixture = (name: string): Json => readFixture('anthropic', name);

function inbound(body: Json, operation = 'create'): Inbound {
  const { chat, extra } = anthropicDialect.toChat(body, operation);
  return { dialect: 'anthropic', body, operation, messagesText: JSON.stringify(chat['messages']), headers: {}, ...(extra ? { extra } : {}) };
}

const simple: Json = { model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] };

t.test('a conversation with system blocks, images, tool use and results becomes a chat request', async (t) => {
  const { chat, extra } = anthropicDialect.toChat(fixture('inbound-conversation'), 'create');
  t.same(chat['messages'], [
    { role: 'system', content: 'You are a weather assistant.\n\nAnswer briefly.' },
    {
      role: 'user',
      content: [
        { type: 'text', text: 'What is in this picture, and what is the weather in Paris?' },
        { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
        { type: 'image_url', image_url: { url: 'https://upload.wikimedia.org/wikipedia/commons/a/a7/Camponotus_flavomarginatus_ant.jpg' } },
      ],
    },
    { role: 'assistant', content: 'An ant. Let me check Paris.', tool_calls: [{ id: 'toolu_01A09q90qw90lq917835lq9', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris"}' } }] },
    { role: 'tool', tool_call_id: 'toolu_01A09q90qw90lq917835lq9', content: '15 degrees, cloudy' },
    { role: 'user', content: 'And in Celsius?' },
  ]);
  t.same(chat['tools'], [{ type: 'function', function: { name: 'get_weather', description: 'Get the current weather in a given location', parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] } } }], 'the server tool has no chat form');
  t.match(chat, {
    model: 'claude-sonnet-4-5',
    max_tokens: 1024,
    tool_choice: 'required',
    parallel_tool_calls: false,
    stop: ['\n\nHuman:'],
    temperature: 0.5,
    top_p: 0.9,
    top_k: 40,
    user: 'user-42',
    stream: true,
    stream_options: { include_usage: true },
  });
  t.notOk('thinking' in chat, 'thinking is not sent to a chat target');
  t.same(extra, { model: 'claude-sonnet-4-5', stopSequences: ['\n\nHuman:'], thinking: { type: 'enabled', budget_tokens: 2048 }, nativeOnly: ['tools[1]'] }, 'the server tool is named for route to refuse on a non-Anthropic target');
});

t.test('tool results come first in order, images in them follow as user content, later text after', async (t) => {
  const { chat } = anthropicDialect.toChat(
    {
      ...simple,
      messages: [
        { role: 'assistant', content: [{ type: 'tool_use', id: 'a', name: 'f', input: {} }, { type: 'tool_use', id: 'b', name: 'f', input: { x: 1 } }] },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'a', content: 'one' },
            { type: 'tool_result', tool_use_id: 'b', is_error: true, content: [{ type: 'text', text: 'two' }, { type: 'image', source: { type: 'url', url: 'https://x/y.png' } }] },
            { type: 'text', text: 'go on' },
          ],
        },
      ],
    },
    'create',
  );
  t.same(chat['messages'], [
    { role: 'assistant', content: null, tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '{}' } }, { id: 'b', type: 'function', function: { name: 'f', arguments: '{"x":1}' } }] },
    { role: 'tool', tool_call_id: 'a', content: 'one' },
    { role: 'tool', tool_call_id: 'b', content: 'two' },
    { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }, { type: 'text', text: 'go on' }] },
  ]);
});

t.test('tool_choice maps to the chat forms; a system string stays a string', async (t) => {
  const tools = [{ name: 'f', input_schema: { type: 'object' } }];
  const choice = (tool_choice: Json) => anthropicDialect.toChat({ ...simple, tools, tool_choice }, 'create').chat['tool_choice'];
  t.equal(choice({ type: 'auto' }), 'auto');
  t.equal(choice({ type: 'any' }), 'required');
  t.equal(choice({ type: 'none' }), 'none');
  t.same(choice({ type: 'tool', name: 'f' }), { type: 'function', function: { name: 'f' } });
  const { chat } = anthropicDialect.toChat({ ...simple, system: 'Be terse.' }, 'create');
  t.same((chat['messages'] as Json[])[0], { role: 'system', content: 'Be terse.' });
  t.notOk('stream_options' in chat, 'no stream options unless streaming');
});

t.test('documents become file or text parts; blocks a chat model cannot take are a 400', async (t) => {
  const user = (content: unknown[]) => anthropicDialect.toChat({ ...simple, messages: [{ role: 'user', content }] }, 'create').chat['messages'];
  t.same(user([{ type: 'document', title: 'a.pdf', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' } }, { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'plain' } }]), [
    { role: 'user', content: [{ type: 'file', file: { file_data: 'data:application/pdf;base64,JVBERi0=', filename: 'a.pdf' } }, { type: 'text', text: 'plain' }] },
  ]);
  const refused = (content: unknown[], role = 'user') => {
    try {
      anthropicDialect.toChat({ ...simple, messages: [{ role, content }] }, 'create');
    } catch (e) {
      return e;
    }
    return undefined;
  };
  t.match(refused([{ type: 'search_result', source: 'x', title: 't', content: [] }]), { status: 400, code: 'unsupported_content', param: 'messages[0].content[0].type' });
  t.match(refused([{ type: 'image', source: { type: 'file', file_id: 'file_1' } }]), { status: 400, param: 'messages[0].content[0].source' });
  t.match(refused([{ type: 'mystery' }], 'assistant'), { status: 400, code: 'unsupported_content' });
  t.ok(refused([{ type: 'thinking', thinking: 'only thoughts', signature: 's' }], 'assistant') instanceof GatewayError, 'a conversation with nothing a chat model can read is refused');
});

t.test('count_tokens takes no max_tokens and answers input_tokens', async (t) => {
  const body = fixture('inbound-count-tokens');
  const { chat } = anthropicDialect.toChat(body, 'count_tokens');
  t.same(chat, { model: 'claude-sonnet-4-5', messages: [{ role: 'system', content: 'You are a scientist' }, { role: 'user', content: 'Hello, Claude' }] });
  t.same(anthropicDialect.fromChat({ usage: { prompt_tokens: 14, completion_tokens: 0, total_tokens: 14 } }, inbound(body, 'count_tokens'), 'req-1'), { input_tokens: 14 });
});

const completion = (message: Json, finish: string, usage: Json = { prompt_tokens: 30, completion_tokens: 12, total_tokens: 42 }, extra: Json = {}): Json => ({
  id: 'chatcmpl-123',
  object: 'chat.completion',
  created: 1,
  model: 'gpt-4o-2024-08-06',
  choices: [{ index: 0, message: { role: 'assistant', ...message }, logprobs: null, finish_reason: finish, ...extra }],
  usage,
});

t.test('a chat completion becomes an Anthropic message named after the requested model', async (t) => {
  const answer = anthropicDialect.fromChat(completion({ content: 'Hello!' }, 'stop'), inbound(simple), 'req-1');
  t.same(answer, {
    id: 'msg_chatcmpl-123',
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-4-5',
    content: [{ type: 'text', text: 'Hello!', citations: null }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 30, output_tokens: 12, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
  });
});

t.test('reasoning, text and tool calls become thinking, text and tool_use blocks; cache tokens leave input_tokens', async (t) => {
  const chat = completion(
    { content: 'Checking.', reasoning_content: 'Need the tool.', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris"}' } }, { id: 'call_2', type: 'function', function: { name: 'f', arguments: 'not json' } }] },
    'tool_calls',
    { prompt_tokens: 2572, completion_tokens: 91, total_tokens: 2663, prompt_tokens_details: { cached_tokens: 2000, cache_write_tokens: 100 } },
  );
  const answer = anthropicDialect.fromChat(chat, inbound(simple), 'req-1') as Json;
  t.same(answer['content'], [
    { type: 'thinking', thinking: 'Need the tool.', signature: '' },
    { type: 'text', text: 'Checking.', citations: null },
    { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { location: 'Paris' } },
    { type: 'tool_use', id: 'call_2', name: 'f', input: {} },
  ]);
  t.equal(answer['stop_reason'], 'tool_use');
  t.same(answer['usage'], { input_tokens: 472, output_tokens: 91, cache_creation_input_tokens: 100, cache_read_input_tokens: 2000 });
});

t.test('cache writes split by TTL come back as cache_creation, streamed and not; without the split there is none', async (t) => {
  const split = { prompt_tokens: 3550, completion_tokens: 120, total_tokens: 3670, prompt_tokens_details: { cached_tokens: 2000, cache_write_tokens: 1500, cache_creation_token_details: { ephemeral_5m_input_tokens: 500, ephemeral_1h_input_tokens: 1000 } } };
  const expected = { input_tokens: 50, output_tokens: 120, cache_creation_input_tokens: 1500, cache_read_input_tokens: 2000, cache_creation: { ephemeral_5m_input_tokens: 500, ephemeral_1h_input_tokens: 1000 } };
  const answer = anthropicDialect.fromChat(completion({ content: 'x' }, 'stop', split), inbound(simple), 'r') as Json;
  t.same(answer['usage'], expected);
  const events = stream([chunk({ content: 'x' }), chunk({}, 'stop'), usageChunk(split)]);
  t.same(events.find(([e]) => e === 'message_delta')![1]['usage'], expected, 'the final message_delta');
  const unsplit = { ...split, prompt_tokens_details: { cached_tokens: 2000, cache_write_tokens: 1500 } };
  t.notOk('cache_creation' in ((anthropicDialect.fromChat(completion({ content: 'x' }, 'stop', unsplit), inbound(simple), 'r') as Json)['usage'] as Json), 'no split reported: none made up');
});

t.test('finish reasons map to stop reasons; a named stop sequence is reported', async (t) => {
  const reason = (finish: string, extra: Json = {}, body: Json = simple) => {
    const m = anthropicDialect.fromChat(completion({ content: 'x' }, finish, undefined, extra), inbound(body), 'r') as Json;
    return [m['stop_reason'], m['stop_sequence']];
  };
  t.same(reason('stop'), ['end_turn', null]);
  t.same(reason('length'), ['max_tokens', null]);
  t.same(reason('tool_calls'), ['tool_use', null]);
  t.same(reason('content_filter'), ['refusal', null]);
  t.same(reason('stop', { stop_reason: 'END' }, { ...simple, stop_sequences: ['END'] }), ['stop_sequence', 'END']);
  t.same(reason('stop', { stop_reason: 'END' }), ['end_turn', null], 'not one the client gave');
  const refusal = anthropicDialect.fromChat(completion({ content: null, refusal: "I can't help with that." }, 'stop'), inbound(simple), 'r') as Json;
  t.same([refusal['content'], refusal['stop_reason']], [[{ type: 'text', text: "I can't help with that.", citations: null }], 'refusal'], 'an OpenAI refusal');
  const streamed = stream([chunk({ refusal: 'No.' }), chunk({}, 'stop')]);
  t.match(streamed.find(([e]) => e === 'message_delta')![1], { delta: { stop_reason: 'refusal' } }, 'a streamed refusal');
  const own = anthropicDialect.fromChat({ ...completion({ content: 'x' }, 'stop'), id: 'msg_01XF' }, inbound(simple), 'r') as Json;
  t.equal(own['id'], 'msg_01XF', 'an Anthropic id is kept');
});

/** Runs chunks through a dialect stream; returns the events, each as [event, data]. */
function stream(chunks: Json[], body: Json = { ...simple, stream: true }): [string | undefined, Json][] {
  const s = anthropicDialect.stream(inbound(body), 'req-9');
  const events: SseEvent[] = [...chunks.flatMap((c) => s.chunk(c)), ...s.end()];
  return events.map((e) => [e.event, e.data as Json]);
}

const chunk = (delta: Json, finish: string | null = null): Json => ({ id: 'chatcmpl-9', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
const usageChunk = (usage: Json): Json => ({ id: 'chatcmpl-9', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o', choices: [], usage });

t.test('a text stream becomes message_start, ping, one text block, message_delta with usage, message_stop', async (t) => {
  const events = stream([chunk({ role: 'assistant', content: '' }), chunk({ content: 'Hello' }), chunk({ content: '!' }), chunk({}, 'stop'), usageChunk({ prompt_tokens: 25, completion_tokens: 15, total_tokens: 40 })]);
  t.same(events.map(([e]) => e), ['message_start', 'ping', 'content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
  t.ok(events.every(([e, d]) => d['type'] === e), 'each event names its type in data');
  t.same(events[0]![1], { type: 'message_start', message: { id: 'msg_chatcmpl-9', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 } } });
  t.same(events[2]![1], { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
  t.same(events.slice(3, 5).map(([, d]) => d['delta']), [{ type: 'text_delta', text: 'Hello' }, { type: 'text_delta', text: '!' }]);
  t.same(events[6]![1], { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { input_tokens: 25, output_tokens: 15, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 } });
});

t.test('reasoning, text and two streamed tool calls become separate blocks in order', async (t) => {
  const events = stream([
    chunk({ role: 'assistant', reasoning_content: 'Think' }),
    chunk({ reasoning_content: 'ing.' }),
    chunk({ content: 'Let me look.' }),
    chunk({ tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '' } }] }),
    chunk({ tool_calls: [{ index: 0, function: { arguments: '{"location":' } }] }),
    chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
    chunk({ tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{}' } }] }),
    chunk({}, 'tool_calls'),
    usageChunk({ prompt_tokens: 10, completion_tokens: 20, total_tokens: 30 }),
  ]);
  const blocks = events.filter(([e]) => e !== 'ping').map(([e, d]) => (e === 'content_block_start' ? [e, d['index'], d['content_block']] : e === 'content_block_delta' ? [d['index'], d['delta']] : e === 'content_block_stop' ? [e, d['index']] : [e]));
  t.same(blocks, [
    ['message_start'],
    ['content_block_start', 0, { type: 'thinking', thinking: '', signature: '' }],
    [0, { type: 'thinking_delta', thinking: 'Think' }],
    [0, { type: 'thinking_delta', thinking: 'ing.' }],
    ['content_block_stop', 0],
    ['content_block_start', 1, { type: 'text', text: '' }],
    [1, { type: 'text_delta', text: 'Let me look.' }],
    ['content_block_stop', 1],
    ['content_block_start', 2, { type: 'tool_use', id: 'call_a', name: 'get_weather', input: {} }],
    [2, { type: 'input_json_delta', partial_json: '{"location":' }],
    [2, { type: 'input_json_delta', partial_json: '"Paris"}' }],
    ['content_block_stop', 2],
    ['content_block_start', 3, { type: 'tool_use', id: 'call_b', name: 'get_time', input: {} }],
    [3, { type: 'input_json_delta', partial_json: '{}' }],
    ['content_block_stop', 3],
    ['message_delta'],
    ['message_stop'],
  ]);
  t.match(events.find(([e]) => e === 'message_delta')![1], { delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 20, input_tokens: 10 } });
});

t.test('choice-less chunks without usage (native carriers) write nothing; an empty stream still closes properly', async (t) => {
  const s = anthropicDialect.stream(inbound(simple), 'req-9');
  t.same(s.chunk({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [] }), []);
  t.same(s.end().map((e) => e.event), ['message_start', 'ping', 'message_delta', 'message_stop']);
  const cut = stream([chunk({ content: 'Hi' }), chunk({}, 'length')]);
  t.match(cut.find(([e]) => e === 'message_delta')![1], { delta: { stop_reason: 'max_tokens' } });
});

t.test('a failure mid-stream is an Anthropic error event', async (t) => {
  const s = anthropicDialect.stream(inbound(simple), 'req-9');
  s.chunk(chunk({ content: 'Hi' }));
  t.same(s.error(new GatewayError(503, 'upstream_error', 'upstream_error', 'claude: Overloaded'), 'req-9'), [
    { event: 'error', data: { type: 'error', error: { type: 'overloaded_error', message: 'claude: Overloaded' }, request_id: 'req-9' } },
  ]);
});

t.test('gateway errors take Anthropic types, keeping their status', async (t) => {
  const cases: [GatewayError, number, string][] = [
    [errors.badRequest('invalid_request_body', 'bad'), 400, 'invalid_request_error'],
    [errors.invalidApiKey(), 401, 'authentication_error'],
    [errors.paymentRequired('no credit'), 402, 'billing_error'],
    [new GatewayError(403, 'permission_error', 'model_not_allowed', 'no'), 403, 'permission_error'],
    [errors.notFound('model_not_found', 'no such model'), 404, 'not_found_error'],
    [new GatewayError(405, 'invalid_request_error', 'method_not_allowed', 'GET'), 405, 'invalid_request_error'],
    [new GatewayError(413, 'invalid_request_error', 'body_too_large', 'big'), 413, 'request_too_large'],
    [new GatewayError(429, 'rate_limit_error', 'rate_limit_exceeded', 'slow'), 429, 'rate_limit_error'],
    [errors.internal(), 500, 'api_error'],
    [errors.badGateway('upstream_error', 'x'), 502, 'api_error'],
    [new StoreUnavailableError('kv', 'down'), 503, 'overloaded_error'],
    [errors.timeout('slow upstream'), 504, 'timeout_error'],
  ];
  for (const [error, status, type] of cases) {
    const { status: sent, body } = anthropicDialect.errorBody(error, 'req-7');
    t.equal(sent, status, `${error.code}: status`);
    t.same(body, { type: 'error', error: { type, message: error.message }, request_id: 'req-7' }, `${error.code}: body`);
  }
});

t.test('the request schemas accept real requests and refuse malformed ones', async (t) => {
  const ajv = new Ajv({ allErrors: false, strict: false, allowUnionTypes: true, strictNumbers: true });
  const create = ajv.compile(readSchema('api/messages'));
  const count = ajv.compile(readSchema('api/messages.count_tokens'));
  t.ok(create(fixture('inbound-conversation')), JSON.stringify(create.errors));
  t.ok(create({ ...simple, some_future_field: { x: 1 }, messages: [{ role: 'user', content: [{ type: 'search_result', anything: true }] }] }), 'unknown fields and block types pass');
  t.ok(count(fixture('inbound-count-tokens')), JSON.stringify(count.errors));
  t.notOk(create(fixture('inbound-count-tokens')), 'max_tokens is required for create');
  const bad: [string, Json][] = [
    ['no model', { max_tokens: 1, messages: simple['messages'] }],
    ['empty messages', { ...simple, messages: [] }],
    ['system role in messages', { ...simple, messages: [{ role: 'system', content: 'x' }] }],
    ['content a number', { ...simple, messages: [{ role: 'user', content: 5 }] }],
    ['block without type', { ...simple, messages: [{ role: 'user', content: [{ text: 'x' }] }] }],
    ['text block without text', { ...simple, messages: [{ role: 'user', content: [{ type: 'text' }] }] }],
    ['tool_use without input', { ...simple, messages: [{ role: 'assistant', content: [{ type: 'tool_use', id: 'a', name: 'f' }] }] }],
    ['tool_result without id', { ...simple, messages: [{ role: 'user', content: [{ type: 'tool_result', content: 'x' }] }] }],
    ['base64 image without data', { ...simple, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png' } }] }] }],
    ['custom tool without input_schema', { ...simple, tools: [{ name: 'f' }] }],
    ['tool_choice tool without name', { ...simple, tool_choice: { type: 'tool' } }],
    ['unknown tool_choice', { ...simple, tool_choice: { type: 'sometimes' } }],
    ['temperature above 1', { ...simple, temperature: 1.5 }],
    ['max_tokens zero', { ...simple, max_tokens: 0 }],
    ['infinite top_p', { ...simple, top_p: Infinity }],
    ['thinking without a budget', { ...simple, thinking: { type: 'enabled' } }],
  ];
  for (const [name, body] of bad) t.notOk(create(body), name);
  t.ok(create({ ...simple, tools: [{ type: 'web_search_20250305', name: 'web_search' }] }), 'a server tool needs no input_schema');
});
