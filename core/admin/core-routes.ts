/** The core's own admin routes: config version, reload status, a reload on demand, the redacted config. */
import type { AdminRoute, AdminServices } from './contract.js';

const REDACTED = '[redacted]';

/**
 * Field names whose values are credentials: the name, or its last `_`/`-` word, is one of these —
 * `api_key`, `key` (a static key), `client_secret`, `iam_token`, `credentials`, `sha256` (a static
 * key's hash), header names such as `Authorization`, `x-api-key` or `X-Auth-Token`. Not `keys`
 * (`[static, sql]`), `max_tokens` or `token_refresh_margin`.
 */
const SECRET_NAME = /(?:^|[_-])(?:key|secret|token|password|passwd|credentials?|authorization|cookie|sha256)$/i;
/** A value that carries its own credential (`Bearer …`), whatever the field is called. */
const CREDENTIAL_VALUE = /^(?:bearer|basic|api-key)\s+\S/i;
/** `scheme://user:password@` or `scheme://token@`. */
const URL_USERINFO = /\b([a-z][\w+.-]*:\/\/)([^/?#@\s]+)@/gi;
const URL_QUERY_PARAM = /([?&])([^=&#\s]+)=([^&#\s]*)/g;

/**
 * A deep copy of the config with every credential replaced: fields named like one, values that
 * carry one, and the credentials inside URLs (the password, or a bare token, of the user part; query
 * parameters named like a credential). Under `claims` (JWT claim names) nothing is a secret.
 */
export function redactConfig(value: unknown, field = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => redactConfig(v, field));
  if (value !== null && typeof value === 'object') {
    // `tracing.headers` carry the trace backend's credentials under any name (`x-honeycomb-team`): every value is redacted.
    const all = (headers: object) => Object.fromEntries(Object.keys(headers).map((name) => [name, REDACTED]));
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, field === 'claims' ? v : field === 'tracing' && k === 'headers' && v ? all(v as object) : redactConfig(v, k)]));
  }
  if (SECRET_NAME.test(field) && (typeof value === 'string' || typeof value === 'number')) return REDACTED;
  if (typeof value === 'string') return CREDENTIAL_VALUE.test(value) ? REDACTED : redactUrls(value);
  return value;
}

function redactUrls(text: string): string {
  if (!text.includes('://')) return text;
  return text
    .replace(URL_USERINFO, (_whole, scheme: string, userinfo: string) => {
      const colon = userinfo.indexOf(':');
      return `${scheme}${colon === -1 ? REDACTED : `${userinfo.slice(0, colon)}:${REDACTED}`}@`;
    })
    .replace(URL_QUERY_PARAM, (whole, separator: string, name: string) => (SECRET_NAME.test(name) ? `${separator}${name}=${REDACTED}` : whole));
}

const statusSchema = {
  type: 'object',
  required: ['object', 'version', 'loaded_at', 'file'],
  properties: {
    object: { const: 'config.status' },
    version: { type: 'integer', description: 'Id of the serving config version.' },
    loaded_at: { type: 'string', format: 'date-time' },
    file: { type: 'string' },
    last_reload: {
      type: 'object',
      properties: { at: { type: 'string' }, ok: { type: 'boolean' }, version: { type: 'integer' }, errors: { type: 'array', items: { type: 'string' } } },
    },
  },
};

export function coreAdminRoutes(services: AdminServices): AdminRoute[] {
  const status = () => {
    const s = services.status();
    return { object: 'config.status', version: s.version, loaded_at: s.loadedAt, file: s.file, ...(s.lastReload ? { last_reload: s.lastReload } : {}) };
  };
  return [
    {
      method: 'GET',
      path: '/admin/config/status',
      tag: 'config',
      summary: 'The serving config version and the result of the last reload (errors name file, line and field).',
      responseSchema: statusSchema,
      handle: async () => ({ status: 200, body: status() }),
    },
    {
      method: 'POST',
      path: '/admin/config/reload',
      tag: 'config',
      summary: 'Reload the config file now. An invalid file is rejected and the serving version stays.',
      requestSchema: { type: 'object', additionalProperties: false, properties: {} },
      responseSchema: { type: 'object', required: ['object', 'ok', 'changed', 'version'], properties: { object: { const: 'config.reload' }, ok: { type: 'boolean' }, changed: { type: 'boolean' }, version: { type: 'integer' }, errors: { type: 'array', items: { type: 'string' } } } },
      handle: async () => {
        const r = await services.reload();
        return { status: r.ok ? 200 : 422, body: { object: 'config.reload', ...r } };
      },
    },
    {
      method: 'GET',
      path: '/admin/config',
      tag: 'config',
      summary: 'The serving config as loaded (defaults applied), with every credential redacted.',
      responseSchema: { type: 'object', required: ['object', 'version', 'config'], properties: { object: { const: 'config' }, version: { type: 'integer' }, config: { type: 'object' } } },
      handle: async () => ({ status: 200, body: { object: 'config', version: services.status().version, config: redactConfig(services.config()) } }),
    },
  ];
}
