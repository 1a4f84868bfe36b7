/**
 * Per-request state. Core fields are typed here; each plugin adds its own namespace by module
 * augmentation of `ContextState` (e.g. `ctx.route`, `ctx.auth`), so no plugin state is an untyped
 * bag and no two plugins share a key by accident.
 *
 * The lifecycle a request goes through (docs/architecture.md tells it end to end):
 *   admitted → `ctx.model` resolved once (again only if a plugin changes `body.model`) → plugins →
 *   attempts (`ctx.attempts`) → response written → body final (completed | failed | aborted) →
 *   final usage (`ctx.usage`, estimated when the provider sent none) → post-response work
 *   (`ctx.afterResponse`) → one `RequestRecord` to every subscriber.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from './log.js';
import type { RouteKind } from './plugin.js';
import type { GatewayError } from './errors.js';
import type { Inbound } from './api/dialects/dialect.js';

/** The OpenAI-compatible operations the gateway serves. */
export type Endpoint =
  | 'chat.completions'
  | 'completions'
  | 'embeddings'
  | 'images.generations'
  | 'models.list'
  | 'models.retrieve'
  /** Anthropic's `POST /v1/messages/count_tokens`: names a model, generates nothing. */
  | 'messages.count_tokens'
  /** A client endpoint a plugin serves (`PluginDefinition.endpoints`): see `ctx.pluginRoute`. */
  | 'plugin';

/** The operations a provider serves (they name a model in their body). */
export type ModelEndpoint = Exclude<Endpoint, 'models.list' | 'models.retrieve' | 'plugin' | 'messages.count_tokens'>;

/** The operations that name a model in their body, served by a provider or not. */
export type NamedModelEndpoint = ModelEndpoint | 'messages.count_tokens';

/** Which plugin endpoint a request is for (`ctx.endpoint === 'plugin'`). */
export interface PluginRoute {
  /** The plugin that serves it (its YAML name). */
  readonly plugin: string;
  /** The endpoint's name within the plugin, e.g. `responses.retrieve`. */
  readonly name: string;
  /** The `{id}` path segment, decoded, when the endpoint's path has one. */
  readonly param: string | undefined;
}

/** Token usage of one request or attempt, as reported by the provider (or estimated: see `estimated`). */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  cached_tokens?: number;
  /** Prompt tokens written to the provider's cache (Anthropic `cache_creation_input_tokens`; a part of `prompt_tokens`). */
  cache_write_tokens?: number;
  /** The part of `cache_write_tokens` written with the 1-hour TTL (Anthropic `cache_creation.ephemeral_1h_input_tokens`), priced apart. */
  cache_write_1h_tokens?: number;
  reasoning_tokens?: number;
  /** True when some of these counts were not reported by the provider but counted by the gateway. */
  estimated?: boolean;
}

/** One place a model is served: a configured provider and the model id sent to it. */
export interface ModelTarget {
  readonly provider: string;
  readonly model: string;
}

/** What a request's model id resolved to against the serving config version. */
export interface ResolvedModel {
  /** The id the client sent (or the endpoint's default when it sent none). */
  readonly requested: string;
  /** The `models:` key that matched (an id or a glob; `provider/*` for the provider prefix form) — bounded, safe as a metrics label. */
  readonly key: string;
  /** The model the answer depends on: the key for an exact id or an alias, else the requested id. */
  readonly id: string;
  /** Other names of the same model (`aliases:` of an exact key). */
  readonly aliases: readonly string[];
  /** Where it is served, in the order to try. */
  readonly targets: readonly ModelTarget[];
}

/** Resolves model ids for one config version; provided by the pipeline's terminal plugin (`route`). */
export interface ModelResolver {
  /**
   * The model `requested` (the body's `model`, possibly absent) resolves to, for `endpoint`.
   * Throws the GatewayError the client gets (400 `missing_model`, 404 `model_not_found`).
   */
  resolve(endpoint: NamedModelEndpoint, requested: unknown, ctx: Context): ResolvedModel;
}

