/**
 * `route`'s admin module: `GET /admin/targets` (tag `targets`) — each target's health, circuit
 * breaker, moving-average latency, calls in flight and call counts, from this process's state —
 * and model discovery's routes (`discovery-admin.ts`). Behind a load balancer each replica answers
 * for itself; breaker states agree across replicas when they share a Redis store.
 */
import { defineAdminModule, type AdminRoute, type AdminServices } from '../../core/admin/contract.js';
import { discoveryAdminRoutes } from './discovery-admin.js';
import type { TargetRegistry, TargetState } from './targets.js';

const targetSchema = {
  type: 'object',
  required: ['target', 'provider', 'model', 'configured', 'healthy', 'breaker', 'in_flight', 'latency_ms', 'calls', 'failures'],
  properties: {
    target: { type: 'string', description: '`provider/model`.' },
    provider: { type: 'string' },
    model: { type: 'string', description: 'The upstream model id.' },
    configured: { type: 'boolean', description: 'Named in `models:` (false: named by a client through a glob key or a `provider/model` id).' },
    healthy: { type: 'boolean', description: 'Its breaker is closed: it takes traffic.' },
    breaker: { enum: ['closed', 'half_open', 'open'], description: '`half_open`: the cooldown is over and the next calls probe it.' },
    cooldown_ms: { type: 'integer', description: 'While open: milliseconds until probes are let through.' },
    in_flight: { type: 'integer', description: 'Calls in flight from this process (a stream counts until it ends).' },
    latency_ms: { type: ['number', 'null'], description: 'Moving average (EWMA) of the time to first byte (to the first chunk for streams); null until measured.' },
    calls: { type: 'integer', description: 'Calls made by this process since it started.' },
    failures: { type: 'integer', description: 'Of those, failed by the target (connection, timeout, 429, 5xx, overload).' },
  },
};

const listSchema = {
  type: 'object',
  required: ['object', 'data'],
  properties: { object: { const: 'list' }, data: { type: 'array', items: targetSchema } },
};

/** One target as `/admin/targets` shows it. */
export function describeTarget(t: TargetState, now: number): Record<string, unknown> {
  const b = t.breaker;
  const breaker = b.state === 'open' && now >= b.openUntil ? 'half_open' : b.state;
  return {
    target: t.id,
    provider: t.provider,
    model: t.model,
    configured: t.configured,
    healthy: b.state === 'closed',
    breaker,
    ...(breaker === 'open' && { cooldown_ms: Math.ceil(b.openUntil - now) }),
    in_flight: t.inFlight,
    latency_ms: Number.isNaN(t.latencyMs) ? null : Math.round(t.latencyMs * 10) / 10,
    calls: t.calls,
    failures: t.failures,
  };
}

function targetRoutes(services: AdminServices): AdminRoute[] {
  return [
    {
      method: 'GET',
      path: '/admin/targets',
      summary: "Each target's health, circuit breaker, EWMA latency, calls in flight and call counts in this process.",
      tag: 'targets',
      queryParams: [{ name: 'provider', description: 'Only targets of this provider.', schema: { type: 'string' } }],
      responseSchema: listSchema,
      async handle(req) {
        const state = services.processState('route') as { targets?: TargetRegistry } | undefined;
        const provider = req.query.get('provider') || undefined;
        const now = performance.now();
        const data = state?.targets ? state.targets.listed().filter((t) => provider === undefined || t.provider === provider).map((t) => describeTarget(t, now)) : [];
        return { status: 200, body: { object: 'list', data } };
      },
    },
  ];
}

export default defineAdminModule({
  name: 'route',
  create: (services) => ({ routes: [...targetRoutes(services), ...discoveryAdminRoutes(services)] }),
});
