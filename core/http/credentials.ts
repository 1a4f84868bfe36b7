/**
 * Where a client may put its gateway credential: `Authorization: Bearer …` (OpenAI SDKs),
 * `x-api-key` (Anthropic-style clients) or `api-key` (Azure OpenAI clients). The first present wins.
 */
import type { IncomingHttpHeaders } from 'node:http';

/** Request headers that carry a gateway credential: a raw proxy route removes them unless it sets `forward_credentials`. */
export const CREDENTIAL_HEADERS = ['authorization', 'x-api-key', 'api-key'] as const;

/**
 * Longest credential looked at. Keys are about 60 characters and JWTs rarely pass a few KB; a
 * longer value is refused before any hashing or caching (it could not be a valid credential).
 */
export const MAX_CREDENTIAL_LENGTH = 8192;

/** The presented credential, or undefined when the request carries none. */
export function presentedCredential(headers: IncomingHttpHeaders): string | undefined {
  const authorization = headers.authorization;
  if (authorization !== undefined) {
    // Scheme names are case-insensitive (RFC 9110 §11.1).
    if (authorization.length > 7 && (authorization.startsWith('Bearer ') || authorization.slice(0, 7).toLowerCase() === 'bearer ')) {
      const token = authorization.slice(7).trim();
      if (token) return token;
    }
  }
  const apiKey = headers['x-api-key'] ?? headers['api-key'];
  const value = Array.isArray(apiKey) ? apiKey[0] : apiKey;
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}
