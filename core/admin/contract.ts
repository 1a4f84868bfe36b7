/**
 * The admin API contract (`/admin/*`). The core owns the router, caller authentication, JSON
 * parsing, request validation, pagination helpers, errors and the OpenAPI document; admin modules
 * (a plugin definition's `admin:`, for every plugin in the registry) contribute routes. A module is
 * created once per gateway, not per config version: it reads the current config through `services`.
 *
 * Every admin route needs an admin credential: the `SWITCHYARD_ADMIN_KEY` secret, or a caller that
 * a module's `authenticate` accepts with the `admin` scope (an API key with `scopes: [admin]`).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from '../log.js';
import type { GatewayMetrics } from '../metrics.js';
import type { KvStore } from '../stores/kv.js';
import type { SqlStore } from '../stores/sql.js';
import type { GatewayConfig } from '../config/types.js';
import type { AdminChange, EventBus } from '../events.js';

export type AdminMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Who called an admin route. */
export type AdminCaller =
  | { kind: 'admin_secret' }
  | { kind: 'api_key' | 'jwt'; orgId: string; keyId: string; scopes: readonly string[] };

export interface AdminRequest {
  method: AdminMethod;
  /** Path parameters named in the route (`/admin/keys/:id` → `params.id`), percent-decoded. */
  params: Record<string, string>;
  query: URLSearchParams;
  /** Parsed JSON body, already validated against the route's `requestSchema` (defaults applied). */
  body: unknown;
  headers: IncomingHttpHeaders;
  caller: AdminCaller;
  requestId: string;
  log: Logger;
  /**
   * Attaches what this call changed to its audit event (`core/events.ts`): an action name, the
   * target, `before` / `after` (JSON, never a secret). Calls merge, later fields win. Cheap; a no-op
   * in effect when nothing audits.
   */
  audit(change: AdminChange): void;
}

export interface AdminResponse {
  status: number;
  body: unknown;
  /** When set, `body` is a string sent as it is, with this content type (a CSV export); else JSON. */
  contentType?: string;
}

export interface AdminRoute {
  method: AdminMethod;
  /** `/admin/...` with `:name` segments. */
  path: string;
  /** One line for the OpenAPI document. */
  summary: string;
  /** OpenAPI tag (`keys`, `organizations`, …). */
  tag: string;
  /** JSON Schema of the body (POST/PUT/PATCH); the router answers 400 naming the field when it fails. */
  requestSchema?: object;
  /** JSON Schema of a 2xx body, for the OpenAPI document (and tests that check responses against it). */
  responseSchema?: object;
  /** Status of the success response in the OpenAPI document; default 200. */
  successStatus?: number;
  /** Query parameters, for the OpenAPI document. */
  queryParams?: { name: string; description: string; schema: object }[];
  /**
   * Whether a call is an audited admin action (an `admin.action` event, successful or not);
   * default: every method but GET. `false` for a POST that only reads.
   */
  audit?: boolean;
  /** Throw `GatewayError`s for failures; the router writes them in the OpenAI envelope. */
  handle(req: AdminRequest): Promise<AdminResponse>;
}

/** What admin modules may use. */
export interface AdminServices {
  readonly log: Logger;
  readonly metrics: GatewayMetrics;
  readonly kv: KvStore;
  /** The SQL store, opened (and migrated) on first use. */
  sql(): Promise<SqlStore>;
  /** The server secret keys are hashed with (see `GatewayEnv.serverSecret`). */
  serverSecret(): Promise<Buffer>;
  /** The config of the version serving right now. */
  config(): GatewayConfig;
  /**
   * Admin actions and config reloads (`core/events.ts`). Every audited route's call is emitted by
   * the router; prefer `req.audit(...)` over emitting here.
   */
  readonly events?: EventBus;
  /**
   * The process state (`process.create`) of the plugin named `plugin` — a module reads its own
   * plugin's — or undefined until a config version has used that plugin.
   */
  processState(plugin: string): unknown;
  /** Config version and last reload result. */
  status(): ConfigStatus;
  /** Reloads the config file now (as a file change would); never throws. */
  reload(): Promise<{ ok: boolean; changed: boolean; version: number; errors?: string[] }>;
}

export interface ConfigStatus {
  /** Id of the serving config version (0 at start, +1 per successful reload). */
  version: number;
  /** When the serving version was loaded (ISO time). */
  loadedAt: string;
  file: string;
  /** The last reload attempt, if any. */
  lastReload?: { at: string; ok: boolean; version: number; errors?: string[] };
}

export interface AdminModule {
  name: string;
  /** Called once per gateway. */
  create(services: AdminServices): AdminModuleInstance | Promise<AdminModuleInstance>;
}

export interface AdminModuleInstance {
  routes: AdminRoute[];
  /**
   * Recognises a non-secret admin credential (e.g. an API key with the `admin` scope). Returns
   * undefined when the headers carry nothing this module knows; throws a GatewayError (401/403)
   * for a credential it knows to be bad (revoked, expired, wrong).
   */
  authenticate?(headers: IncomingHttpHeaders): Promise<AdminCaller | undefined>;
  close?(): Promise<void> | void;
}

/** Identity helper that gives an admin module its types. */
export function defineAdminModule(module: AdminModule): AdminModule {
  return module;
}
