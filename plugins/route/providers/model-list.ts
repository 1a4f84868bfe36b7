/**
 * What every provider's model listing shares: the GET request (the adapter's fixed headers, no
 * body) and a strict reading of the list body, so a body that is not a list fails the listing
 * (and the last good one is kept) rather than emptying it.
 */
import type { UpstreamRequest } from '../../../core/http/upstream.js';
import { errors } from '../../../core/errors.js';

/** A GET of `url` with the adapter's headers (without the JSON body's `content-type`). */
export function listRequest(url: string, headers: Readonly<Record<string, string>>): UpstreamRequest {
  const { 'content-type': _contentType, ...rest } = headers;
  return { url, method: 'GET', headers: { ...rest, accept: 'application/json' } };
}

/** The array under `field` of a list body; a 502 naming the provider when there is none. */
export function listField(body: unknown, field: string, provider: string): Record<string, unknown>[] {
  const list = body && typeof body === 'object' ? (body as Record<string, unknown>)[field] : undefined;
  if (!Array.isArray(list)) throw errors.badGateway('upstream_invalid_response', `${provider}: the model list has no '${field}' array.`);
  return list.filter((item): item is Record<string, unknown> => item !== null && typeof item === 'object');
}

/** A positive integer, or undefined. */
export function positiveInt(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;
}

/** A non-empty string, or undefined. */
export function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** `url` with `params` (those set) added to its query. */
export function withQuery(url: string, params: Record<string, string | undefined>): string {
  const parsed = new URL(url);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) parsed.searchParams.set(k, v);
  return parsed.toString();
}
