/**
 * Chat chunk stream → OpenAI Responses event stream
 * (https://platform.openai.com/docs/api-reference/responses-streaming). Every event carries a
 * `sequence_number` and is written with an SSE `event:` equal to its `type`:
 *
 *   response.created, response.in_progress,
 *   per item: response.output_item.added, then
 *     text:       response.content_part.added, response.output_text.delta…, response.output_text.done, response.content_part.done
 *     refusal:    response.content_part.added, response.refusal.delta…, response.refusal.done, response.content_part.done
 *     reasoning:  response.content_part.added, response.reasoning_text.delta…, response.reasoning_text.done, response.content_part.done
 *     tool call:  response.function_call_arguments.delta…, response.function_call_arguments.done
 *   response.output_item.done,
 *   response.completed | response.incomplete (with usage) — or `error` and response.failed.
 *
 * A text, refusal or reasoning item is closed when the next item starts; function-call items stay open until
 * the stream ends, because a provider may interleave the argument fragments of parallel calls.
 */
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import type { CompletionUsage } from 'openai/resources/completions';
import type { ResponseError, ResponseOutputItem, ResponseStatus, ResponseStreamEvent } from 'openai/resources/responses/responses';
import type { GatewayError } from '../../errors.js';
import type { DialectStream, Inbound, SseEvent } from './dialect.js';
import { baseResponse, endOf, functionCallItem, itemIdFor, messageItem, reasoningItem, responseUsage, type ResponseBody } from './responses-response.js';

/** An event before numbering (the translator stamps `sequence_number`). */
type Unnumbered<E> = E extends unknown ? Omit<E, 'sequence_number'> : never;
type Event = Unnumbered<ResponseStreamEvent>;

type Delta = ChatCompletionChunk.Choice.Delta & { reasoning_content?: string | null };

interface OpenItem {
  /** `refusal` is a message item whose one part is a refusal. */
  kind: 'message' | 'refusal' | 'reasoning' | 'function_call';
  id: string;
  outputIndex: number;
  /** Text, reasoning text or arguments so far. */
  text: string;
  callId: string;
  name: string;
  done: boolean;
}

export class ResponsesStreamTranslator implements DialectStream {
  private sequence = 0;
  private started = false;
  private created = Math.floor(Date.now() / 1000);
  private model = '';
  private readonly items: OpenItem[] = [];
  /** The open text, refusal or reasoning item (at most one). */
  private current: OpenItem | undefined;
  /** Chat tool-call index → its item. */
  private readonly calls = new Map<number, OpenItem>();
  private finishReason: string | null = null;
  private usage: CompletionUsage | undefined;

  constructor(
    private readonly inbound: Inbound,
    private readonly requestId: string,
  ) {}

  chunk(raw: unknown): SseEvent[] {
    const chunk = raw as ChatCompletionChunk;
    const out: Event[] = [];
    if (!this.started) {
      if (typeof chunk.created === 'number') this.created = chunk.created;
      if (typeof chunk.model === 'string') this.model = chunk.model;
      this.start(out);
    }
    if (chunk.usage) this.usage = chunk.usage;
    const choices = chunk.choices;
    const choice = choices === undefined || choices === null ? undefined : choices.length === 1 && choices[0]!.index === 0 ? choices[0] : (choices.find((c) => c.index === 0) ?? choices[0]);
    if (choice) {
      const delta = (choice.delta ?? {}) as Delta;
      if (typeof delta.reasoning_content === 'string' && delta.reasoning_content !== '') this.textDelta(out, 'reasoning', delta.reasoning_content);
      if (typeof delta.content === 'string' && delta.content !== '') this.textDelta(out, 'message', delta.content);
      if (typeof delta.refusal === 'string' && delta.refusal !== '') this.textDelta(out, 'refusal', delta.refusal);
      for (const call of delta.tool_calls ?? []) this.callDelta(out, call);
      if (choice.finish_reason) this.finishReason = choice.finish_reason;
    }
    return this.number(out);
  }

  end(): SseEvent[] {
    const out: Event[] = [];
    this.start(out);
    this.closeCurrent(out);
    for (const item of this.items) if (!item.done) this.close(out, item);
    const end = endOf(this.finishReason);
    const response = this.snapshot(end.status);
    response.incomplete_details = end.incomplete_details;
    if (end.status === 'completed') response.completed_at = Math.floor(Date.now() / 1000);
    if (this.usage) response.usage = responseUsage(this.usage);
    out.push({ type: end.status === 'completed' ? 'response.completed' : 'response.incomplete', response: response as never });
    return this.number(out);
  }

  error(error: GatewayError, _requestId: string, afterNative = false): SseEvent[] {
    const out: Event[] = [];
    // After the provider's own events the client has seen its `response.created` already.
    if (!afterNative) this.start(out);
    out.push({ type: 'error', code: error.code, message: error.message, param: error.param });
    const response = this.snapshot('failed');
    response.error = { code: failureCode(error), message: error.message };
    if (this.usage) response.usage = responseUsage(this.usage);
    out.push({ type: 'response.failed', response: response as never });
    return this.number(out);
  }

  private start(out: Event[]): void {
    if (this.started) return;
    this.started = true;
    // Both events carry the same snapshot: it is serialised as it is and never changed after.
    const response = this.snapshot('in_progress') as never;
    out.push({ type: 'response.created', response });
    out.push({ type: 'response.in_progress', response });
  }

