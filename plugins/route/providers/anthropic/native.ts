/**
 * Native pass-through for clients that spoke Anthropic Messages (`/v1/messages`): when no plugin
 * rewrote the conversation, the client's own body goes upstream (target model, `stream` and
 * `max_tokens` from the operation), so `cache_control`, thinking signatures, citations, documents
 * and server tools survive, and the provider's own answer rides next to the chat translation the
 * plugins see (`NATIVE`, see core/api/dialects/dialect.ts). The core sends the native answer only
 * if no plugin changed the chat form either.
 */
import { NATIVE, type NativeBody } from '../../../../core/api/dialects/dialect.js';
import type { EventSourceMessage } from '../../../../core/http/sse.js';
import type { Operation, StreamTranslator } from '../../adapter.js';
import { maxTokensOf } from '../../openai-request.js';
import { errors } from '../../../../core/errors.js';

type Json = Record<string, unknown>;

/** True when `op` may be sent as the client's own Messages body. */
export function isNative(op: Operation): boolean {
  const inbound = op.inbound;
  if (inbound?.dialect !== 'anthropic' || inbound.operation === 'count_tokens') return false;
  return op.inboundIntact === true;
}

const SAMPLING = ['temperature', 'top_p', 'top_k'] as const;

/** The client's body for the upstream: the target's model, the operation's `stream` and token limit. */
export function nativeMessagesBody(op: Operation): Json {
  const body: Json = { ...op.inbound!.body, model: op.model };
  if (op.stream) body['stream'] = true;
  else delete body['stream'];
  const max = maxTokensOf(op.body);
  if (typeof max === 'number') body['max_tokens'] = max;
  // Sampling fields map one to one from the chat form: what a plugin set or removed there (a
  // transform capping temperature) holds on the native body too.
  for (const field of SAMPLING) {
    if (op.body[field] === undefined) delete body[field];
    else body[field] = op.body[field];
  }
  const stop = op.body['stop'];
  if (stop === undefined) delete body['stop_sequences'];
  else body['stop_sequences'] = Array.isArray(stop) ? stop : [stop];
  return body;
}

/** The fields of a Messages body that `count_tokens` takes (https://docs.anthropic.com/en/api/messages-count-tokens). */
const COUNTED = ['messages', 'system', 'tools', 'tool_choice', 'thinking', 'mcp_servers'] as const;

/**
 * The body for `POST /v1/messages/count_tokens`: the client's own Messages body when it spoke
 * Anthropic and no plugin rewrote the conversation (so `cache_control`, documents and server tools
 * are counted as Anthropic would), else `translated()` — the chat form as this adapter sends it.
 */
export function countTokensBody(op: Operation, translated: () => Json): Json {
  const inbound = op.inbound;
  const source = inbound?.dialect === 'anthropic' && JSON.stringify(op.body['messages']) === inbound.messagesText ? inbound.body : translated();
  const body: Json = { model: op.model };
  for (const field of COUNTED) if (source[field] !== undefined) body[field] = source[field];
  return body;
}

/** `input_tokens` of a `count_tokens` answer. */
export function countedTokens(provider: string, answer: unknown): number {
  const tokens = (answer as { input_tokens?: unknown } | null)?.input_tokens;
  if (typeof tokens !== 'number' || !Number.isInteger(tokens) || tokens < 0) throw errors.badGateway('upstream_invalid_response', `${provider}: the token count has no input_tokens.`);
  return tokens;
}

/** `anthropic-beta`: the provider's configured flags and the client's, each once. */
export function mergedBeta(configured: string | undefined, op: Operation): string | undefined {
  const flags = [configured, op.inbound?.headers['anthropic-beta']].flatMap((v) => (v ? v.split(',') : [])).map((f) => f.trim()).filter(Boolean);
  return flags.length ? [...new Set(flags)].join(',') : undefined;
}

/** Hangs the provider's message on the chat body made from it. */
export function attachNativeBody(chat: object, providerBody: unknown): void {
  const native: NativeBody = { dialect: 'anthropic', body: providerBody, chatText: JSON.stringify(chat) };
  (chat as { [NATIVE]?: NativeBody })[NATIVE] = native;
}

/** One SSE frame as the provider sent it (`event:` line and the data, line by line). */
function frame(event: EventSourceMessage, name: string): string {
  return `event: ${name}\n${event.data.split('\n').map((line) => `data: ${line}`).join('\n')}\n\n`;
}

const MESSAGE_STOP = 'event: message_stop\ndata: {"type":"message_stop"}\n\n';

/**
 * Wraps the chat stream translator: each chat chunk carries the provider frames it came from; an
 * event that makes no chat chunk (`ping`, `content_block_stop`, thinking deltas) rides on an empty
 * carrier chunk (`choices: []`, no usage), which the dialect's own translator skips.
 */
export function nativeStreamTranslator(inner: StreamTranslator, requestId: string, model: string): StreamTranslator {
  let stamp: { id: string; created: number; model: string } | undefined;
  const carrier = (): Json => {
    const s = stamp ?? { id: requestId, created: Math.floor(Date.now() / 1000), model };
    return { id: s.id, object: 'chat.completion.chunk', created: s.created, model: s.model, choices: [] };
  };
  const carry = (chunks: unknown[], frames: string[]): unknown[] => {
    const out = chunks.length ? chunks : [carrier()];
    out.forEach((chunk, i) => ((chunk as { [NATIVE]?: string[] })[NATIVE] = i === 0 ? frames : []));
    return out;
  };
  return {
    event(event) {
      const out = inner.event(event);
      const first = out.chunks[0] as Json | undefined;
      if (!stamp && first && typeof first['id'] === 'string') stamp = { id: first['id'], created: Number(first['created']), model: String(first['model']) };
      let name = event.event;
      if (!name) name = String((JSON.parse(event.data) as Json)['type']);
      return { ...out, chunks: carry(out.chunks, [frame(event, name)]) };
    },
    end() {
      // Called only when `message_stop` never came: a stream that lost only that is whole, and the client still gets one.
      return carry(inner.end(), [MESSAGE_STOP]);
    },
    usage: () => inner.usage(),
  };
}
