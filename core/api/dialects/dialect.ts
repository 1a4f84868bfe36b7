/**
 * Inbound API dialects: other client APIs (Anthropic Messages, OpenAI Responses) served through the
 * same pipeline as chat completions. The core translates a dialect's request into the internal chat
 * form once, before any plugin runs — so `auth`, `rate-limit`, `cache`, `transform`, `billing`,
 * `audit` and `route` see an ordinary `chat.completions` request and nothing can be bypassed by
 * switching API — and translates the pipeline's chat answer (JSON, chunk stream or error) back into
 * the dialect's shape when it writes the response.
 *
 * Native pass-through: when the target's own API is the dialect (Anthropic for `/v1/messages`), the
 * adapter may send the client's original body (`Inbound.body`) instead of a translation, and hand
 * back the provider's own answer next to the chat form it still produces for the plugins:
 * `NATIVE` on a chat body or chunk object. The core sends the native answer only when no plugin
 * changed the chat form (see `nativeBody` / `nativeFrames`).
 */
import type { GatewayError } from '../../errors.js';

export type DialectName = 'anthropic' | 'responses';

/** What the core keeps of a dialect request, on `ctx.inbound`. */
export interface Inbound {
  readonly dialect: DialectName;
  /** The client's body as validated (never modified). */
  readonly body: Readonly<Record<string, unknown>>;
  /** The operation within the dialect: `create`, `count_tokens`, … */
  readonly operation: string;
  /**
   * JSON of the chat body's `messages` as translated, before any plugin ran: an adapter compares it
   * with the body it is given to know whether a plugin rewrote the conversation (then the native
   * body would bypass that rewrite, and the translation is sent instead).
   */
  readonly messagesText: string;
  /** Dialect-specific facts the response translation needs (e.g. the requested model name, tool name maps). */
  readonly extra?: Record<string, unknown>;
  /** Client headers of the dialect an adapter may forward natively (`anthropic-beta`, `anthropic-version`). */
  readonly headers: Readonly<Record<string, string>>;
}

/** One server-sent event to write: `event:` line (if any) and JSON `data:`. */
export interface SseEvent {
  event?: string;
  data: unknown;
}

/** Turns chat chunks into a dialect's stream events. One per response. */
export interface DialectStream {
  /** Events for one chat chunk (an OpenAI `chat.completion.chunk` object). */
  chunk(chunk: unknown): SseEvent[];
  /** Events that close a stream that completed (usage final). */
  end(): SseEvent[];
  /**
   * Events that close a stream that failed after it began (the dialect's error event).
   * `afterNative`: the provider's own frames went out so far, not this translator's events.
   */
  error(error: GatewayError, requestId: string, afterNative?: boolean): SseEvent[];
}

export interface Dialect {
  readonly name: DialectName;
  /**
   * The internal chat-completions request for a validated dialect body. Throws a 400 GatewayError
   * for what JSON Schema cannot express. `extra` goes to `Inbound.extra`.
   */
  toChat(body: Readonly<Record<string, unknown>>, operation: string): { chat: Record<string, unknown>; extra?: Record<string, unknown> };
  /** The dialect's response body for a complete `chat.completion` object. */
  fromChat(chat: unknown, inbound: Inbound, requestId: string): unknown;
  /** A stream translator for one streamed response. */
  stream(inbound: Inbound, requestId: string): DialectStream;
  /** The dialect's error body and the status to send it with. */
  errorBody(error: GatewayError, requestId: string): { status: number; body: unknown };
}

/**
 * Key of the provider's own answer on a chat body (`{ body, chatText }`: the native body and the
 * JSON of the chat body as the adapter made it) or on a chat chunk (`string[]`: the provider's SSE
 * frames, `event: …\ndata: …\n\n`, that this chunk came from).
 */
export const NATIVE = Symbol.for('switchyard.native');

export interface NativeBody {
  readonly dialect: DialectName;
  readonly body: unknown;
  /** `JSON.stringify` of the chat body when the adapter made it. */
  readonly chatText: string;
}

/** The provider's own body to send for `chat`, if there is one and no plugin changed the chat form. */
export function nativeBody(chat: unknown, dialect: DialectName): unknown {
  const native = (chat as { [NATIVE]?: NativeBody } | null)?.[NATIVE];
  if (native === undefined || native.dialect !== dialect) return undefined;
  return JSON.stringify(chat) === native.chatText ? native.body : undefined;
}

/**
 * The provider's own SSE frames carried by a chat chunk (undefined when it carries none). In native
 * mode an adapter gives provider events that make no chat chunk (`ping`, `content_block_stop`,
 * `message_stop`) to a chunk with `choices: []` and no usage, which a dialect's own translator skips.
 */
export function nativeFrames(chunk: unknown): readonly string[] | undefined {
  return (chunk as { [NATIVE]?: string[] } | null)?.[NATIVE];
}