  private snapshot(status: ResponseStatus): ResponseBody {
    const response = baseResponse(this.inbound, this.requestId, this.created, this.model, status);
    response.output = this.items.map((item) => this.itemOf(item, status === 'in_progress' ? 'in_progress' : status === 'completed' ? 'completed' : 'incomplete'));
    return response;
  }

  private itemOf(item: OpenItem, status: 'in_progress' | 'completed' | 'incomplete'): ResponseOutputItem {
    const itemStatus = item.done && status === 'in_progress' ? 'completed' : status;
    if (item.kind === 'message') return messageItem(item.id, item.text, itemStatus);
    if (item.kind === 'refusal') return messageItem(item.id, '', itemStatus, item.text);
    if (item.kind === 'reasoning') return reasoningItem(item.id, item.text, itemStatus);
    return functionCallItem(item.id, item.callId, item.name, item.text, itemStatus);
  }

  private open(out: Event[], kind: OpenItem['kind'], callId = '', name = ''): OpenItem {
    const outputIndex = this.items.length;
    const prefix = kind === 'reasoning' ? 'rs' : kind === 'function_call' ? 'fc' : 'msg';
    const item: OpenItem = { kind, id: itemIdFor(prefix, this.requestId, outputIndex), outputIndex, text: '', callId, name, done: false };
    this.items.push(item);
    out.push({ type: 'response.output_item.added', output_index: outputIndex, item: this.itemOf(item, 'in_progress') });
    if (kind !== 'function_call') {
      out.push({ type: 'response.content_part.added', item_id: item.id, output_index: outputIndex, content_index: 0, part: this.partOf(item) });
    }
    return item;
  }

  private partOf(item: OpenItem): Extract<Event, { type: 'response.content_part.added' }>['part'] {
    if (item.kind === 'reasoning') return { type: 'reasoning_text', text: item.text };
    if (item.kind === 'refusal') return { type: 'refusal', refusal: item.text };
    return { type: 'output_text', text: item.text, annotations: [], logprobs: [] };
  }

  private textDelta(out: Event[], kind: 'message' | 'refusal' | 'reasoning', delta: string): void {
    if (this.current?.kind !== kind) {
      this.closeCurrent(out);
      this.current = this.open(out, kind);
    }
    const item = this.current;
    item.text += delta;
    const { id, outputIndex } = item;
    if (kind === 'message') out.push({ type: 'response.output_text.delta', item_id: id, output_index: outputIndex, content_index: 0, delta, logprobs: [] });
    else if (kind === 'refusal') out.push({ type: 'response.refusal.delta', item_id: id, output_index: outputIndex, content_index: 0, delta });
    else out.push({ type: 'response.reasoning_text.delta', item_id: id, output_index: outputIndex, content_index: 0, delta });
  }

  private callDelta(out: Event[], call: ChatCompletionChunk.Choice.Delta.ToolCall): void {
    const index = call.index ?? 0;
    let item = this.calls.get(index);
    if (item === undefined) {
      this.closeCurrent(out);
      item = this.open(out, 'function_call', call.id ?? `call_${this.requestId}_${index}`, call.function?.name ?? '');
      this.calls.set(index, item);
    } else if (call.function?.name && item.name === '') {
      item.name = call.function.name;
    }
    const args = call.function?.arguments;
    if (typeof args === 'string' && args !== '') {
      item.text += args;
      out.push({ type: 'response.function_call_arguments.delta', item_id: item.id, output_index: item.outputIndex, delta: args });
    }
  }

  private closeCurrent(out: Event[]): void {
    if (this.current) this.close(out, this.current);
    this.current = undefined;
  }

  private close(out: Event[], item: OpenItem): void {
    item.done = true;
    const at = { item_id: item.id, output_index: item.outputIndex };
    if (item.kind === 'function_call') {
      out.push({ type: 'response.function_call_arguments.done', ...at, name: item.name, arguments: item.text });
    } else {
      const text = { ...at, content_index: 0, text: item.text };
      if (item.kind === 'message') out.push({ type: 'response.output_text.done', ...text, logprobs: [] });
      else if (item.kind === 'refusal') out.push({ type: 'response.refusal.done', ...at, content_index: 0, refusal: item.text });
      else out.push({ type: 'response.reasoning_text.done', ...text });
      out.push({ type: 'response.content_part.done', ...at, content_index: 0, part: this.partOf(item) });
    }
    const status = this.finishReason === 'length' || this.finishReason === 'content_filter' ? 'incomplete' : 'completed';
    out.push({ type: 'response.output_item.done', output_index: item.outputIndex, item: this.itemOf(item, status) });
  }

  /** Stamps each event (built here, owned by nobody else) in place: `sequence_number` is its last field. */
  private number(events: Event[]): SseEvent[] {
    const numbered: SseEvent[] = new Array(events.length);
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      (e as Event & { sequence_number: number }).sequence_number = this.sequence++;
      numbered[i] = { event: e.type, data: e };
    }
    return numbered;
  }
}

/** The Response `error.code` for a gateway error (the spec's list is closed). */
function failureCode(error: GatewayError): ResponseError['code'] {
  if (error.status === 429) return 'rate_limit_exceeded';
  if (error.status === 400) return 'invalid_prompt';
  return 'server_error';
}
