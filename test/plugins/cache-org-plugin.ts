/**
 * Test stand-in for `auth`: sets `ctx.auth` to the organization named in `x-test-org` (none when
 * the header is absent), so cache tests can act as several tenants without the auth plugin.
 */
import { definePlugin } from '../../core/plugin.js';

export default definePlugin<Record<string, never>>({
  name: 'test-org',
  schema: { type: 'object' },
  create() {
    return {
      async handle(ctx, next) {
        const org = ctx.headers['x-test-org'];
        if (typeof org === 'string') {
          ctx.auth = { method: 'static_key', orgId: org, keyId: `key-${org}`, scopes: ['write'], environment: 'test', allowedModels: [], allowedIps: [], allowedReferrers: [], limits: {}, metadata: {} };
        }
        await next();
      },
    };
  },
});
