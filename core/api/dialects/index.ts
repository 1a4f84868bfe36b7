/** The inbound API dialects the core serves (see dialect.ts). */
import type { IncomingHttpHeaders } from 'node:http';
import type { Dialect, DialectName } from './dialect.js';
import { anthropicDialect } from './anthropic.js';
import { responsesDialect } from './responses.js';

export const DIALECTS: Readonly<Record<DialectName, Dialect>> = {
  anthropic: anthropicDialect,
  responses: responsesDialect,
};

/** Client headers a native pass-through may forward (Anthropic's version and beta flags). */
const FORWARDED = ['anthropic-version', 'anthropic-beta'] as const;

export function dialectHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of FORWARDED) {
    const value = headers[name];
    if (typeof value === 'string' && value.length <= 1024) out[name] = value;
  }
  return out;
}
