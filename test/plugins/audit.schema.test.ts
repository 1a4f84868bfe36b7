/** The `audit` config schema: defaults (request events and body capture off), accepted shapes, rejected ones. */
import t from 'tap';
import { readSchema, validateAt, formatPath } from '../../core/config/schema.js';

const schema = readSchema('plugins/audit');
const check = (config: unknown) => validateAt(schema, config, ['pipeline', 0, 'audit']).map((i) => `${formatPath(i.path)}: ${i.message}`);

t.test('an empty config records admin actions only: requests and bodies are off', async (t) => {
  const config = {};
  t.same(check(config), []);
  t.same(config, {
    requests: { enabled: false, exclude_routes: ['/health', '/ready', '/metrics'] },
    bodies: { enabled: false, max_bytes: 16384, redact: { api_keys: true, emails: true, card_numbers: true, patterns: [] } },
    log: true,
    queue: { flush_interval: '1s', batch_rows: 200, max_queued: 20000 },
  });
});

t.test('accepts request events, body capture with custom patterns, and queue settings', async (t) => {
  t.same(
    check({
      requests: { enabled: true, exclude_routes: [] },
      bodies: { enabled: true, max_bytes: 4096, redact: { emails: false, patterns: ['\\bACME-\\d{6}\\b'] } },
      log: false,
      queue: { flush_interval: 250, batch_rows: 50, max_queued: 1000 },
    }),
    [],
  );
});

t.test('rejects unknown fields and out-of-range values', async (t) => {
  t.match(check({ request: {} })[0], /^pipeline\[0\]\.audit\.request: unknown field/);
  t.match(check({ bodies: { max_bytes: 10 } })[0], /^pipeline\[0\]\.audit\.bodies\.max_bytes: /);
  t.match(check({ bodies: { redact: { phone_numbers: true } } })[0], /^pipeline\[0\]\.audit\.bodies\.redact\.phone_numbers: unknown field/);
  t.match(check({ queue: { flush_interval: 'soon' } })[0], /^pipeline\[0\]\.audit\.queue\.flush_interval: /);
  t.match(check({ queue: { batch_rows: 0 } })[0], /^pipeline\[0\]\.audit\.queue\.batch_rows: /);
});