/** One call to one upstream target. */
export interface Attempt {
  readonly provider: string;
  readonly model: string;
  /** Milliseconds from the request's arrival to the start of this attempt. */
  readonly startMs: number;
  /** Upstream status (or the gateway status of a transport failure); unset while in progress. */
  status?: number;
  /** The gateway error code when the attempt failed. */
  errorCode?: string;
  /** Milliseconds until the upstream's response headers. */
  ttfbMs?: number;
  /** Milliseconds the attempt took, body included. */
  ms?: number;
  usage?: Usage;
}

/** How a response body ended. */
export type BodyState = 'completed' | 'failed' | 'aborted';

/** What a request came to, once its body is final. Handed to post-response work. */
export interface Outcome {
  /** The status sent; 499 when the client left before the response was complete. */
  readonly status: number;
  readonly body: BodyState;
  /** Final usage of the request (undefined when no model call spent tokens, e.g. a cache hit or a refusal). */
  readonly usage: Usage | undefined;
  /** Why the request failed (also for a stream that ended with an error event). */
  readonly error: GatewayError | undefined;
  /** The attempt that answered, if any. */
  readonly attempt: Attempt | undefined;
  /** Bytes of the request body read from the client (a raw proxy route's: as forwarded). */
  readonly bytesIn?: number;
  /** Bytes written to the client for the response, headers included (what a raw proxy route's response cost in egress). */
  readonly bytesOut?: number;
}

/** Work to run once the response is final; the core tracks it (shutdown and reloads wait for it). */
export type AfterResponse = (outcome: Outcome) => void | Promise<void>;

/**
 * A response, JSON or a stream of JSON chunks the core writes as server-sent events. The body and
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

/**
 * One streamed chunk kept as the JSON text the upstream sent (an OpenAI-compatible provider's
 * `data:` payload), parsed only if something asks for its value.
 */
export class RawChunk {
  private parsed: unknown;
  constructor(readonly text: string) {}

  get value(): unknown {
    return (this.parsed ??= JSON.parse(this.text));
  }
}

/** What the core writes for one chunk: the chunk's object (`RawChunk`s as their value). */
const chunkValue = (item: unknown): unknown => (item instanceof RawChunk ? item.value : item);

/**
 * A streamed response whose chunks may be `RawChunk`s. Like `JsonResponse`: if no plugin iterates
 * `stream`, the core forwards each raw chunk's text as it came — no parse, no second serialisation;
 * iterating `stream` (to rewrite chunks in place) yields plain objects and the core serialises them.
 * Plugins that only read chunks use `observe`, which does not stop the pass-through. Checking or
 * keeping `response.stream` costs nothing until it is iterated.
 */
export class ChunkStream {
  readonly body = undefined;
  private touched = false;
  private observers: ((chunk: unknown) => void)[] | undefined;
  private ends: (() => void)[] | undefined;
  readonly stream: AsyncIterable<unknown>;

  constructor(
    public status: number,
    public headers: Record<string, string>,
    private readonly items: AsyncIterable<unknown>,
  ) {
    this.stream = { [Symbol.asyncIterator]: () => this.objects()[Symbol.asyncIterator]() };
  }

  /**
   * Calls `fn` with each chunk's object as it goes out (`fn` must not modify it: the client may get
   * the original text), and `end` once the last chunk went out, if the stream completed.
   */
  observe(fn: (chunk: unknown) => void, end?: () => void): void {
    (this.observers ??= []).push(fn);
    if (end) (this.ends ??= []).push(end);
  }

  /** True while the core may forward raw chunk text (nothing iterated `stream`). */
  get passThrough(): boolean {
    return !this.touched;
  }

  private async *objects(): AsyncGenerator<unknown> {
    this.touched = true;
    for await (const item of this.items) {
      const value = chunkValue(item);
      if (this.observers) for (const fn of this.observers) fn(value);
      yield value;
    }
    if (this.ends) for (const fn of this.ends) fn();
  }

