/** The `responses` config schema: defaults (30 days, stored like OpenAI), accepted shapes, rejected ones; and the retention parser. */
import t from 'tap';
import { readSchema, validateAt, formatPath } from '../../core/config/schema.js';
import { retentionSeconds } from '../../plugins/responses/index.js';

const schema = readSchema('plugins/responses');
const check = (config: unknown) => validateAt(schema, config, ['pipeline', 1, 'responses']).map((i) => `${formatPath(i.path)}: ${i.message}`);

t.test('an empty config keeps responses 30 days and stores unless a request says store: false', async (t) => {
  const config = {};
  t.same(check(config), []);
  t.same(config, { retention: '30d', store_default: true });
});

t.test('accepts days, hours and minutes, and store_default false', async (t) => {
  for (const retention of ['1d', '365d', '12h', '90m']) t.same(check({ retention, store_default: false }), [], retention);
});

t.test('rejects unknown fields, other units and a zero retention', async (t) => {
  t.match(check({ store: true })[0], /^pipeline\[1\]\.responses\.store: unknown field/);
  for (const retention of ['30', '30s', '0d', '1.5d', 'forever', '']) t.match(check({ retention })[0], /^pipeline\[1\]\.responses\.retention: /, retention);
  t.match(check({ store_default: 'yes' })[0], /^pipeline\[1\]\.responses\.store_default: /);
});

t.test('retention in seconds', async (t) => {
  t.equal(retentionSeconds('30d'), 30 * 86_400);
  t.equal(retentionSeconds('12h'), 12 * 3_600);
  t.equal(retentionSeconds('90m'), 90 * 60);
  t.throws(() => retentionSeconds('10s'), /whole number of days, hours or minutes/);
});
