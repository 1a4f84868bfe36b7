/**
 * `ip-allowlist` — which client addresses may call. The client address is `ctx.clientIp`, which
 * the core takes from the socket, or from `X-Forwarded-For` only when the hop is one of
 * `server.trusted_proxies`. The lists come from this entry's config (place the plugin in a
 * route's `pipeline` for per-route lists). Deny wins over allow; the lists are compiled once per
 * config version. A key's and its org's own `allowed_ips` are enforced by `auth`, with or without
 * this plugin.
 */
import { definePlugin } from '../../core/plugin.js';
import { ConfigError, readSchema } from '../../core/config/schema.js';
import { compileCidrs } from '../../core/http/client-ip.js';
import { GatewayError } from '../../core/errors.js';
import { compileIpMatcher, type IpMatcher } from '../../core/http/ip-matcher.js';
import type { IpAllowlistConfig } from '../../schemas/types/plugins/ip-allowlist.js';

export type { IpAllowlistConfig };

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
        return next();
      },
    };
  },
});