  /**
   * For the core, when it translates chunks into another API's events: each chunk's object,
   * observers called on the way (like `payloads`).
   */
  async *values(): AsyncGenerator<unknown> {
    this.touched = true;
    for await (const item of this.items) {
      const value = chunkValue(item);
      if (this.observers) for (const fn of this.observers) fn(value);
      yield value;
    }
    if (this.ends) for (const fn of this.ends) fn();
  }

  /**
   * For the core: each chunk as its SSE payload text (a raw chunk's own text, else its JSON),
   * observers called on the way.
   */
  async *payloads(): AsyncGenerator<string> {
    this.touched = true;
    for await (const item of this.items) {
      if (this.observers) {
        const value = chunkValue(item);
        for (const fn of this.observers) fn(value);
      }
      yield item instanceof RawChunk ? item.text : JSON.stringify(item);
    }
    if (this.ends) for (const fn of this.ends) fn();
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
  /** Set on a plugin's client endpoint (`endpoint === 'plugin'`): the plugin that answers it. */
  readonly pluginRoute: PluginRoute | undefined;
  /** Parsed JSON request body (model endpoints with a body). Plugins may rewrite it before `route`. */
  body: Record<string, unknown> | undefined;
  /**
   * Set when the client spoke another API (Anthropic Messages, OpenAI Responses): `body` is then
   * its translation into a chat-completions request, and this keeps the original (see
   * core/api/dialects/dialect.ts).
   */
  readonly inbound: Inbound | undefined;
  /**
   * The model this request is for, resolved on first read against the serving config version;
   * resolved again (and every `guardModel` check run again) when a plugin changed `body.model`.
   * Undefined on endpoints that name no model in their body. Throws the 400/404 for a missing or
   * unknown model.
   */
  readonly model: ResolvedModel | undefined;
  /**
   * Runs `check` on the model now and again whenever the model is re-resolved (a plugin renamed
   * it), so that a permission checked early cannot be walked around later. `check` throws to refuse.
   */
  guardModel(check: (model: ResolvedModel) => void): void;
  /** Set by the terminal plugin, or by any plugin that answers early; read by plugins on the way back. */
  response: GatewayResponse | undefined;
  /** Headers to add to (string) or remove from (null) the upstream request. */
  readonly upstreamHeaders: Record<string, string | null>;
  /** Every upstream attempt, in order (the terminal plugin records them). */
  readonly attempts: Attempt[];
  /**
   * The request's usage, set by whoever produced the response (for a stream: when it ends, with
   * what was generated so far if it was cut). Final once post-response work runs.
   */
  usage: Usage | undefined;
  /**
   * Set while the usage is still being worked out after the body ended (a cut stream's tokens
   * counted off the event loop), so the client's response never waits for it; the core awaits it
   * before post-response work sees the usage.
   */
  usagePending: Promise<void> | undefined;
  /** Registers work for when the response is final (settle limits, credits, records). */
  afterResponse(work: AfterResponse): void;
  /** Aborted when the client goes away or the request is cancelled. */
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** `performance.now()` at arrival. */
  readonly startedAt: number;
  /** Facts plugins report for the request record (`RequestRecord`); the core fills in the rest. */
  readonly report: RequestReport;
}

/** What plugins tell the request record beyond what the core knows itself. */
export interface RequestReport {
  /** The organization and key the request was made with (set by `auth`). */
  org?: string;
  keyId?: string;
  /** What the cache did: HIT, MISS, BYPASS, COALESCED. */
  cache?: string;
  /** Milliseconds from arrival to the first streamed chunk (set by the core). */
  ttftMs?: number;
  /** Set when a stream ended with an error event (by the core). */
  streamError?: GatewayError;
  /** What the request cost, in integer micro-units of the gateway currency (set by `billing` when priced). */
  costMicros?: number;
}
