/**
 * The admin API router (`/admin/*`): authenticates the caller (the `SWITCHYARD_ADMIN_KEY` secret,
 * or a credential an admin module recognises, which must carry the `admin` scope), matches the
 * route, parses and validates the JSON body against the route's schema, and runs the handler.
 * Errors are GatewayErrors; the core writes them in the OpenAI envelope like every other error.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { GatewayError, UNAUTHORIZED, errors } from '../errors.js';
import type { Logger } from '../log.js';
import type { AdminCaller, AdminMethod, AdminModule, AdminModuleInstance, AdminResponse, AdminRoute, AdminServices } from './contract.js';
import { coreAdminRoutes } from './core-routes.js';
import { buildOpenApi } from './openapi.js';
import { invalidBody } from '../api/endpoints.js';
import { MAX_CREDENTIAL_LENGTH, presentedCredential } from '../http/credentials.js';
import { unsupportedKeyword } from '../config/schema.js';
import type { AdminActor, AdminChange, EventBus } from '../events.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
/** Request bodies are validated strictly: no type coercion ("5" is not 5), defaults applied. */
const ajv = addFormats(new Ajv({ allErrors: false, useDefaults: true, strict: false, allowUnionTypes: true }));
ajv.addKeyword(unsupportedKeyword);

