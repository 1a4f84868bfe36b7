/**
 * Per-request state. Core fields are typed here; each plugin adds its own namespace by module
 * augmentation of `ContextState` (e.g. `ctx.route`, later `ctx.auth`), so no plugin state is an
 * untyped bag and no two plugins share a key by accident.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from './log.js';
import type { RouteKind } from './plugin.js';
import type { GatewayError } from './errors.js';

/** The OpenAI-compatible operations the gateway serves. */
export type Endpoint =
  | 'chat.completions'
  | 'completions'
  | 'embeddings'
  | 'images.generations'
  | 'models.list'
  | 'models.retrieve';

/** Token usage of one request, as reported by the provider (or estimated by an offline adapter). */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  cached_tokens?: number;
  reasoning_tokens?: number;
}

/**
 * A JSON response, or a stream of JSON chunks the core writes as server-sent events. The body and
 * chunks belong to this request: plugins on the way back may rewrite them in place.
 */
export type GatewayResponse =
  | { status: number; headers: Record<string, string>; body: unknown; stream?: undefined }
  | { status: number; headers: Record<string, string>; stream: AsyncIterable<unknown>; body?: undefined };

/**
 * A JSON response that remembers the bytes it was parsed from. If no plugin reads `body`, the core
 * sends those bytes as they came (no second serialisation); reading or replacing `body` — to inspect
 * or rewrite it in place — makes the core serialise the object instead.
 */
export class JsonResponse {
  readonly stream = undefined;
  private touched = false;
  constructor(
    public status: number,
    public headers: Record<string, string>,
    private value: unknown,
    private readonly text?: string,
  ) {}

  get body(): unknown {
    this.touched = true;
    return this.value;
  }

  set body(value: unknown) {
    this.touched = true;
    this.value = value;
  }

  /** The response text to send. */
  serialize(): string {
    return this.touched || this.text === undefined ? JSON.stringify(this.value) : this.text;
  }
}

/** Plugins augment this interface with their own namespace: `declare module … { interface ContextState { … } }`. */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface ContextState {}

export interface Context extends ContextState {
  /** Request id: the client's `x-request-id` when it sent a sane one, else generated. */
  readonly id: string;
  readonly method: string;
  /** URL path without the query string, normalised so `/api/v1/...` reads as `/v1/...`. */
  readonly path: string;
  /** Raw query string including `?`, or ''. */
  readonly search: string;
  readonly headers: IncomingHttpHeaders;
  /** The client's address: the socket peer, or `X-Forwarded-For` when the hop is a trusted proxy. */
  readonly clientIp: string;
  readonly kind: RouteKind;
  /** The OpenAI operation, for model routes. */
  readonly endpoint: Endpoint | undefined;
  /** Path parameter of `/v1/models/{id}`. */
  readonly modelParam: string | undefined;
  /** Parsed JSON request body (model endpoints with a body). Plugins may rewrite it before `route`. */
  body: Record<string, unknown> | undefined;
  /** Set by the terminal plugin, or by any plugin that answers early; read by plugins on the way back. */
  response: GatewayResponse | undefined;
  /** Headers to add to (string) or remove from (null) the upstream request. */
  readonly upstreamHeaders: Record<string, string | null>;
  /** Aborted when the client goes away or the request is cancelled. */
  readonly signal: AbortSignal;
  /** Resolves after the last byte was written or the client went away; never rejects. */
  readonly done: Promise<void>;
  readonly log: Logger;
  /** `performance.now()` at arrival. */
  readonly startedAt: number;
  /** Facts the core reports in metrics and logs; the terminal plugin fills them in. */
  readonly report: RequestReport;
}

export interface RequestReport {
  /** The model id the client asked for. */
  model?: string;
  /** The config key that matched (exact id or glob): a bounded value, safe as a metrics label. */
  modelKey?: string;
  /** The provider that served the request. */
  provider?: string;
  usage?: Usage;
  /** Milliseconds from arrival to the first streamed chunk. */
  ttftMs?: number;
  /** Milliseconds spent waiting on the upstream. */
  upstreamMs?: number;
  /** Set when a stream ended with an error event. */
  streamError?: GatewayError;
}
