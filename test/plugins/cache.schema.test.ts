/** The `cache` config schema: defaults, accepted shapes, and rejections that name the field. */
import t from 'tap';
import { readSchema, validateAt, formatPath } from '../../core/config/schema.js';

const schema = readSchema('plugins/cache');
const at = ['pipeline', 1, 'cache'];

const check = (config: unknown) => validateAt(schema, config, at).map((i) => `${formatPath(i.path)}: ${i.message}`);

t.test('an empty config gets every documented default', async (t) => {
  const config = {};
  t.same(check(config), []);
  t.same(config, {
    when: 'deterministic',
    ttl: '10m',
    max_entry_bytes: '1mb',
    endpoints: ['chat.completions', 'completions', 'embeddings'],
    per_endpoint: {},
    models: {},
  });
});

t.test('accepts per-endpoint and per-model overrides', async (t) => {
  const config = {
    when: 'opt_in',
    ttl: 60000,
    max_entry_bytes: 2048,
    endpoints: ['chat.completions', 'images.generations'],
    per_endpoint: { embeddings: { ttl: '24h' }, 'chat.completions': { when: 'always' } },
    models: { 'gpt-4o*': { ttl: '1h' }, 'anthropic/*': { when: 'deterministic', ttl: '30s' } },
  };
  t.same(check(config), []);
});

t.test('rejects unknown policies, bad durations and sizes, naming the field', async (t) => {
  t.match(check({ when: 'sometimes' }).join('\n'), /pipeline\[1\]\.cache\.when/);
  t.match(check({ ttl: 'ten minutes' }).join('\n'), /pipeline\[1\]\.cache\.ttl/);
  t.match(check({ max_entry_bytes: 'huge' }).join('\n'), /pipeline\[1\]\.cache\.max_entry_bytes/);
  t.match(check({ models: { 'gpt-4o*': { ttl: 'soon' } } }).join('\n'), /cache\.models\["gpt-4o\*"\]\.ttl: must be a duration/);
});

t.test('rejects unknown endpoints and unknown fields', async (t) => {
  t.not(check({ endpoints: ['models.list'] }), []);
  t.not(check({ per_endpoint: { 'models.list': { ttl: '1m' } } }), []);
  t.same(check({ ttl_seconds: 5 }), ["pipeline[1].cache.ttl_seconds: unknown field 'ttl_seconds'"]);
  t.match(check({ models: { x: { tll: '1m' } } }).join('\n'), /unknown field 'tll'/);
});

t.test('every field is described', async (t) => {
  const props = (schema as { properties: Record<string, { description?: string; $ref?: string }> }).properties;
  const defs = (schema as { definitions: Record<string, { description?: string }> }).definitions;
  for (const [name, p] of Object.entries(props)) {
    const description = p.description ?? (p.$ref ? defs[p.$ref.split('/').pop()!]?.description : undefined);
    t.ok(description, `${name} has a description`);
  }
});
