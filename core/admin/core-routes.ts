/** The core's own admin routes: config version, reload status, a reload on demand, the redacted config. */
import type { AdminRoute, AdminServices } from './contract.js';

/** Config fields whose values are credentials (matched on the field name, at any depth). */
const SECRET_FIELD = /key|secret|token|password|credential|authorization/i;

/** A deep copy of the config with every credential-looking value replaced (URLs lose their passwords). */
export function redactConfig(value: unknown, field = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => redactConfig(v, field));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactConfig(v, k)]));
  }
  if (typeof value === 'string') {
    if (SECRET_FIELD.test(field)) return '[redacted]';
    return value.replace(/(\w+:\/\/[^:/@\s]*:)[^@\s]*@/g, '$1[redacted]@');
  }
  return value;
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
