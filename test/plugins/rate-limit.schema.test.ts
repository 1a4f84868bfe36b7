/** The `rate-limit` config schema: what it accepts, the defaults it fills in, and what it rejects. */
import t from 'tap';
import { readSchema, validateAt, formatPath } from '../../core/config/schema.js';

const schema = readSchema('plugins/rate-limit');
const at = ['pipeline', 0, 'rate-limit'];
const check = (config: unknown) => validateAt(schema, config, at).map((i) => `${formatPath(i.path)}: ${i.message}`);

t.test('accepts every documented limit shape', async (t) => {
  const config = {
    limits: [
      { per: 'key', rpm: 600, tpm: 200_000, concurrency: 10 },
      { per: ['key', 'model'], requests: 1000, window: '1h' },
      { per: 'org', tokens: 5_000_000, window: '24h' },
      { per: 'ip', rpm: 60 },
      { per: 'route', concurrency: 100 },
      { per: 'global', rpm: 10_000, models: ['gpt-4o*', 'smart'] },
      { per: 'model', requests: 5, window: 1000 },
    ],
    fail_open: false,
    headers: false,
    completion_allowance: 1024,
  };
  t.same(check(config), []);
});

t.test('fills in the defaults: no limits, fail open, headers on, 256-token completion allowance', async (t) => {
  const config = {};
  t.same(check(config), []);
  t.same(config, { limits: [], fail_open: true, headers: true, completion_allowance: 256 });
});

t.test('a limit needs a dimension and something to count', async (t) => {
  t.same(check({ limits: [{ rpm: 5 }] }), ["pipeline[0].rate-limit.limits[0]: missing required field 'per'"]);
  const nothing = check({ limits: [{ per: 'key' }] });
  t.ok(nothing.length >= 1 && nothing.every((m) => m.startsWith('pipeline[0].rate-limit.limits[0]')), nothing.join('\n'));
  t.ok(nothing.some((m) => /rpm|concurrency/.test(m)), 'names what could be counted');
});

t.test('rejects unknown dimensions, non-positive counts, bad windows and a window with nothing to apply to', async (t) => {
  t.ok(check({ limits: [{ per: 'user', rpm: 5 }] }).length > 0, 'unknown dimension');
  t.ok(check({ limits: [{ per: ['key', 'key'], rpm: 5 }] }).length > 0, 'repeated dimension');
  t.ok(check({ limits: [{ per: [], rpm: 5 }] }).length > 0, 'empty combination');
  t.ok(check({ limits: [{ per: 'key', rpm: 0 }] }).some((m) => m.startsWith('pipeline[0].rate-limit.limits[0].rpm')));
  t.ok(check({ limits: [{ per: 'key', tpm: 1.5 }] }).some((m) => m.startsWith('pipeline[0].rate-limit.limits[0].tpm')));
  t.ok(check({ limits: [{ per: 'key', requests: 5, window: 'soon' }] }).some((m) => m.startsWith('pipeline[0].rate-limit.limits[0].window')));
  t.ok(check({ limits: [{ per: 'key', rpm: 5, window: '1h' }] }).length > 0, 'window only means something for requests / tokens');
  t.ok(check({ limits: [{ per: 'key', rpm: 5, models: [] }] }).length > 0, 'an empty model list');
});

t.test('rejects unknown fields, naming them', async (t) => {
  t.same(check({ limits: [{ per: 'key', rpm: 5, rph: 9 }] }), ["pipeline[0].rate-limit.limits[0].rph: unknown field 'rph' (did you mean 'rpm'?)"]);
  t.same(check({ failopen: true }), ["pipeline[0].rate-limit.failopen: unknown field 'failopen' (did you mean 'fail_open'?)"]);
});
