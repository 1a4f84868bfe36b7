/**
 * Chat completion chunks → Anthropic's stream events
 * (https://docs.anthropic.com/en/api/messages-streaming): `message_start` and a `ping`, then per
 * content block `content_block_start`, its deltas (`thinking_delta`, `text_delta`,
 * `input_json_delta`) and `content_block_stop`, then `message_delta` with the stop reason and
 * usage, and `message_stop`. Blocks never interleave: a delta of another kind closes the open one.
 * Only the first choice is read (Anthropic answers with one).
 */
import type { GatewayError } from '../../errors.js';
import type { DialectStream, Inbound, SseEvent } from './dialect.js';
import { anthropicError, anthropicUsage, messageId, stopReason, type AnthropicExtra, type ChatUsage } from './anthropic-response.js';

type Json = Record<string, unknown>;

type OpenBlock = { kind: 'thinking' } | { kind: 'text' } | { kind: 'tool'; tool: number };

interface ToolDelta {
  index?: number;
  id?: string;
  function?: { name?: string; arguments?: string };
}

const event = (data: Json): SseEvent => ({ event: String(data['type']), data });

export function translateChatStream(inbound: Inbound, requestId: string): DialectStream {
  const extra = (inbound.extra ?? {}) as Partial<AnthropicExtra>;
  let started = false;
  let open: OpenBlock | undefined;
  let nextIndex = 0;
  let finish: string | null | undefined;
  let matched: unknown;
  let usage: ChatUsage | undefined;
  let refused = false;

  // Each helper appends its events to `out`: one array per chunk, none per block or delta.
  function start(out: SseEvent[], chunk: Json | undefined): void {
    if (started) return;
    started = true;
    const message = {
      id: messageId(chunk?.['id'], requestId),
      type: 'message',
      role: 'assistant',
      model: extra.model ?? (typeof chunk?.['model'] === 'string' ? chunk['model'] : ''),
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: anthropicUsage(usage),
    };
    out.push(event({ type: 'message_start', message }), event({ type: 'ping' }));
  }

  function close(out: SseEvent[]): void {
    if (!open) return;
    open = undefined;
    out.push(event({ type: 'content_block_stop', index: nextIndex - 1 }));
  }

  function openBlock(out: SseEvent[], block: OpenBlock, contentBlock: Json): void {
    close(out);
    open = block;
    out.push(event({ type: 'content_block_start', index: nextIndex++, content_block: contentBlock }));
  }

  const current = (): number => nextIndex - 1;

  function thinking(out: SseEvent[], text: string): void {
    if (open?.kind !== 'thinking') openBlock(out, { kind: 'thinking' }, { type: 'thinking', thinking: '', signature: '' });
    out.push(event({ type: 'content_block_delta', index: current(), delta: { type: 'thinking_delta', thinking: text } }));
  }

  function text(out: SseEvent[], value: string): void {
    if (open?.kind !== 'text') openBlock(out, { kind: 'text' }, { type: 'text', text: '' });
    out.push(event({ type: 'content_block_delta', index: current(), delta: { type: 'text_delta', text: value } }));
  }

  function toolCall(out: SseEvent[], call: ToolDelta): void {
    const tool = call.index ?? 0;
    if (!(open?.kind === 'tool' && open.tool === tool) || call.id !== undefined) {
      const id = call.id ?? `toolu_${requestId}_${tool}`;
      openBlock(out, { kind: 'tool', tool }, { type: 'tool_use', id, name: call.function?.name ?? '', input: {} });
    }
    const partial = call.function?.arguments;
    if (typeof partial === 'string' && partial !== '') out.push(event({ type: 'content_block_delta', index: current(), delta: { type: 'input_json_delta', partial_json: partial } }));
  }

  function delta(out: SseEvent[], d: Json): void {
    const reasoning = d['reasoning_content'] ?? d['reasoning'];
    if (typeof reasoning === 'string' && reasoning !== '') thinking(out, reasoning);
    if (typeof d['content'] === 'string' && d['content'] !== '') text(out, d['content']);
    if (typeof d['refusal'] === 'string' && d['refusal'] !== '') {
      refused = true;
      text(out, d['refusal']);
    }
    if (Array.isArray(d['tool_calls'])) for (const call of d['tool_calls'] as ToolDelta[]) toolCall(out, call ?? {});
  }

  return {
    chunk(raw) {
      const chunk = (raw ?? {}) as Json;
      if (chunk['usage'] && typeof chunk['usage'] === 'object') usage = chunk['usage'] as ChatUsage;
      const choice = firstChoice(chunk['choices']);
      // A chunk with no choice is the usage chunk (kept above) or a native carrier: nothing to write.
      if (!choice) return [];
      const out: SseEvent[] = [];
      start(out, chunk);
      delta(out, (choice['delta'] ?? {}) as Json);
      if (choice['finish_reason'] !== null && choice['finish_reason'] !== undefined) {
        finish = String(choice['finish_reason']);
        matched = choice['stop_reason'];
        close(out);
      }
      return out;
    },
    end() {
      const out: SseEvent[] = [];
      start(out, undefined);
      close(out);
      const { reason, sequence } = stopReason(refused ? 'content_filter' : (finish ?? null), matched, extra.stopSequences ?? []);
      out.push(event({ type: 'message_delta', delta: { stop_reason: reason, stop_sequence: sequence }, usage: anthropicUsage(usage) }));
      out.push(event({ type: 'message_stop' }));
      return out;
    },
    error(error: GatewayError, id: string) {
      return [{ event: 'error', data: anthropicError(error, id).body }];
    },
  };
}

/** The choice with index 0 (or none given): a loop, not a closure per chunk. */
function firstChoice(choices: unknown): Json | undefined {
  if (!Array.isArray(choices)) return undefined;
  for (const c of choices) {
    const index = ((c ?? {}) as Json)['index'];
    if (index === 0 || index === undefined) return c as Json;
  }
  return undefined;
}
