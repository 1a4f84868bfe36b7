/**
 * What a stored response keeps, made from the request and its chat answer: the assistant message
 * the answer adds to the conversation, a streamed answer assembled into the `chat.completion` it
 * amounts to (text, refusal, reasoning, tool calls, finish reason), and this turn's input items as
 * `GET /v1/responses/{id}/input_items` lists them.
 */
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionMessageToolCall } from 'openai/resources/chat/completions';
import type { CompletionUsage } from 'openai/resources/completions';
import type { Usage } from '../../core/context.js';

type Message = Record<string, unknown>;

/**
 * The assistant message a chat answer adds to the conversation: text (or refusal) and function tool
 * calls. Reasoning is left out: chat has no input form for it, and models do not need it back.
 */
export function assistantMessage(completion: ChatCompletion): Message {
  const message = completion.choices?.[0]?.message;
  const toolCalls = (message?.tool_calls ?? []).filter((c) => c.type === 'function');
  const text = typeof message?.content === 'string' ? message.content : '';
  const refusal = typeof message?.refusal === 'string' && message.refusal !== '' ? message.refusal : undefined;
  // Chat wants `content: null` beside tool calls or a refusal when there is no text.
  const out: Message = { role: 'assistant', content: text === '' && (toolCalls.length > 0 || refusal !== undefined) ? null : text };
  if (refusal !== undefined) out['refusal'] = refusal;
  if (toolCalls.length > 0) out['tool_calls'] = toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.function.name, arguments: c.function.arguments } }));
  return out;
}

/** The gateway's usage in chat-completions form. */
export function chatUsage(usage: Usage): CompletionUsage {
  const out: CompletionUsage = { prompt_tokens: usage.prompt_tokens, completion_tokens: usage.completion_tokens, total_tokens: usage.total_tokens };
  if (usage.cached_tokens !== undefined) out.prompt_tokens_details = { cached_tokens: usage.cached_tokens };
  if (usage.reasoning_tokens !== undefined) out.completion_tokens_details = { reasoning_tokens: usage.reasoning_tokens };
  return out;
}

type ChunkDelta = ChatCompletionChunk.Choice.Delta & { reasoning_content?: string | null };

/** A streamed chat answer, chunk by chunk (`add` with each chunk object), as one `chat.completion`. */
export class StreamedAnswer {
  private id = '';
  private created = 0;
  private model = '';
  private text = '';
  private refusal = '';
  private reasoning = '';
  private finishReason: string | null = null;
  private usage: CompletionUsage | undefined;
  /** Chat tool-call index → the call so far. */
  private readonly calls = new Map<number, ChatCompletionMessageToolCall & { type: 'function' }>();

  add(raw: unknown): void {
    const chunk = raw as Partial<ChatCompletionChunk> | null;
    if (!chunk || typeof chunk !== 'object') return;
    if (this.id === '' && typeof chunk.id === 'string') this.id = chunk.id;
    if (this.created === 0 && typeof chunk.created === 'number') this.created = chunk.created;
    if (this.model === '' && typeof chunk.model === 'string') this.model = chunk.model;
    if (chunk.usage) this.usage = chunk.usage;
    const choice = chunk.choices?.find((c) => c.index === 0) ?? chunk.choices?.[0];
    if (!choice) return;
    const delta = (choice.delta ?? {}) as ChunkDelta;
    if (typeof delta.content === 'string') this.text += delta.content;
    if (typeof delta.refusal === 'string') this.refusal += delta.refusal;
    if (typeof delta.reasoning_content === 'string') this.reasoning += delta.reasoning_content;
    for (const part of delta.tool_calls ?? []) {
      let call = this.calls.get(part.index);
      if (!call) this.calls.set(part.index, (call = { id: '', type: 'function', function: { name: '', arguments: '' } }));
      if (part.id) call.id = part.id;
      if (part.function?.name) call.function.name += part.function.name;
      if (part.function?.arguments) call.function.arguments += part.function.arguments;
    }
    if (choice.finish_reason) this.finishReason = choice.finish_reason;
  }

  /** The answer so far as a `chat.completion`; `usage` (the request's final usage) wins over a usage chunk. */
  completion(usage: Usage | undefined): ChatCompletion {
    const toolCalls = [...this.calls.entries()].sort(([a], [b]) => a - b).map(([, call]) => call);
    const message: ChatCompletion.Choice['message'] & { reasoning_content?: string } = {
      role: 'assistant',
      content: this.text === '' && toolCalls.length > 0 ? null : this.text,
      refusal: this.refusal === '' ? null : this.refusal,
    };
    if (toolCalls.length > 0) message.tool_calls = toolCalls;
    if (this.reasoning !== '') message.reasoning_content = this.reasoning;
    const completion: ChatCompletion = {
      id: this.id,
      object: 'chat.completion',
      created: this.created || Math.floor(Date.now() / 1000),
      model: this.model,
      choices: [{ index: 0, message, finish_reason: (this.finishReason ?? 'stop') as ChatCompletion.Choice['finish_reason'], logprobs: null }],
    };
    const final = usage ? chatUsage(usage) : this.usage;
    if (final) completion.usage = final;
    return completion;
  }
}

/** Id prefixes of input items by type, as OpenAI names them. */
const ITEM_PREFIX: Readonly<Record<string, string>> = { message: 'msg', function_call: 'fc', function_call_output: 'fco', reasoning: 'rs' };

/**
 * This turn's input items (`input` of the request: a string or a list) as `input_items` lists them:
 * every item with a `type`, an `id` (the client's, else `<prefix>_<response id>_in<i>`) and a status;
 * text content as content parts.
 */
export function inputItems(input: unknown, responseId: string): Message[] {
  const items: Message[] = typeof input === 'string' ? [{ type: 'message', role: 'user', content: input }] : Array.isArray(input) ? (input as Message[]) : [];
  const idPart = responseId.replace(/^resp_/, '');
  return items.map((item, i) => {
    const type = typeof item['type'] === 'string' ? item['type'] : 'message';
    const out: Message = { ...item, type };
    if (typeof out['id'] !== 'string') out['id'] = `${ITEM_PREFIX[type] ?? 'item'}_${idPart}_in${i}`;
    if (type === 'message' && typeof out['content'] === 'string') {
      const text = out['content'];
      out['content'] = out['role'] === 'assistant' ? [{ type: 'output_text', text, annotations: [] }] : [{ type: 'input_text', text }];
    }
    if (type !== 'reasoning' && out['status'] === undefined) out['status'] = 'completed';
    return out;
  });
}
