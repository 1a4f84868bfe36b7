/**
 * `anthropic` native pass-through for clients that spoke Anthropic Messages (`/v1/messages`): the
 * client's own body goes upstream while no plugin rewrote the conversation, and the provider's own
 * answer rides next to the chat translation (`NATIVE`). Inputs are the fixtures in
 * `test/fixtures/anthropic/` (each cites its doc page).
 */
import t from 'tap';
import { anthropicDialect } from '../../core/api/dialects/anthropic.js';
import { nativeBody, nativeFrames, type Inbound } from '../../core/api/dialects/dialect.js';
import type { Operation } from '../../plugins/route/adapter.js';
import { chatOp, makeAnthropic } from './anthropic-adapter.js';
import { fixture, streamFixture } from './anthropic-wire.js';
import { built, feedStream, sentBody } from './harness.js';

type Json = Record<string, unknown>;

const { adapter } = makeAnthropic({ beta: ['token-efficient-tools-2025-02-19'] });

/** The operation `route` would make for a `/v1/messages` request with `body`, as the core translates it. */
function messagesOp(body: Json, extra: Partial<Operation> = {}, operation = 'create', headers: Record<string, string> = {}): Operation {
  const { chat, extra: facts } = anthropicDialect.toChat(body, operation);
  const inbound: Inbound = { dialect: 'anthropic', body, operation, messagesText: JSON.stringify(chat['messages']), headers, ...(facts ? { extra: facts } : {}) };
  const op = chatOp(chat, { inbound, stream: chat['stream'] === true, clientWantsUsage: chat['stream'] === true, ...extra });
  // As route's invoke works it out: whether the conversation is still as translated.
  return { ...op, inboundIntact: JSON.stringify(op.body['messages']) === inbound.messagesText };
}

const conversation = (): Json => fixture('inbound-conversation');

