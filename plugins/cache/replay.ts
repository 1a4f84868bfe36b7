/**
 * A stored (non-streamed) answer replayed as the chunk stream a streaming client expects: per
 * choice a role delta, a content delta, tool-call deltas and a finish chunk, then the usage chunk
 * when the client asked for it. Ids and `created` are the stored ones. Logprobs are not replayed.
 */

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The chunks for `stored`: a `chat.completion` or a `text_completion`. */
export function* replayChunks(stored: Json, includeUsage: boolean): Generator<Json> {
  const choices = Array.isArray(stored['choices']) ? stored['choices'].filter(isObject) : [];
  const text = stored['object'] === 'text_completion';
  const head: Json = { id: stored['id'], object: text ? 'text_completion' : 'chat.completion.chunk', created: stored['created'], model: stored['model'] };
  if (!text && stored['system_fingerprint'] !== undefined) head['system_fingerprint'] = stored['system_fingerprint'];
  const chunk = (choice: Json): Json => ({ ...head, choices: [choice] });

  for (const [position, choice] of choices.entries()) {
    const index = typeof choice['index'] === 'number' ? choice['index'] : position;
    const finish = choice['finish_reason'] ?? 'stop';
    if (text) {
      yield chunk({ index, text: typeof choice['text'] === 'string' ? choice['text'] : '', logprobs: null, finish_reason: null });
      yield chunk({ index, text: '', logprobs: null, finish_reason: finish });
      continue;
    }
    const message = isObject(choice['message']) ? choice['message'] : {};
    const delta = (d: Json): Json => chunk({ index, delta: d, logprobs: null, finish_reason: null });
    yield delta({ role: typeof message['role'] === 'string' ? message['role'] : 'assistant', content: '' });
    if (typeof message['content'] === 'string' && message['content'] !== '') yield delta({ content: message['content'] });
    if (typeof message['refusal'] === 'string') yield delta({ refusal: message['refusal'] });
    if (Array.isArray(message['tool_calls'])) {
      for (const [at, call] of message['tool_calls'].entries()) if (isObject(call)) yield delta({ tool_calls: [{ index: at, ...call }] });
    }
    yield chunk({ index, delta: {}, logprobs: null, finish_reason: finish });
  }
  if (includeUsage && isObject(stored['usage'])) yield { ...head, choices: [], usage: stored['usage'] };
}

/** Replays `stored` as an async stream, the shape `ctx.response.stream` takes. */
export async function* replayStream(stored: Json, includeUsage: boolean): AsyncGenerator<unknown> {
  yield* replayChunks(stored, includeUsage);
}
