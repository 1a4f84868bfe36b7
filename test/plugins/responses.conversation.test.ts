/**
 * What a stored response keeps (plugins/responses/conversation.ts): a streamed chat answer assembled
 * into the `chat.completion` it amounts to — text, refusal, reasoning, interleaved parallel tool
 * calls, finish reason, usage — the assistant message it adds to the conversation, and this turn's
 * input items with ids. Chunks follow https://platform.openai.com/docs/api-reference/chat-streaming.
 */
import t from 'tap';
import { assistantMessage, inputItems, StreamedAnswer } from '../../plugins/responses/conversation.js';

const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
  id: 'chatcmpl-9',
  object: 'chat.completion.chunk',
  created: 1_700_000_123,
  model: 'gpt-4o-mini',
  choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
});

t.test('a streamed answer with text and interleaved parallel tool calls', async (t) => {
  const answer = new StreamedAnswer();
  for (const c of [
    chunk({ role: 'assistant', content: 'Checking ' }),
    chunk({ content: 'both.' }),
    chunk({ tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '' } }] }),
    chunk({ tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{"tz":' } }] }),
    chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":"Oslo"}' } }] }),
    chunk({ tool_calls: [{ index: 1, function: { arguments: '"CET"}' } }] }),
    chunk({}, 'tool_calls'),
    { ...chunk({}), choices: [], usage: { prompt_tokens: 7, completion_tokens: 9, total_tokens: 16 } },
  ])
    answer.add(c);
  const completion = answer.completion(undefined);
  t.equal(completion.id, 'chatcmpl-9');
  t.equal(completion.created, 1_700_000_123);
  t.equal(completion.model, 'gpt-4o-mini');
  t.equal(completion.choices[0]!.finish_reason, 'tool_calls');
  t.same(completion.usage, { prompt_tokens: 7, completion_tokens: 9, total_tokens: 16 }, 'the usage chunk');
  const calls = [
    { id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
    { id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{"tz":"CET"}' } },
  ];
  t.same(assistantMessage(completion), { role: 'assistant', content: 'Checking both.', tool_calls: calls });
  t.same(answer.completion({ prompt_tokens: 8, completion_tokens: 10, total_tokens: 18, cached_tokens: 2 }).usage, { prompt_tokens: 8, completion_tokens: 10, total_tokens: 18, prompt_tokens_details: { cached_tokens: 2 } }, "the request's final usage wins");
});

t.test('reasoning is kept for the Response but not carried into the conversation; a refusal is', async (t) => {
  const answer = new StreamedAnswer();
  answer.add(chunk({ role: 'assistant', reasoning_content: 'Think.' }));
  answer.add(chunk({ refusal: 'I cannot help with that.' }, 'stop'));
  const completion = answer.completion(undefined);
  t.equal((completion.choices[0]!.message as { reasoning_content?: string }).reasoning_content, 'Think.');
  t.same(assistantMessage(completion), { role: 'assistant', content: null, refusal: 'I cannot help with that.' });
});

t.test('a tool-call-only answer has null content; chunks that are not objects are ignored', async (t) => {
  const answer = new StreamedAnswer();
  answer.add(null);
  answer.add('junk');
  answer.add(chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }] }, 'tool_calls'));
  t.same(assistantMessage(answer.completion(undefined)), { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }] });
});

t.test('input items: a string input is one user message; items get ids, statuses and content parts', async (t) => {
  t.same(inputItems('Hi', 'resp_r1'), [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Hi' }], id: 'msg_r1_in0', status: 'completed' }]);
  t.same(
    inputItems(
      [
        { role: 'assistant', content: 'Earlier answer' },
        { type: 'function_call_output', call_id: 'call_1', output: 'sunny' },
        { id: 'msg_client', type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Thanks' }] },
      ],
      'resp_r2',
    ),
    [
      { role: 'assistant', type: 'message', id: 'msg_r2_in0', content: [{ type: 'output_text', text: 'Earlier answer', annotations: [] }], status: 'completed' },
      { type: 'function_call_output', call_id: 'call_1', output: 'sunny', id: 'fco_r2_in1', status: 'completed' },
      { id: 'msg_client', type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Thanks' }], status: 'completed' },
    ],
  );
});
