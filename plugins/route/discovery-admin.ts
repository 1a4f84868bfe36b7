/**
 * Admin routes of model discovery (tag `models`): the state of every provider's listing, and a
 * listing on demand (`POST /admin/models/refresh`), which answers once it is done. They act on
 * this process's listings; behind a load balancer, call each replica (each lists on its own).
 */
import { defineAdminModule, type AdminRoute, type AdminServices } from '../../core/admin/contract.js';
import { GatewayError } from '../../core/errors.js';
import type { ModelDiscovery } from './discovery.js';

const statusSchema = {
  type: 'object',
  required: ['provider', 'status', 'models'],
  properties: {
    provider: { type: 'string' },
    status: { enum: ['pending', 'ok', 'failing'], description: '`failing`: the latest listing failed and the last good one is served.' },
    models: { type: 'integer', description: 'Models served from the listing.' },
    refreshed_at: { type: 'string', format: 'date-time', description: 'When the last good listing ended.' },
    error: { type: 'string', description: 'Why the latest listing failed.' },
    failing_since: { type: 'string', format: 'date-time' },
    failures: { type: 'integer', description: 'Listings failed in a row.' },
  },
};

const listSchema = {
  type: 'object',
  required: ['object', 'data'],
  properties: { object: { const: 'list' }, data: { type: 'array', items: statusSchema } },
};

/** Route's discovery, from its process state; a 503 before any config version used `route`. */
function discoveryOf(services: AdminServices): ModelDiscovery {
  const state = services.processState('route') as { discovery?: ModelDiscovery } | undefined;
  if (!state?.discovery) throw new GatewayError(503, 'server_error', 'discovery_unavailable', 'Model discovery is not running yet.');
  return state.discovery;
}

/** The discovery routes, for route's admin module. */
export function discoveryAdminRoutes(services: AdminServices): AdminRoute[] {
  return [
    {
      method: 'GET',
      path: '/admin/models/discovery',
      summary: "Each discovering provider's model listing: status, model count, last success, last error.",
      tag: 'models',
      responseSchema: listSchema,
      async handle() {
        return { status: 200, body: { object: 'list', data: discoveryOf(services).statuses() } };
      },
    },
    {
      method: 'POST',
      path: '/admin/models/refresh',
      summary: 'List the upstream models of every discovering provider (or of `provider`) now; answers when done.',
      tag: 'models',
      requestSchema: {
        type: 'object',
        additionalProperties: false,
        properties: { provider: { type: 'string', minLength: 1, description: 'Only this provider; default every provider that discovers.' } },
      },
      responseSchema: listSchema,
      async handle(req) {
        const provider = (req.body as { provider?: string }).provider;
        const data = await discoveryOf(services).refresh(provider);
        req.log.info({ request_id: req.requestId, provider, listings: data.map((s) => `${s.provider}:${s.status}`) }, 'model discovery refreshed');
        return { status: 200, body: { object: 'list', data } };
      },
    },
  ];
}

export default defineAdminModule({
  name: 'models',
  create: (services) => ({ routes: discoveryAdminRoutes(services) }),
});