t.test('the client body goes upstream as sent: cache_control, thinking signatures, server tools, top_k survive', async (t) => {
  const client = conversation();
  const sent = sentBody(adapter, messagesOp(client, { model: 'claude-sonnet-4-5-20250929' }));
  t.same(sent, { ...client, model: 'claude-sonnet-4-5-20250929' }, 'only the model differs');
  const messages = sent['messages'] as { content: Json[] }[];
  t.same(messages[1]!.content[0], { type: 'thinking', thinking: 'The user wants the weather.', signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds' });
  t.same(messages[2]!.content[1], { type: 'text', text: 'And in Celsius?', cache_control: { type: 'ephemeral' } });
  t.same((sent['system'] as Json[])[1], { type: 'text', text: 'Answer briefly.', cache_control: { type: 'ephemeral' } });
  t.same((sent['tools'] as Json[])[1], { type: 'web_search_20250305', name: 'web_search', max_uses: 5 });
});

t.test('stream and max_tokens follow the operation; client beta flags join the configured ones', async (t) => {
  const op = messagesOp(conversation(), {}, 'create', { 'anthropic-beta': 'interleaved-thinking-2025-05-14, token-efficient-tools-2025-02-19', 'anthropic-version': '2023-01-01' });
  const lowered = { ...op, stream: false, body: { ...op.body, max_tokens: 256 } };
  const sent = sentBody(adapter, lowered);
  t.equal(sent['max_tokens'], 256, 'a plugin lowered max_tokens');
  t.notOk('stream' in sent, 'not streamed');
  const headers = built(adapter, op).headers;
  t.equal(headers['anthropic-beta'], 'token-efficient-tools-2025-02-19,interleaved-thinking-2025-05-14');
  t.equal(headers['anthropic-version'], '2023-06-01', 'the adapter speaks its own API version');
  t.equal(headers['accept'], 'text/event-stream');
  t.equal(sentBody(adapter, op)['stream'], true);
});

t.test('a rewritten conversation, or count_tokens, is translated instead', async (t) => {
  const op = messagesOp(conversation());
  const messages = structuredClone(op.body['messages']) as Json[];
  messages[1] = { role: 'user', content: '[REDACTED]' };
  // route's invoke finds the conversation changed (inboundIntact false) and the adapter translates.
  const rewritten = { ...op, body: { ...op.body, messages }, inboundIntact: false };
  const sent = sentBody(adapter, rewritten);
  t.notOk(JSON.stringify(sent).includes('cache_control'), 'no cache_control: the translation');
  t.match(sent['messages'], [{ role: 'user', content: [{ type: 'text', text: '[REDACTED]' }] }]);
  t.equal(sent['top_k'], 40, 'top_k is translated too');
  t.same(built(adapter, rewritten).headers['anthropic-beta'], 'token-efficient-tools-2025-02-19', 'client beta flags are not forwarded with a translation');
  const count = messagesOp(fixture('inbound-count-tokens'), {}, 'count_tokens');
  t.same(sentBody(adapter, count)['system'], [{ type: 'text', text: 'You are a scientist' }], 'count_tokens is not sent natively (the client sent a string)');
  const plain = sentBody(adapter, chatOp({}));
  t.same(plain['messages'], [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }], 'a chat client is unaffected');
});

t.test('a JSON answer carries the provider message next to its chat form', async (t) => {
  const message = fixture('message-tool-use');
  const op = messagesOp(conversation(), { stream: false });
  const { body, usage } = adapter.parseResponse(op, message);
  t.equal(nativeBody(body, 'anthropic'), message, 'the provider body, as it came');
  t.equal(nativeBody(body, 'responses'), undefined, 'only for its dialect');
  t.match(body, { object: 'chat.completion', choices: [{ finish_reason: 'tool_calls' }] }, 'the plugins still see a chat completion');
  t.same(usage, { prompt_tokens: 2572, completion_tokens: 91, total_tokens: 2663, cached_tokens: 2000, cache_write_tokens: 100, reasoning_tokens: 40 }, 'cache reads and writes reach usage');
  ((body as Json)['choices'] as Json[])[0]!['message'] = { role: 'assistant', content: 'rewritten' };
  t.equal(nativeBody(body, 'anthropic'), undefined, 'not once a plugin changed the chat form');
  t.equal(nativeBody(adapter.parseResponse(chatOp({}), message).body, 'anthropic'), undefined, 'none for a chat client');
});

t.test('a stream carries every provider frame once, in order, on chat chunks or empty carriers', async (t) => {
  const events = streamFixture('stream-tool-use');
  const op = messagesOp(conversation());
  const translator = adapter.streamTranslator(op);
  const { chunks, done } = feedStream(translator, events);
  t.ok(done);
  const frames = chunks.flatMap((c) => nativeFrames(c) ?? ['<missing>']);
  t.same(frames, events.map((e) => `event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`), 'the frames are the provider stream');
  const carriers = chunks.filter((c) => (c['choices'] as unknown[]).length === 0 && !('usage' in c));
  t.ok(carriers.length >= 6, 'ping, block stops, thinking and signature deltas ride on carriers');
  t.ok(carriers.every((c) => c['id'] === 'msg_014p7gG3wDgGV9EUtLvnow3U' && c['object'] === 'chat.completion.chunk'), 'carriers are stamped like the stream');
  t.match(translator.usage(), { cached_tokens: Number, prompt_tokens: Number });
  const toolArgs = chunks.flatMap((c) => ((c['choices'] as { delta: { tool_calls?: { function: { arguments?: string } }[] } }[])[0]?.delta.tool_calls ?? []).map((tc) => tc.function.arguments ?? '')).join('');
  t.equal(toolArgs, '{"city": "San Francisco"}{"zone": "PST"}', 'the chat form is intact for the plugins');

  // The dialect's own translator (used when a plugin changed a chunk) ignores the carriers.
  const dialect = anthropicDialect.stream(op.inbound!, 'req-1');
  const written = [...chunks.flatMap((c) => dialect.chunk(c)), ...dialect.end()].map((e) => e.event);
  t.equal(written.filter((e) => e === 'ping').length, 1, 'one ping, not one per carrier');
  t.equal(written.filter((e) => e === 'content_block_stop').length, written.filter((e) => e === 'content_block_start').length);
});

t.test('a native stream that lost only message_stop still ends with one; a chat client gets no frames', async (t) => {
  const events = streamFixture('stream-text');
  const translator = adapter.streamTranslator(messagesOp({ model: 'claude-sonnet-4-5', max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'Hi' }] }));
  const { chunks } = feedStream(translator, events.slice(0, -1), { end: true });
  t.same(nativeFrames(chunks.at(-1)), ['event: message_stop\ndata: {"type":"message_stop"}\n\n']);
  t.match(chunks.at(-1), { choices: [], usage: { total_tokens: 40 } }, 'on the usage chunk');
  const plain = feedStream(adapter.streamTranslator(chatOp({}, { stream: true })), events).chunks;
  t.ok(plain.every((c) => nativeFrames(c) === undefined), 'no frames without an Anthropic client');
  t.notOk(plain.some((c) => (c['choices'] as unknown[]).length === 0), 'and no carriers');
});
