/**
 * `auth` — who is calling. Reads the credential (`Authorization: Bearer`, `x-api-key`, `api-key`),
 * checks it against the configured sources in order (`sql` keys from the admin API, `static` keys
 * from YAML) or, with `jwt:`, as a signed token; then checks scope, model and referrer, and sets
 * `ctx.auth` for every later plugin. Unknown and wrong keys take the same path and get the same
 * answer; the reason a known key is refused is logged by key id only, never the key.
 */
import { definePlugin } from '../../core/plugin.js';
import { ConfigError, readSchema } from '../../core/config/schema.js';
import { parseDuration } from '../../core/config/units.js';
import { GatewayError, StoreUnavailableError, UNAUTHORIZED, errors } from '../../core/errors.js';
import type { Context } from '../../core/context.js';
import type { GatewayEnv } from '../../core/env.js';
import { hasAnyScope, type Identity } from './access.js';
import { MAX_CREDENTIAL_LENGTH, presentedCredential } from '../../core/http/credentials.js';
import { refuseDevKeyBeyondLoopback } from './dev-key.js';
import { IDENTITY_CHANNEL, parseIdentityChange } from './events.js';
import { compileJwtVerifier, looksLikeJwt } from './jwt.js';
import { compileStaticKeys } from './static-keys.js';
import { DeferredSqlKeys, SqlKeys } from './sql-keys.js';
import type { AuthConfig } from '../../schemas/types/plugins/auth.js';
import { AUTH_MIGRATIONS } from './migrations.js';
import identityAdmin from './admin.js';
import { identityCommands } from './cli.js';

export { DEV_KEY } from './dev-key.js';

export type { AuthConfig };

/** Failure reasons: the only values of the `reason` metric label. */
type FailureReason = 'missing' | 'invalid' | 'revoked' | 'expired' | 'org_disabled' | 'invalid_token' | 'scope' | 'model' | 'referrer' | 'ip';


/** Default SQL cache TTL when revocations fan out (redis kv) or there is one process (pglite). */
const FANOUT_CACHE_TTL_MS = 60_000;
/** Default when replicas may share postgres but have no fan-out: a revocation must still land within a second. */
const NO_FANOUT_CACHE_TTL_MS = 1_000;

/** Static keys answer at once; SQL keys may have to be loaded. */
type KeySource = (presented: string, ctx: Context) => Identity | undefined | Promise<Identity | undefined>;

