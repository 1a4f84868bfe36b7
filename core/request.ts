/**
 * The core's `Context`: one per request, built by the HTTP edge. Holds the lazily resolved model,
 * the attempts and usage the terminal plugin records, and the post-response work plugins register.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from './log.js';
import type { RouteKind } from './plugin.js';
import type {
  AfterResponse,
  Attempt,
  Context,
  Endpoint,
  GatewayResponse,
  NamedModelEndpoint,
  ModelResolver,
  PluginRoute,
  RequestReport,
  ResolvedModel,
  Usage,
} from './context.js';
import type { Inbound } from './api/dialects/dialect.js';

/** What the edge knows about a request when it builds its context. */
export interface RequestInit {
  id: string;
  method: string;
  path: string;
  search: string;
  headers: IncomingHttpHeaders;
  clientIp: string;
  kind: RouteKind;
  endpoint: Endpoint | undefined;
  modelParam: string | undefined;
  pluginRoute?: PluginRoute | undefined;
  body: Record<string, unknown> | undefined;
  inbound?: Inbound | undefined;
  signal: AbortSignal;
  log: Logger;
  startedAt: number;
  /** The serving version's model resolver (undefined on raw proxy routes). */
  models: ModelResolver | undefined;
}

const NOT_RESOLVED = Symbol('not resolved');

export class RequestContext implements Context {
  readonly id: string;
  readonly method: string;
  readonly path: string;
  readonly search: string;
  readonly headers: IncomingHttpHeaders;
  readonly clientIp: string;
  readonly kind: RouteKind;
  readonly endpoint: Endpoint | undefined;
  readonly modelParam: string | undefined;
  readonly pluginRoute: PluginRoute | undefined;
  body: Record<string, unknown> | undefined;
  readonly inbound: Inbound | undefined;
  response: GatewayResponse | undefined = undefined;
  readonly upstreamHeaders: Record<string, string | null> = {};
  readonly attempts: Attempt[] = [];
  usage: Usage | undefined = undefined;
  usagePending: Promise<void> | undefined = undefined;
  readonly signal: AbortSignal;
  readonly log: Logger;
  readonly startedAt: number;
  readonly report: RequestReport = {};
  /** Post-response work, in registration order (undefined until the first). */
  work: AfterResponse[] | undefined = undefined;
  private readonly models: ModelResolver | undefined;
  private resolved: ResolvedModel | undefined = undefined;
  /** The `body.model` value `resolved` was resolved from. */
  private resolvedFrom: unknown = NOT_RESOLVED;
  private guards: ((model: ResolvedModel) => void)[] | undefined = undefined;

  constructor(init: RequestInit) {
    this.id = init.id;
    this.method = init.method;
    this.path = init.path;
    this.search = init.search;
    this.headers = init.headers;
    this.clientIp = init.clientIp;
    this.kind = init.kind;
    this.endpoint = init.endpoint;
    this.modelParam = init.modelParam;
    this.pluginRoute = init.pluginRoute;
    this.body = init.body;
    this.inbound = init.inbound;
    this.signal = init.signal;
    this.log = init.log;
    this.startedAt = init.startedAt;
    this.models = init.models;
  }

  get model(): ResolvedModel | undefined {
    const body = this.body;
    if (this.models === undefined || body === undefined || this.endpoint === 'models.list' || this.endpoint === 'models.retrieve' || this.endpoint === 'plugin') return undefined;
    const requested = body['model'];
    if (requested === this.resolvedFrom) return this.resolved;
    const again = this.resolvedFrom !== NOT_RESOLVED;
    const model = this.models.resolve(this.endpoint as NamedModelEndpoint, requested, this);
    this.resolved = model;
    this.resolvedFrom = requested;
    if (again && this.guards) for (const check of this.guards) check(model);
    return model;
  }

  /** The model as last resolved, without resolving it (for the request record): undefined if nothing asked. */
  get resolvedModel(): ResolvedModel | undefined {
    return this.resolved;
  }

  guardModel(check: (model: ResolvedModel) => void): void {
    const model = this.model;
    if (model === undefined) return;
    check(model);
    (this.guards ??= []).push(check);
  }

  afterResponse(work: AfterResponse): void {
    (this.work ??= []).push(work);
  }
}
