/**
 * Redaction for captured request and response bodies, compiled once per config version.
 *
 * In this order, on every string of the body (and the value of every field named like a
 * credential, which is replaced whole):
 * 1. the gateway's own secrets, always: every credential in the config (provider `api_key`s,
 *    static keys, client secrets — any field named like one) and `SWITCHYARD_ADMIN_KEY` /
 *    `SWITCHYARD_SECRET`, matched as literal text;
 * 2. API keys and bearer tokens (`sk-…`, `sk-ant-…`, `AIza…`, `AKIA…`, `ghp_…`, `xox…-`, JWTs,
 *    `Bearer …`), when `api_keys` is on;
 * 3. e-mail addresses, when `emails` is on;
 * 4. card numbers (13–19 digits, spaces or dashes allowed, that pass the Luhn check), when
 *    `card_numbers` is on;
 * 5. the config's own `patterns`.
 */
import { ConfigError } from '../../core/config/schema.js';

export interface RedactionSettings {
  api_keys: boolean;
  emails: boolean;
  card_numbers: boolean;
  patterns: readonly string[];
}

/** Field names whose values are credentials (as the core's config redaction reads them). */
const SECRET_FIELD = /(?:^|[_-])(?:key|secret|token|password|passwd|credentials?|authorization|cookie|sha256)$/i;
/** Literal secrets shorter than this are not searched for (they would match ordinary text). */
const MIN_SECRET_LENGTH = 12;

const API_KEY = new RegExp(
  [
    String.raw`\b(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}`,
    String.raw`\bAIza[0-9A-Za-z_-]{30,}`,
    String.raw`\bAKIA[0-9A-Z]{16}\b`,
    String.raw`\bgh[pousr]_[A-Za-z0-9]{30,}`,
    String.raw`\bxox[abprs]-[A-Za-z0-9-]{10,}`,
    String.raw`\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`,
    String.raw`\b(?:Bearer|Basic)\s+[A-Za-z0-9._~+/-]{16,}=*`,
  ].join('|'),
  'g',
);
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;
const CARD_CANDIDATE = /\b\d(?:[ -]?\d){12,18}\b/g;

export type Redactor = (value: unknown) => unknown;

/**
 * Compiles the redaction. `secrets` are the gateway's own (see `gatewaySecrets`); a bad pattern is
 * a ConfigError at `bodies.redact.patterns[i]`.
 */
export function compileRedaction(settings: RedactionSettings, secrets: readonly string[]): Redactor {
  const literal = [...new Set(secrets.filter((s) => s.length >= MIN_SECRET_LENGTH))].sort((a, b) => b.length - a.length);
  const secretPattern = literal.length ? new RegExp(literal.map(escapeRegExp).join('|'), 'g') : undefined;
  const custom = settings.patterns.map((p, i) => {
    try {
      return new RegExp(p, 'g');
    } catch (err) {
      throw ConfigError.at(['bodies', 'redact', 'patterns', i], `is not a valid regular expression: ${(err as Error).message}`);
    }
  });
  const text = (s: string): string => {
    let out = secretPattern ? s.replace(secretPattern, '[REDACTED:secret]') : s;
    if (settings.api_keys) out = out.replace(API_KEY, '[REDACTED:api_key]');
    if (settings.emails) out = out.replace(EMAIL, '[REDACTED:email]');
    if (settings.card_numbers) out = out.replace(CARD_CANDIDATE, (m) => (luhn(m.replace(/[ -]/g, '')) ? '[REDACTED:card]' : m));
    for (const re of custom) out = out.replace(re, '[REDACTED]');
    return out;
  };
  const walk = (value: unknown, field: string): unknown => {
    if (typeof value === 'string') return SECRET_FIELD.test(field) ? '[REDACTED]' : text(value);
    if (Array.isArray(value)) return value.map((v) => walk(v, field));
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[text(k)] = walk(v, k);
      return out;
    }
    return value;
  };
  return (value) => walk(value, '');
}

/** Every credential in the config (fields named like one) and the gateway's secrets from its environment. */
export function gatewaySecrets(config: unknown, processEnv: NodeJS.ProcessEnv): string[] {
  const found: string[] = [];
  const walk = (value: unknown, field: string): void => {
    if (typeof value === 'string') {
      if (SECRET_FIELD.test(field)) found.push(value);
      return;
    }
    if (Array.isArray(value)) for (const v of value) walk(v, field);
    else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, k);
  };
  walk(config, '');
  for (const name of ['SWITCHYARD_ADMIN_KEY', 'SWITCHYARD_SECRET']) {
    const v = processEnv[name];
    if (v) found.push(v);
  }
  return found;
}

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
