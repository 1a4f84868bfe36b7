/**
 * The provider adapter contract. An adapter is a pure translator between the OpenAI wire format the
 * gateway speaks and one provider's wire format, with four duties (after Envoy AI Gateway's
 * translators): build the upstream request, translate a complete response, translate a stream
 * event by event, translate an error. Usage is always extracted. The route plugin owns the HTTP
 * call (one client, one set of timeouts, one SSE parser), so adapters never touch sockets.
 * Offline adapters (`mock`) implement `serve` instead and answer without any I/O.
 */
import type { ModelEndpoint, Usage } from '../../core/context.js';
import type { GatewayError } from '../../core/errors.js';
import type { EventSourceMessage } from '../../core/http/sse.js';
import type { UpstreamClient, UpstreamRequest, UpstreamTimeouts } from '../../core/http/upstream.js';
import type { Catalog } from '../../core/config/catalog.js';
import type { Logger } from '../../core/log.js';
import type { DialectName, Inbound } from '../../core/api/dialects/dialect.js';

/** The operations a provider can serve (the model-listing endpoints are answered by `route` itself). */
export type { ModelEndpoint };

/** One call to one target, in OpenAI terms. */
export interface Operation {
  readonly endpoint: ModelEndpoint;
  /**
   * The client's request body after the pipeline, with `model` set to the upstream model id. Looser
   * than the `openai` request types on purpose: fields the gateway does not know pass through.
   */
  readonly body: Readonly<Record<string, unknown>>;
  /** Model id the provider should see. */
  readonly model: string;
  readonly stream: boolean;
  /** True when the client asked for a final usage chunk (`stream_options.include_usage`). */
  readonly clientWantsUsage: boolean;
  readonly requestId: string;
  /** Headers to add (string) or remove (null) on the upstream request, from plugins such as `transform`. */
  readonly headers: Readonly<Record<string, string | null>>;
  /**
   * The client's original request when it spoke another API (`/v1/messages`, `/v1/responses`):
   * an adapter whose provider speaks that API natively may send it instead of translating `body`
   * (see core/api/dialects/dialect.ts for when that is allowed).
   */
  readonly inbound?: Inbound;
  /**
   * With `inbound`: true when no plugin changed the conversation since the core translated it
   * (the chat body's `messages` serialise as `inbound.messagesText`), so the client's own body may
   * go upstream without walking around a plugin. Worked out once per request.
   */
  readonly inboundIntact?: boolean;
}

/** A complete OpenAI-shaped answer. */
export interface TranslatedResponse {
  /** Any endpoint's body (translators build them with `openai-shape.ts`); `openai` passes the provider's through as it came. */
  body: unknown;
  usage: Usage | undefined;
}

/** What every stream translator needs to know of its call; adapters add their own settings. */
export interface StreamContext {
  /** The provider's name in YAML (it prefixes error messages). */
  readonly provider: string;
  /** Model id for the chunks until the provider names its own. */
  readonly model: string;
  /** For chunk ids when the provider sends none. */
  readonly requestId: string;
  /** Whether to end with the usage chunk (`stream_options.include_usage`). */
  readonly clientWantsUsage: boolean;
}

/** The stream context of `op` on `env`'s provider. */
export function streamContext(env: AdapterEnv, op: Operation): StreamContext {
  return { provider: env.provider, model: op.model, requestId: op.requestId, clientWantsUsage: op.clientWantsUsage };
}

/** Translates one upstream event stream into OpenAI chunks. One instance per call. */
export interface StreamTranslator {
  /**
   * Chunks for one upstream event; `done` once the provider said the stream is complete. For
   * `ndjson` streams each line arrives as an event whose `data` is the line. `unknown`: chat or
   * legacy-completion chunks, and the `openai` adapter's are the provider's own.
   */
  event(event: EventSourceMessage): { chunks: unknown[]; done?: boolean };
  /** Called when the upstream body ended; returns any final chunks (such as the usage chunk). */
  end(): unknown[];
  /** Usage seen so far (complete once the stream ended). */
  usage(): Usage | undefined;
}

