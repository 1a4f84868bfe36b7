/**
 * Gateway API keys: `sk-sy-<env>-<prefix id>_<secret>`. The secret part is 32 random bytes
 * (256 bits) in base64url. Only an HMAC-SHA256 of the whole key under the server secret is stored;
 * lookups hash the presented key and find the row by that hash (an index lookup, so no timing
 * depends on how much of a wrong key matched), then compare hashes in constant time.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { KeyEnvironment } from './types.js';

/** Visible characters kept as the key's prefix: enough to tell keys apart, far too few to guess the rest. */
const PREFIX_LENGTH = 16;

export interface NewKey {
  /** The full key: show it once, never store it. */
  secret: string;
  /** Stored, shown in listings. */
  prefix: string;
}

export function generateKey(environment: KeyEnvironment): NewKey {
  const secret = `sk-sy-${environment}-${randomBytes(32).toString('base64url')}`;
  return { secret, prefix: secret.slice(0, PREFIX_LENGTH) };
}

/** The stored form of a key: hex HMAC-SHA256 under the server secret. */
export function hashKey(serverSecret: Buffer, key: string): string {
  return createHmac('sha256', serverSecret).update(key).digest('hex');
}

/** SHA-256 hex of a key, the form a static key may be declared in YAML (`sha256:`). */
export function sha256Hex(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** Constant-time comparison of two hex digests (false for different lengths, without early exit on content). */
export function digestsEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}
