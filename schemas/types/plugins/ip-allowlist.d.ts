// Generated from schemas/ by `npm run types`; do not edit by hand.
// Source: schemas/plugins/ip-allowlist.schema.json. Defaults applied: a property with a `default` is always present.

/**
 * Refuses clients by address: IPv4 and IPv6 CIDRs (IPv4-mapped IPv6 addresses count as IPv4). Deny wins over allow. The address comes from the socket, or from `X-Forwarded-For` only when the hop is in `server.trusted_proxies`. A key's and its organization's own `allowed_ips` are enforced by `auth`, with or without this plugin. For per-route lists, put it in a route's `pipeline` with its own lists.
 */
export interface IpAllowlistConfig {
  /**
   * CIDRs or addresses allowed (`10.0.0.0/8`, `2001:db8::/32`, `203.0.113.7`); empty = every address that is not denied.
   */
  allow: string[];
  /**
   * CIDRs or addresses refused, even when also allowed.
   */
  deny: string[];
  /**
   * HTTP status of the refusal.
   */
  status: number;
  /**
   * Message of the refusal (type `permission_error`, code `ip_not_allowed`).
   */
  message: string;
}