export interface HttpAdapter {
  readonly kind: 'http';
  /**
   * The client API this adapter's provider speaks natively, when it may pass a request in that
   * API through untranslated (`Operation.inbound`, `inboundIntact`): `anthropic` for Anthropic,
   * `responses` for an OpenAI provider with `responses_api`.
   */
  readonly native?: DialectName;
  readonly timeouts: UpstreamTimeouts;
  supports(endpoint: ModelEndpoint): boolean;
  /** Wire format of streamed responses: server-sent events (default) or newline-delimited JSON. */
  readonly streamFormat?: 'sse' | 'ndjson';
  /** May be async, e.g. to fetch or refresh an OAuth token first. */
  buildRequest(op: Operation): UpstreamRequest | Promise<UpstreamRequest>;
  /**
   * Called when the provider answered 401. Returning true (credentials were renewed) makes the call
   * rebuild the request and send it once more; a second 401 goes to `parseError`.
   */
  refreshAuth?(): Promise<boolean>;
  parseResponse(op: Operation, body: unknown): TranslatedResponse;
  streamTranslator(op: Operation): StreamTranslator;
  /** Turns a non-2xx upstream answer into the error the client sees. */
  parseError(status: number, bodyText: string, headers: Record<string, string | string[] | undefined>): GatewayError;
  /** How to list the provider's upstream models (`discover:`); absent when the provider has no list endpoint. */
  readonly models?: ModelLister;
  /** The provider's own prompt token count (Anthropic's `count_tokens`); absent: the gateway estimates. */
  readonly countTokens?: TokenCountEndpoint;
}

/**
 * A provider endpoint that counts a prompt's tokens: `request` builds the call for `op` (the chat
 * form of the prompt, and the client's own body in `op.inbound`), `parse` reads a 200 body into the
 * count (throws when the body is not the provider's answer). Errors go through `parseError`.
 */
export interface TokenCountEndpoint {
  request(op: Operation): UpstreamRequest | Promise<UpstreamRequest>;
  parse(body: unknown): number;
}

/** One model a provider's list endpoint named. */
export interface ListedModel {
  /** The id to send upstream (`gpt-4o`, `claude-sonnet-4-5`, `gemini-2.0-flash`). */
  readonly id: string;
  /** Unix seconds, when the provider says. */
  readonly created?: number;
  readonly context_window?: number;
  readonly max_output_tokens?: number;
}

/**
 * A provider's model list endpoint, page by page: `request(cursor)` builds the GET for one page
 * (`undefined` for the first), `parse` reads a 200 body into models and the next page's cursor.
 * Errors go through the adapter's `parseError`; a 401 through `refreshAuth`, as for a call.
 */
export interface ModelLister {
  request(cursor: string | undefined): UpstreamRequest | Promise<UpstreamRequest>;
  /** Throws when the body is not the provider's list. */
  parse(body: unknown): { models: ListedModel[]; next?: string | undefined };
}

export type LocalResult =
  | { kind: 'json'; response: TranslatedResponse }
  | { kind: 'stream'; chunks: AsyncIterable<unknown>; usage(): Usage | undefined };

export interface LocalAdapter {
  readonly kind: 'local';
  supports(endpoint: ModelEndpoint): boolean;
  serve(op: Operation, signal: AbortSignal): Promise<LocalResult>;
}

export type ProviderAdapter = HttpAdapter | LocalAdapter;

export interface AdapterEnv {
  /** The provider's name in YAML (for messages and metrics). */
  readonly provider: string;
  /** Timeouts from `upstream:` merged with the provider's own `timeouts:`. */
  readonly timeouts: UpstreamTimeouts;
  readonly catalog: Catalog;
  readonly log: Logger;
  /**
   * The gateway's one upstream HTTP client, for calls an adapter makes on its own (fetching an
   * OAuth token). Always set by `route`; optional so unit tests of adapters that need none can
   * leave it out.
   */
  readonly upstream?: UpstreamClient;
}

export interface AdapterDefinition<Config = unknown> {
  /** The `adapter:` value in YAML. */
  readonly name: string;
  /** JSON Schema of the adapter's provider settings (without the common `adapter`, `catalog`, `timeouts`). */
  readonly schema: object;
  create(config: Config, env: AdapterEnv): ProviderAdapter;
}

export function defineAdapter<Config>(definition: AdapterDefinition<Config>): AdapterDefinition<Config> {
  return definition;
}
