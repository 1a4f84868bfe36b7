/**
 * The upstream request every HTTP adapter sends the same way: a JSON POST whose headers are the
 * adapter's fixed ones (its defaults, the provider's configured `headers`, its credentials) with
 * the operation's header rules applied last, and a debug log line naming the request fields the
 * translation left out.
 */
import type { UpstreamRequest } from '../../core/http/upstream.js';
import type { AdapterEnv, Operation } from './adapter.js';

/**
 * Sets each of `headers` on `target` under its lower-case name; a null value removes the header
 * (how a plugin such as `transform` takes one off). Returns `target`.
 */
export function setHeaders(target: Record<string, string>, headers: Readonly<Record<string, string | null>>): Record<string, string> {
  for (const [k, v] of Object.entries(headers)) {
    if (v === null) delete target[k.toLowerCase()];
    else target[k.toLowerCase()] = v;
  }
  return target;
}

/** Logs, at debug level, the request fields left out because the provider cannot honour them (`unsupported_params: drop`). */
export function logDropped(env: AdapterEnv, op: Operation, dropped: readonly string[], message = 'dropped request fields the provider cannot honour'): void {
  if (dropped.length) env.log.debug({ request_id: op.requestId, provider: env.provider, dropped }, message);
}

/** A POST of `body` as JSON to `url`, with the operation's header rules applied over `headers`. */
export function postJson(url: string, headers: Record<string, string>, op: Operation, body: unknown): UpstreamRequest {
  return { url, method: 'POST', headers: setHeaders(headers, op.headers), body: JSON.stringify(body) };
}