const METHODS: readonly string[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

interface CompiledRoute {
  route: AdminRoute;
  /** Literal segments, or `null` where a `:param` goes. */
  segments: (string | null)[];
  params: string[];
  validate?: ValidateFunction;
}

export interface AdminCall {
  method: string;
  /** Path without the query string. */
  path: string;
  search: string;
  headers: IncomingHttpHeaders;
  /** Reads the body (with the gateway's size limit); called only for routes that take one. */
  readBody(): Promise<unknown>;
  requestId: string;
}

export class AdminRouter {
  private readonly routes: CompiledRoute[] = [];
  private openApi: string | undefined;

  private constructor(
    private readonly instances: AdminModuleInstance[],
    private readonly adminSecretDigest: Buffer | undefined,
    private readonly log: Logger,
    private readonly events: EventBus | undefined,
  ) {}

  /** Creates every module once; `SWITCHYARD_ADMIN_KEY` from `processEnv` is kept only as a SHA-256 digest. */
  static async create(modules: readonly AdminModule[], services: AdminServices, processEnv: NodeJS.ProcessEnv): Promise<AdminRouter> {
    const secret = processEnv['SWITCHYARD_ADMIN_KEY'];
    if (secret !== undefined && secret.length < 16) throw new Error('SWITCHYARD_ADMIN_KEY must be at least 16 characters');
    const instances: AdminModuleInstance[] = [{ routes: coreAdminRoutes(services) }];
    for (const m of modules) instances.push(await m.create(services));
    const router = new AdminRouter(instances, secret ? digest(secret) : undefined, services.log, services.events);
    for (const instance of instances) for (const route of instance.routes) router.add(route);
    return router;
  }

  private add(route: AdminRoute): void {
    const segments = route.path.split('/').slice(1);
    const clash = this.routes.find((r) => r.route.method === route.method && r.route.path === route.path);
    if (clash) throw new Error(`admin route ${route.method} ${route.path} is declared twice`);
    this.routes.push({
      route,
      segments: segments.map((s) => (s.startsWith(':') ? null : s)),
      params: segments.filter((s) => s.startsWith(':')).map((s) => s.slice(1)),
      validate: route.requestSchema ? ajv.compile(route.requestSchema) : undefined,
    });
  }

  /** Every route, for the OpenAPI document and tests. */
  list(): readonly AdminRoute[] {
    return this.routes.map((r) => r.route);
  }

  /** Answers one admin call: `{status, body}` or a thrown GatewayError. */
  async handle(call: AdminCall): Promise<AdminResponse> {
    // Authenticate before routing, so an unauthenticated caller learns nothing about which routes exist.
    const caller = await this.authenticate(call.headers);
    if (call.path === '/admin/openapi.json' && call.method === 'GET') {
      this.openApi ??= JSON.stringify(buildOpenApi(this.list()));
      return { status: 200, body: JSON.parse(this.openApi) as unknown };
    }
    const parts = call.path.split('/').slice(1);
    let methodMismatch: string[] = [];
    for (const r of this.routes) {
      const params = matchSegments(r, parts);
      if (!params) continue;
      if (r.route.method !== call.method) {
        methodMismatch.push(r.route.method);
        continue;
      }
      const events = (r.route.audit ?? r.route.method !== 'GET') ? this.events : undefined;
      if (!events) return this.run(r, call, params, caller, () => {});
      return this.runAudited(events, r, call, params, caller);
    }
    if (methodMismatch.length) {
      methodMismatch = [...new Set(methodMismatch)];
      throw new GatewayError(405, 'invalid_request_error', 'method_not_allowed', `${METHODS.includes(call.method) ? call.method : 'This method'} is not allowed on ${call.path.slice(0, 200)}; use ${methodMismatch.join(', ')}.`, null, { allow: methodMismatch.join(', ') });
    }
    throw errors.notFound('unknown_url', `Unknown admin URL: ${call.method} ${call.path.slice(0, 200)}. GET /admin/openapi.json lists the admin API.`);
  }

  private async run(r: CompiledRoute, call: AdminCall, params: Record<string, string>, caller: AdminCaller, audit: (change: AdminChange) => void): Promise<AdminResponse> {
    let body: unknown;
    if (r.route.method !== 'GET' && r.route.method !== 'DELETE') {
      body = await call.readBody();
      if (body === undefined) body = {};
      if (r.validate && !r.validate(body)) throw invalidBody(r.validate.errors![0]!);
    }
    return r.route.handle({
      method: call.method as AdminMethod,
      params,
      query: new URLSearchParams(call.search),
      body,
      headers: call.headers,
      caller,
      requestId: call.requestId,
      log: this.log,
      audit,
    });
  }

  /** Runs an audited route and emits its `admin.action` event, whether it succeeded or threw. */
  private async runAudited(events: EventBus, r: CompiledRoute, call: AdminCall, params: Record<string, string>, caller: AdminCaller): Promise<AdminResponse> {
    const time = Date.now();
    let change: AdminChange | undefined;
    let status = 500;
    let errorCode: string | undefined;
    try {
      const answer = await this.run(r, call, params, caller, (c) => (change = { ...change, ...c }));
      status = answer.status;
      return answer;
    } catch (err) {
      if (err instanceof GatewayError) {
        status = err.status;
        errorCode = err.code;
      } else errorCode = 'internal_error';
      throw err;
    } finally {
      const actor: AdminActor = caller.kind === 'admin_secret' ? { kind: 'admin_secret' } : { kind: caller.kind, orgId: caller.orgId, keyId: caller.keyId };
      events.emit({
        type: 'admin.action',
        time,
        requestId: call.requestId,
        method: r.route.method,
        route: r.route.path,
        path: call.path.slice(0, 200),
        params,
        status,
        ...(errorCode !== undefined ? { errorCode } : {}),
        actor,
        ...(change !== undefined ? { change } : {}),
      });
    }
  }

  private async authenticate(headers: IncomingHttpHeaders): Promise<AdminCaller> {
    const presented = presentedCredential(headers);
    if (presented === undefined) {
      const unset = this.adminSecretDigest ? '' : ' (this gateway has no SWITCHYARD_ADMIN_KEY, so only admin-scope API keys are accepted)';
      throw new GatewayError(401, 'authentication_error', 'missing_api_key', `The admin API needs an admin credential: \`Authorization: Bearer <SWITCHYARD_ADMIN_KEY or an admin-scope API key>\`${unset}.`, null, UNAUTHORIZED);
    }
    if (presented.length > MAX_CREDENTIAL_LENGTH) throw errors.invalidApiKey();
    if (this.adminSecretDigest && timingSafeEqual(digest(presented), this.adminSecretDigest)) return { kind: 'admin_secret' };
    for (const instance of this.instances) {
      const caller = await instance.authenticate?.(headers);
      if (!caller) continue;
      if (caller.kind !== 'admin_secret' && !caller.scopes.includes('admin')) {
        throw new GatewayError(403, 'permission_error', 'insufficient_scope', "This credential lacks the 'admin' scope the admin API needs.");
      }
      return caller;
    }
    // Most likely the caller holds the admin secret the gateway was meant to start with: say so, rather than "incorrect key".
    if (!this.adminSecretDigest) throw adminKeyNotSet();
    throw errors.invalidApiKey();
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.instances.map((i) => i.close?.()));
  }
}

function adminKeyNotSet(): GatewayError {
  return new GatewayError(
    401,
    'authentication_error',
    'admin_key_not_set',
    'The admin API secret is not set on this gateway: start it with SWITCHYARD_ADMIN_KEY (16+ characters) in its environment, or use an API key with the admin scope.',
    null,
    UNAUTHORIZED,
  );
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function matchSegments(r: CompiledRoute, parts: string[]): Record<string, string> | undefined {
  if (parts.length !== r.segments.length) return undefined;
  const params: Record<string, string> = {};
  let p = 0;
  for (let i = 0; i < parts.length; i++) {
    const want = r.segments[i];
    if (want === null) {
      let value: string;
      try {
        value = decodeURIComponent(parts[i]!);
      } catch {
        return undefined;
      }
      if (value === '') return undefined;
      params[r.params[p++]!] = value;
    } else if (want !== parts[i]) return undefined;
  }
  return params;
}