export default definePlugin<AuthConfig>({
  name: 'auth',
  schema: readSchema('plugins/auth'),
  migrations: AUTH_MIGRATIONS,
  admin: identityAdmin,
  commands: identityCommands,
  async create(config, env) {
    const failures = env.metrics.counter('switchyard_auth_failures_total', 'Requests refused by auth, by reason.', ['reason']);
    /** Counts a refusal and returns its error, for the caller to throw. */
    const refuse = (reason: FailureReason, error: GatewayError): GatewayError => {
      failures.labels(reason).inc();
      return error;
    };
    const invalidKey = errors.invalidApiKey;

    if (config.static.length > 0 && !config.keys.includes('static')) {
      throw ConfigError.at(['static'], "static keys are declared but `keys` does not list 'static' (e.g. `keys: [static]`)");
    }
    const sources: KeySource[] = [];
    let sqlKeys: DeferredSqlKeys | undefined;
    let unsubscribe: (() => Promise<void>) | undefined;
    for (const source of config.keys) {
      if (source === 'static') {
        const staticKeys = compileStaticKeys(config.static);
        if (staticKeys.devKeyIndex >= 0) refuseDevKeyBeyondLoopback(env.listen, ['static', staticKeys.devKeyIndex, 'key']);
        sources.push((presented) => staticKeys.findPresented(presented));
      } else {
        // A database that cannot be reached now fails neither start-up nor a reload: the keys open later.
        const keys = new DeferredSqlKeys(() => openSqlKeys(config, env));
        await keys.start();
        sqlKeys = keys;
        unsubscribe = await env.kv.subscribe(IDENTITY_CHANNEL, (message) => keys.invalidate(parseIdentityChange(message)));
        sources.push(async (presented, ctx) => {
          const result = await keys.find(presented);
          if (result === undefined) return undefined;
          if ('refused' in result) {
            ctx.log.info({ key_id: result.keyId, reason: result.refused }, 'auth: key refused');
            throw refuse(result.refused, invalidKey());
          }
          return result.identity;
        });
      }
    }
    const verifyJwt = config.jwt ? compileJwtVerifier(config.jwt) : undefined;
    const { read: readScopes, write: writeScopes } = config.required_scopes;

    async function identifyJwt(presented: string, verify: NonNullable<typeof verifyJwt>): Promise<Identity> {
      const identity = await verify(presented);
      if (!identity) throw refuse('invalid_token', new GatewayError(401, 'authentication_error', 'invalid_token', 'The bearer token is invalid or expired.', null, UNAUTHORIZED));
      return identity;
    }

    /**
     * Sources from `from` on, in order. Synchronous while they answer synchronously (a cached static key): no promise per request.
     * A source whose store is down is skipped; when no later source knows the key, the outage (503) is the answer, not a 401.
     */
    function fromSources(presented: string, ctx: Context, from: number, outage?: StoreUnavailableError): Identity | Promise<Identity> {
      for (let i = from; i < sources.length; i++) {
        const found = sources[i]!(presented, ctx);
        if (found instanceof Promise) {
          return found.then(
            (identity) => identity ?? fromSources(presented, ctx, i + 1, outage),
            (err: unknown) => {
              if (!(err instanceof StoreUnavailableError)) throw err;
              return fromSources(presented, ctx, i + 1, err);
            },
          );
        }
        if (found) return found;
      }
      if (outage) throw outage;
      throw refuse('invalid', invalidKey());
    }

    function identify(presented: string, ctx: Context): Identity | Promise<Identity> {
      if (verifyJwt && looksLikeJwt(presented)) return identifyJwt(presented, verifyJwt);
      if (presented.length > MAX_CREDENTIAL_LENGTH) throw refuse('invalid', invalidKey());
      return fromSources(presented, ctx, 0);
    }

    /** The checks on a known caller; sets `ctx.auth` and runs the rest of the pipeline. Throws the refusal. */
    function admit(ctx: Context, identity: Identity, next: () => Promise<void>): Promise<void> {
      const isRead = ctx.method === 'GET' || ctx.method === 'HEAD';
      if (!hasAnyScope(identity.scopes, isRead ? readScopes : writeScopes)) {
        throw refuse('scope', new GatewayError(403, 'permission_error', 'insufficient_scope', `This key lacks the scope this request needs (one of: ${(isRead ? readScopes : writeScopes).join(', ')}).`));
      }
      if (identity.referrerAllowed && !identity.referrerAllowed(ctx.headers)) {
        throw refuse('referrer', new GatewayError(403, 'permission_error', 'referrer_not_allowed', 'This key may not be used from this origin.'));
      }
      if (identity.addressAllowed && !identity.addressAllowed(ctx.clientIp)) {
        throw refuse('ip', new GatewayError(403, 'permission_error', 'ip_not_allowed', 'This key may not be used from this address.'));
      }
      ctx.auth = identity.state;
      ctx.report.org = identity.state.orgId;
      ctx.report.keyId = identity.state.keyId;
      const allowed = identity.modelAllowed;
      if (allowed) {
        // A key limited to some models sees only those in the model list.
        if (ctx.endpoint === 'models.list') return next().then(() => keepAllowedModels(ctx, allowed));
        if (ctx.endpoint === 'models.retrieve') {
          if (!allowed(ctx.modelParam!)) throw refuse('model', modelNotAllowed());
        } else {
          // Checked against the model the request resolves to — the default when it names none —
          // and again if a later plugin renames it, so neither an alias, a glob, the
          // `provider/model` form nor a rename reaches a model outside the list.
          ctx.guardModel((model) => {
            if (!allowed(model.id) && !model.aliases.some(allowed)) throw refuse('model', modelNotAllowed());
          });
        }
      }
      return next();
    }

    return {
      // Not `async`: a key answered from memory passes straight on to `next()`, with no promise or
      // microtask hop of its own. Refusals still come back as a rejected promise.
      handle(ctx, next) {
        try {
          const presented = presentedCredential(ctx.headers);
          if (presented === undefined) {
            throw refuse(
              'missing',
              new GatewayError(401, 'authentication_error', 'missing_api_key', 'You did not provide an API key. Send it as `Authorization: Bearer <key>` (or `x-api-key` / `api-key`).', null, UNAUTHORIZED),
            );
          }
          const found = identify(presented, ctx);
          return found instanceof Promise ? found.then((identity) => admit(ctx, identity, next)) : admit(ctx, found, next);
        } catch (err) {
          return Promise.reject(err);
        }
      },
      async close() {
        await unsubscribe?.();
        await sqlKeys?.close();
      },
    };
  },
});

function modelNotAllowed(): GatewayError {
  return new GatewayError(403, 'permission_error', 'model_not_allowed', 'This key may not use the requested model.', 'model');
}

/** Drops the models a key may not use from a `GET /v1/models` answer. */
function keepAllowedModels(ctx: Context, allowed: (model: string) => boolean): void {
  const body = ctx.response?.body as { data?: { id?: unknown }[] } | undefined;
  if (Array.isArray(body?.data)) body.data = body.data.filter((card) => typeof card.id === 'string' && allowed(card.id));
}

async function openSqlKeys(config: AuthConfig, env: GatewayEnv): Promise<SqlKeys> {
  // Loaded here so a gateway with only static keys or JWTs never loads the SQL identity code.
  const { IdentityStore } = await import('./identity-store.js');
  const sql = await env.sql();
  const secret = await env.serverSecret();
  const cacheTtlMs =
    config.cache_ttl !== undefined
      ? parseDuration(config.cache_ttl)!
      : env.kv.kind === 'memory' && sql.kind === 'postgres'
        ? NO_FANOUT_CACHE_TTL_MS
        : FANOUT_CACHE_TTL_MS;
  return new SqlKeys(
    new IdentityStore(sql),
    secret,
    {
      cacheTtlMs,
      negativeTtlMs: parseDuration(config.negative_cache_ttl)!,
      staleTtlMs: parseDuration(config.stale_ttl)!,
      maxEntries: config.cache_size,
      lastUsedFlushMs: parseDuration(config.last_used_interval)!,
    },
    env.log,
  );
}
