/**
 * JWT bearer tokens, verified with `jose` only: HS256 with a shared secret, or RS256/ES256 with
 * keys from a JWKS URL (cached; refetched when a token names an unknown `kid`, at most once per
 * cooldown). Issuer, audience, expiry and the algorithm allow-list are enforced by `jwtVerify`,
 * which also never accepts `alg: none`.
 */
import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { ConfigError } from '../../core/config/schema.js';
import { parseDuration } from '../../core/config/units.js';
import { buildIdentity, type Identity } from './access.js';
import type { Scope } from './types.js';
import type { AuthConfig } from '../../schemas/types/plugins/auth.js';

/** `auth.jwt` as validated (defaults applied), from the schema. */
export type JwtConfig = NonNullable<AuthConfig['jwt']>;

const SCOPES: ReadonlySet<string> = new Set<Scope>(['read', 'write', 'admin']);

/** Compiles the verifier: returns the identity for a valid token, or undefined for any invalid one. */
export function compileJwtVerifier(config: JwtConfig): (token: string) => Promise<Identity | undefined> {
  if ((config.secret === undefined) === (config.jwks_url === undefined)) throw ConfigError.at(['jwt'], 'give exactly one of `secret` and `jwks_url`');
  const clockTolerance = parseDuration(config.clock_tolerance)! / 1000;
  let key: Uint8Array | JWTVerifyGetKey;
  let algorithms: string[];
  if (config.secret !== undefined) {
    if (config.secret.length < 32) throw ConfigError.at(['jwt', 'secret'], 'must be at least 32 characters (HS256 keys shorter than the hash are guessable)');
    key = new TextEncoder().encode(config.secret);
    algorithms = config.algorithms ?? ['HS256'];
  } else {
    let url: URL;
    try {
      url = new URL(config.jwks_url!);
    } catch {
      throw ConfigError.at(['jwt', 'jwks_url'], 'is not a URL');
    }
    key = createRemoteJWKSet(url, { cooldownDuration: parseDuration(config.jwks_cooldown)! });
    algorithms = config.algorithms ?? ['RS256', 'ES256'];
  }
  if (algorithms.some((a) => a.toLowerCase() === 'none')) throw ConfigError.at(['jwt', 'algorithms'], "'none' is never accepted");
  const options = { algorithms, clockTolerance, ...(config.issuer ? { issuer: config.issuer } : {}), ...(config.audience ? { audience: config.audience } : {}) };
  const { org: orgClaim, scopes: scopesClaim, key: keyClaim } = config.claims;
  return async (token) => {
    let payload: JWTPayload;
    try {
      // One call shape for both key kinds: jose's overloads split on the key's type.
      payload = typeof key === 'function' ? (await jwtVerify(token, key, options)).payload : (await jwtVerify(token, key, options)).payload;
    } catch {
      return undefined;
    }
    const org = payload[orgClaim];
    const subject = payload[keyClaim];
    if (typeof org !== 'string' || !org) return undefined;
    return buildIdentity({
      method: 'jwt',
      orgId: org,
      keyId: typeof subject === 'string' && subject ? subject : org,
      scopes: scopesOf(payload[scopesClaim]),
      environment: 'live',
      allowedModels: [],
      allowedIps: [],
      allowedReferrers: [],
      limits: {},
      metadata: {},
    });
  };
}

/** `"read write"` or `["read", "write"]` → the gateway scopes among them. */
function scopesOf(claim: unknown): Scope[] {
  const values = typeof claim === 'string' ? claim.split(' ') : Array.isArray(claim) ? claim : [];
  return values.filter((v): v is Scope => typeof v === 'string' && SCOPES.has(v));
}

/** Three base64url segments, the first a JSON header (`eyJ`): worth trying as a JWT rather than as a key. */
export function looksLikeJwt(token: string): boolean {
  return token.startsWith('eyJ') && token.split('.').length === 3;
}
