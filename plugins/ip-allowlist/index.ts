/**
 * `ip-allowlist` — which client addresses may call. The client address is `ctx.clientIp`, which
 * the core takes from the socket, or from `X-Forwarded-For` only when the hop is one of
 * `server.trusted_proxies`. Global lists come from this entry's config (place the plugin in a
 * route's `pipeline` for per-route lists); when `auth` ran earlier, the key's and the org's
 * `allowed_ips` must match as well. Deny wins over allow; every list is compiled once per config
 * version (per-key lists once per cached key).
 */
import { definePlugin } from '../../core/plugin.js';
import { ConfigError, readSchema } from '../../core/config/schema.js';
import { compileCidrs } from '../../core/http/client-ip.js';
import { GatewayError } from '../../core/errors.js';
import type {} from '../auth/types.js';
import { compileIpMatcher, type IpMatcher } from './matcher.js';

export interface IpAllowlistConfig {
  /** CIDRs (or bare addresses) allowed; empty = every address not denied. */
  allow: string[];
  /** CIDRs refused, even when also allowed. */
  deny: string[];
  /** HTTP status of the refusal. */
  status: number;
  /** Message of the refusal (never echoes the address or any header). */
  message: string;
}

/** Undefined for an empty list; a bad entry is a ConfigError at its index. */
function compileList(cidrs: readonly string[], field: 'allow' | 'deny'): IpMatcher | undefined {
  if (cidrs.length === 0) return undefined;
  cidrs.forEach((cidr, i) => {
    try {
      compileCidrs([cidr]);
    } catch (err) {
      throw ConfigError.at([field, i], (err as Error).message);
    }
  });
  return compileIpMatcher(cidrs);
}

/**
 * Compiled per-key / per-org lists, keyed by the list itself: `ctx.auth` of a cached key holds the
 * same array on every request, so each list compiles once. A WeakMap lets lists of evicted keys go.
 */
const compiledKeyLists = new WeakMap<readonly string[], IpMatcher>();

function keyList(cidrs: readonly string[]): IpMatcher {
  let list = compiledKeyLists.get(cidrs);
  if (!list) {
    // A bad CIDR stored on a key must refuse, not fail open: such a list matches nothing.
    try {
      list = compileIpMatcher(cidrs);
    } catch {
      list = compileIpMatcher([]);
    }
    compiledKeyLists.set(cidrs, list);
  }
  return list;
}

export default definePlugin<IpAllowlistConfig>({
  name: 'ip-allowlist',
  schema: readSchema('plugins/ip-allowlist'),
  create(config) {
    const allow = compileList(config.allow, 'allow');
    const deny = compileList(config.deny, 'deny');
    const refusal = () => new GatewayError(config.status, 'permission_error', 'ip_not_allowed', config.message);
    return {
      // Not `async`: an allowed request passes straight on to `next()`, with no promise of its own.
      handle(ctx, next) {
        const ip = ctx.clientIp;
        if (deny?.(ip) || (allow && !allow(ip))) return Promise.reject(refusal());
        const keyLists = ctx.auth?.allowedIps;
        if (keyLists) for (const cidrs of keyLists) if (!keyList(cidrs)(ip)) return Promise.reject(refusal());
        return next();
      },
    };
  },
});
