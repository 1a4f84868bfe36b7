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

  function start(chunk: Json | undefined): SseEvent[] {
    if (started) return [];
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
    return [event({ type: 'message_start', message }), event({ type: 'ping' })];
  }

  function close(): SseEvent[] {
    if (!open) return [];
    open = undefined;
    return [event({ type: 'content_block_stop', index: nextIndex - 1 })];
  }

  function openBlock(block: OpenBlock, contentBlock: Json): SseEvent[] {
    const out = close();
    open = block;
    out.push(event({ type: 'content_block_start', index: nextIndex++, content_block: contentBlock }));
    return out;
  }

  const current = (): number => nextIndex - 1;

  function thinking(text: string): SseEvent[] {
    const out = open?.kind === 'thinking' ? [] : openBlock({ kind: 'thinking' }, { type: 'thinking', thinking: '', signature: '' });
    out.push(event({ type: 'content_block_delta', index: current(), delta: { type: 'thinking_delta', thinking: text } }));
    return out;
  }

  function text(value: string): SseEvent[] {
    const out = open?.kind === 'text' ? [] : openBlock({ kind: 'text' }, { type: 'text', text: '' });
    out.push(event({ type: 'content_block_delta', index: current(), delta: { type: 'text_delta', text: value } }));
    return out;
  }

  function toolCall(call: ToolDelta): SseEvent[] {
    const tool = call.index ?? 0;
    const out: SseEvent[] = [];
    if (!(open?.kind === 'tool' && open.tool === tool) || call.id !== undefined) {
      const id = call.id ?? `toolu_${requestId}_${tool}`;
      out.push(...openBlock({ kind: 'tool', tool }, { type: 'tool_use', id, name: call.function?.name ?? '', input: {} }));
    }
    const partial = call.function?.arguments;
    if (typeof partial === 'string' && partial !== '') out.push(event({ type: 'content_block_delta', index: current(), delta: { type: 'input_json_delta', partial_json: partial } }));
    return out;
  }

  function delta(d: Json): SseEvent[] {
    const out: SseEvent[] = [];
    const reasoning = d['reasoning_content'] ?? d['reasoning'];
    if (typeof reasoning === 'string' && reasoning !== '') out.push(...thinking(reasoning));
    if (typeof d['content'] === 'string' && d['content'] !== '') out.push(...text(d['content']));
    if (typeof d['refusal'] === 'string' && d['refusal'] !== '') {
      refused = true;
      out.push(...text(d['refusal']));
    }
    if (Array.isArray(d['tool_calls'])) for (const call of d['tool_calls'] as ToolDelta[]) out.push(...toolCall(call ?? {}));
    return out;
  }

  return {
    chunk(raw) {
      const chunk = (raw ?? {}) as Json;
      if (chunk['usage'] && typeof chunk['usage'] === 'object') usage = chunk['usage'] as ChatUsage;
      const choice = (Array.isArray(chunk['choices']) ? chunk['choices'] : []).find((c) => ((c ?? {}) as Json)['index'] === 0 || ((c ?? {}) as Json)['index'] === undefined) as Json | undefined;
      // A chunk with no choice is the usage chunk (kept above) or a native carrier: nothing to write.
      if (!choice) return [];
      const out = start(chunk);
      out.push(...delta((choice['delta'] ?? {}) as Json));
      if (choice['finish_reason'] !== null && choice['finish_reason'] !== undefined) {
        finish = String(choice['finish_reason']);
        matched = choice['stop_reason'];
        out.push(...close());
      }
      return out;
    },
    end() {
      const out = start(undefined);
      out.push(...close());
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
