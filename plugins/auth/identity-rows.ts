/**
 * How identity rows become the records of `types.ts` whichever driver read them (timestamps as ISO
 * strings), how their ids are made, and the errors the repository answers with.
 */
import { randomBytes } from 'node:crypto';
import { GatewayError, errors } from '../../core/errors.js';
import type { KeyEnvironment, KeyRecord, LimitOverrides, OrgRecord, PlanRecord, Scope } from './types.js';

export type Row = Record<string, unknown>;

const ID_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * Makes `prefix_` + 10 characters of millisecond time + 16 random ones, base32 (Crockford,
 * lowercase), as in a monotonic ULID: ids sort by creation time, so cursor pages come out oldest
 * first. Within one millisecond the random part counts up, so ids made by one generator still sort
 * in order. Each identity store owns one; a gateway creates identities through one store (its
 * admin module's).
 */
export class IdGenerator {
  private lastTime = 0;
  private lastRandom: number[] = [];

  next(prefix: 'org' | 'key' | 'plan'): string {
    const now = Date.now();
    if (now > this.lastTime) {
      this.lastTime = now;
      this.lastRandom = [...randomBytes(16)].map((b) => b % 32);
    } else {
      for (let i = this.lastRandom.length - 1; i >= 0; i--) {
        this.lastRandom[i] = (this.lastRandom[i]! + 1) % 32;
        if (this.lastRandom[i] !== 0) break;
      }
    }
    let head = '';
    for (let i = 0, time = this.lastTime; i < 10; i++, time = Math.floor(time / 32)) head = ID_ALPHABET[time % 32]! + head;
    return `${prefix}_${head}${this.lastRandom.map((d) => ID_ALPHABET[d]).join('')}`;
  }
}

function iso(value: unknown): string {
  return (value instanceof Date ? value : new Date(String(value))).toISOString();
}
function isoOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : iso(value);
}

export function toPlan(r: Row): PlanRecord {
  return {
    id: r['id'] as string, name: r['name'] as string, allowed_models: r['allowed_models'] as string[],
    limits: r['limits'] as LimitOverrides, metadata: r['metadata'] as Record<string, unknown>,
    created_at: iso(r['created_at']), updated_at: iso(r['updated_at']),
  };
}

export function toOrg(r: Row): OrgRecord {
  return {
    id: r['id'] as string, slug: r['slug'] as string, name: r['name'] as string, plan_id: (r['plan_id'] as string | null) ?? null,
    allowed_ips: r['allowed_ips'] as string[], metadata: r['metadata'] as Record<string, unknown>, disabled: r['disabled'] as boolean,
    created_at: iso(r['created_at']), updated_at: iso(r['updated_at']),
  };
}

export function toKey(r: Row): KeyRecord {
  return {
    id: r['id'] as string, org_id: r['org_id'] as string, name: r['name'] as string, prefix: r['prefix'] as string,
    scopes: r['scopes'] as Scope[], environment: r['environment'] as KeyEnvironment,
    expires_at: isoOrNull(r['expires_at']), revoked_at: isoOrNull(r['revoked_at']),
    allowed_models: r['allowed_models'] as string[], allowed_ips: r['allowed_ips'] as string[],
    allowed_referrers: r['allowed_referrers'] as string[], limits: r['limits'] as LimitOverrides,
    metadata: r['metadata'] as Record<string, unknown>,
    created_at: iso(r['created_at']), updated_at: iso(r['updated_at']), last_used_at: isoOrNull(r['last_used_at']),
  };
}

export function throwNotFound(thing: 'organization' | 'plan' | 'key', ref: string): never {
  throw new GatewayError(404, 'not_found_error', `${thing}_not_found`, `No ${thing} '${ref.slice(0, 100)}' exists.`);
}
/** Turns the database's unique-violation (23505) into a 409; rethrows anything else. */
export function onUniqueViolation(message: string, code: string, param: string) {
  return (err: unknown): never => {
    if ((err as { code?: unknown }).code === '23505') throw errors.conflict(code, message, param);
    throw err;
  };
}
