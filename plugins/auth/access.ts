/**
 * What a known caller may do: scopes per request method, model globs, referrer hosts. Everything
 * per key is compiled once, when the key enters the cache (or at `create()` for static keys), so a
 * request runs a few comparisons.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Context } from '../../core/context.js';
import type { AuthState, Scope } from './types.js';
import { compileIpMatcher } from '../../core/http/ip-matcher.js';
import { globToRegExp } from '../../core/config/glob.js';

/** A caller after its credential checked out: the state `ctx.auth` gets, with its checks compiled. */
export interface Identity {
  readonly state: AuthState;
  readonly scopes: ReadonlySet<Scope>;
  /** Undefined when every model is allowed. */
  readonly modelAllowed: ((model: string) => boolean) | undefined;
  /** Undefined when any referrer (or none) is allowed. */
  readonly referrerAllowed: ((headers: IncomingHttpHeaders) => boolean) | undefined;
  /** Undefined when the key and its org may be used from any address. */
  readonly addressAllowed: ((ip: string) => boolean) | undefined;
}

export function buildIdentity(state: AuthState): Identity {
  return {
    state,
    scopes: new Set(state.scopes),
    modelAllowed: compileGlobs(state.allowedModels),
    referrerAllowed: compileReferrers(state.allowedReferrers),
    addressAllowed: compileAddressLists(state.allowedIps),
  };
}

/**
 * The key's and its org's `allowed_ips`: the address must match every list given. Enforced by
 * `auth` itself, so a key's list holds whether or not `ip-allowlist` is in the pipeline. A list
 * with an entry that does not parse (only possible from outside the admin API) matches nothing:
 * a restriction that cannot be read refuses rather than fails open.
 */
export function compileAddressLists(lists: readonly (readonly string[])[]): ((ip: string) => boolean) | undefined {
  if (lists.length === 0) return undefined;
  const matchers = lists.map((cidrs) => {
    try {
      return compileIpMatcher(cidrs);
    } catch {
      return () => false;
    }
  });
  return (ip) => matchers.every((matches) => matches(ip));
}

/** `gpt-4o*`, `anthropic/*`, `demo`: `*` matches any run of characters. Undefined for an empty list (all allowed). */
export function compileGlobs(globs: readonly string[]): ((value: string) => boolean) | undefined {
  if (globs.length === 0) return undefined;
  const exact = new Set(globs.filter((g) => !g.includes('*')));
  const patterns = globs
    .filter((g) => g.includes('*'))
    .map(globToRegExp);
  return (value) => exact.has(value) || patterns.some((p) => p.test(value));
}

/** Host of an `Origin` or `Referer` URL, lower-case, or undefined when it is not a URL with a host. */
function hostOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).hostname.toLowerCase() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * `example.com` matches that host only; `*.example.com` matches any subdomain (not the apex).
 * A request with neither `Origin` nor `Referer` does not match: a restricted key is a browser key.
 */
export function compileReferrers(hosts: readonly string[]): ((headers: IncomingHttpHeaders) => boolean) | undefined {
  if (hosts.length === 0) return undefined;
  const exact = new Set(hosts.filter((h) => !h.startsWith('*.')).map((h) => h.toLowerCase()));
  const suffixes = hosts.filter((h) => h.startsWith('*.')).map((h) => h.slice(1).toLowerCase());
  return (headers) => {
    const host = hostOf(headers.origin) ?? hostOf(headers.referer);
    return host !== undefined && (exact.has(host) || suffixes.some((s) => host.endsWith(s)));
  };
}

/** True when the key holds at least one of `anyOf` (an empty list needs nothing). */
export function hasAnyScope(scopes: ReadonlySet<Scope>, anyOf: readonly Scope[]): boolean {
  if (anyOf.length === 0) return true;
  for (const s of anyOf) if (scopes.has(s)) return true;
  return false;
}
