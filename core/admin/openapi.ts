/** The OpenAPI 3.1 document of the admin API, built from the registered routes (`GET /admin/openapi.json`). */
import type { AdminRoute } from './contract.js';

const errorEnvelope = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['message', 'type', 'param', 'code'],
      properties: {
        message: { type: 'string' },
        type: { type: 'string' },
        param: { type: ['string', 'null'] },
        code: { type: ['string', 'null'] },
        request_id: { type: 'string' },
      },
    },
  },
};

function errorResponse(description: string) {
  return { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
}

function operationId(route: AdminRoute): string {
  const words = route.path
    .split('/')
    .slice(2)
    .map((s) => (s.startsWith(':') ? `By${s[1]!.toUpperCase()}${s.slice(2)}` : s.replace(/[-_.](\w)/g, (_, c: string) => c.toUpperCase())));
  return `${route.method.toLowerCase()}${words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('')}`;
}

export function buildOpenApi(routes: readonly AdminRoute[]): object {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = route.path.replace(/:(\w+)/g, '{$1}');
    const params = [...route.path.matchAll(/:(\w+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    const query = (route.queryParams ?? []).map((q) => ({ name: q.name, in: 'query', required: false, description: q.description, schema: q.schema }));
    const success = String(route.successStatus ?? 200);
    (paths[path] ??= {})[route.method.toLowerCase()] = {
      operationId: operationId(route),
      summary: route.summary,
      tags: [route.tag],
      ...(params.length || query.length ? { parameters: [...params, ...query] } : {}),
      ...(route.requestSchema ? { requestBody: { required: true, content: { 'application/json': { schema: route.requestSchema } } } } : {}),
      responses: {
        [success]: { description: 'Success', content: { 'application/json': { schema: route.responseSchema ?? { type: 'object' } } } },
        '400': errorResponse('Invalid request body or parameters.'),
        '401': errorResponse('Missing, unknown, revoked or expired credential.'),
        '403': errorResponse('The credential lacks the admin scope.'),
        '404': errorResponse('No such object.'),
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Switchyard admin API', version: '1', description: 'Organizations, API keys, plans, cache and config of a Switchyard gateway. Every route needs an admin credential.' },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    tags: [...new Set(routes.map((r) => r.tag))].map((name) => ({ name })),
    paths: Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b))),
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: '`SWITCHYARD_ADMIN_KEY`, or an API key with the `admin` scope.' } },
      schemas: { Error: errorEnvelope },
    },
  };
}
