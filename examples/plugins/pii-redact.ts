/**
 * `pii-redact` — an example custom plugin. It replaces email addresses and phone-like numbers in
 * chat messages before the request is routed, so they never reach a provider, and tells the client
 * how many it replaced in an `x-pii-redacted` response header.
 *
 * A custom plugin gets exactly the contract of a built-in one; load it from the config by path
 * (relative to the YAML file):
 *
 * ```yaml
 * pipeline:
 *   - use: ./plugins/pii-redact.ts
 *     config: { replacement: "[redacted]" }
 *   - route
 * ```
 */
import { definePlugin } from '../../core/plugin.js';
import { ConfigError } from '../../core/config/schema.js';

export interface PiiRedactConfig {
  /** Regular expressions (JavaScript syntax); every match is replaced. */
  patterns: string[];
  /** Text put in place of each match. */
  replacement: string;
  /** Message roles whose content is redacted. */
  roles: string[];
}

/** An email address. */
export const EMAIL = String.raw`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}`;
/** A phone number: optional `+country`, then three groups of digits (`555-123-4567`, `+44 20 7946 0958`). */
export const PHONE = String.raw`(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)|\d{2,4})[\s.-]?\d{3,4}[\s.-]?\d{3,4}(?!\w)`;

const schema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'pii-redact',
  description: 'Replaces personal data (emails, phone numbers, or anything your patterns match) in chat messages before they are routed.',
  type: 'object',
  additionalProperties: false,
  properties: {
    patterns: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      minItems: 1,
      default: [EMAIL, PHONE],
      description: 'Regular expressions (JavaScript syntax) to redact. Default: email addresses and phone numbers.',
    },
    replacement: { type: 'string', default: '[redacted]', description: 'Text that replaces each match.' },
    roles: {
      type: 'array',
      items: { enum: ['system', 'developer', 'user', 'assistant', 'tool'] },
      default: ['user'],
      description: 'Message roles whose content is redacted.',
    },
  },
};

/** Redacts a message's `content`: a string, or an array of parts whose `text` parts are redacted. */
function redactContent(content: unknown, redact: (text: string) => string): unknown {
  if (typeof content === 'string') return redact(content);
  if (!Array.isArray(content)) return content;
  return content.map((part: unknown) => {
    const p = part as { type?: unknown; text?: unknown } | null;
    return p && p.type === 'text' && typeof p.text === 'string' ? { ...p, text: redact(p.text) } : part;
  });
}

export default definePlugin<PiiRedactConfig>({
  name: 'pii-redact',
  schema,
  kinds: ['model'],
  create(config) {
    // Compile once per config version; a bad pattern is a load error at its line in the YAML.
    const patterns = config.patterns.map((source, i) => {
      try {
        return new RegExp(source, 'g');
      } catch (err) {
        throw ConfigError.at(['patterns', i], `is not a valid regular expression: ${(err as Error).message}`);
      }
    });
    const roles = new Set(config.roles);
    return {
      async handle(ctx, next) {
        const messages = ctx.body?.['messages'];
        let count = 0;
        const redact = (text: string) => patterns.reduce((s, re) => s.replace(re, () => (count++, config.replacement)), text);
        if (Array.isArray(messages)) {
          for (const message of messages as { role?: unknown; content?: unknown }[]) {
            if (message && typeof message.role === 'string' && roles.has(message.role)) message.content = redactContent(message.content, redact);
          }
        }
        await next();
        if (count > 0 && ctx.response) ctx.response.headers['x-pii-redacted'] = String(count);
      },
    };
  },
});
