/** The `transform` config schema: what it accepts, what it rejects, and where it says the problem is. */
import t from 'tap';
import { readSchema, validateAt, formatPath } from '../../core/config/schema.js';

const schema = readSchema('plugins/transform');
const at = ['pipeline', 0, 'transform'];

/** Issues as `path: message` strings. */
const check = (config: unknown) => validateAt(schema, config, at).map((i) => `${formatPath(i.path)}: ${i.message}`);

t.test('accepts every documented rule shape', async (t) => {
  const config = {
    rules: [
      { request: { set: { max_tokens: 100, 'metadata.team': 'a' }, default: { temperature: 0.2 }, remove: ['user', 'metadata.secret'] } },
      { match: { models: ['gpt-4*'], endpoints: ['chat.completions', 'embeddings'], paths: ['/v1/*'] }, request: { model: 'gpt-4o' } },
      { request: { system_prompt: 'Be brief.' } },
      { request: { system_prompt: { content: 'Be brief.', position: 'replace' } } },
      { request: { headers: { set: { 'x-team': 'a' }, remove: ['x-request-id'] } } },
      { response: { set: { 'choices.0.gateway': true }, remove: ['system_fingerprint'], rename: { id: 'ref' }, restore_model: true, headers: { set: { 'x-a': 'b' } } } },
    ],
  };
  t.same(check(config), []);
});

t.test('applies the restore_model default', async (t) => {
  const config = { rules: [{ request: { system_prompt: { content: 'x' } }, response: { set: { a: 1 } } }] };
  t.same(check(config), []);
  t.same(config.rules[0], { request: { system_prompt: { content: 'x' } }, response: { set: { a: 1 }, restore_model: false } });
});

t.test('coerces header values to strings', async (t) => {
  const config = { rules: [{ request: { headers: { set: { 'x-version': 2 } } } }] };
  t.same(check(config), []);
  t.equal(config.rules[0]!.request.headers.set['x-version'], '2');
});

t.test('requires rules, at least one, each with a request or a response', async (t) => {
  t.same(check({}), ["pipeline[0].transform: missing required field 'rules'"]);
  t.equal(check({ rules: [] }).length, 1);
  t.match(check({ rules: [] })[0], /^pipeline\[0\]\.transform\.rules: .*fewer than 1/);
  const onlyMatch = check({ rules: [{ match: { models: ['x'] } }] });
  t.ok(onlyMatch.length >= 1);
  t.ok(onlyMatch.every((m) => m.startsWith('pipeline[0].transform.rules[0]: ')), onlyMatch.join('\n'));
  t.ok(onlyMatch.some((m) => /request|response/.test(m)), 'names the missing fields');
});

t.test('rejects unknown keys, naming them', async (t) => {
  t.same(check({ rules: [{ request: { sett: { a: 1 } } }] }), ["pipeline[0].transform.rules[0].request.sett: unknown field 'sett' (did you mean 'set'?)"]);
  t.same(check({ rules: [{ response: {}, match: { model: ['x'] } }] }), ["pipeline[0].transform.rules[0].match.model: unknown field 'model' (did you mean 'models'?)"]);
  t.same(check({ rules: [{ request: {} }], extra: true }), ["pipeline[0].transform.extra: unknown field 'extra'"]);
  t.same(check({ rules: [{ request: { headers: { add: {} } } }] }), ["pipeline[0].transform.rules[0].request.headers.add: unknown field 'add'"]);
});

t.test('rejects paths that could reach an object prototype', async (t) => {
  for (const path of ['__proto__', 'a.__proto__', '__proto__.polluted', 'constructor.prototype', 'a.prototype.b']) {
    t.not(check({ rules: [{ request: { remove: [path] } }] }), [], `remove ${path}`);
    t.not(check({ rules: [{ request: { set: { [path]: 1 } } }] }).length, 0, `set ${path}`);
    t.not(check({ rules: [{ response: { rename: { a: path } } }] }).length, 0, `rename to ${path}`);
  }
  // JSON.parse makes `__proto__` an own key, as the YAML parser does.
  const polluted = JSON.parse('{"rules":[{"request":{"default":{"__proto__":{"x":1}}}}]}') as unknown;
  t.not(check(polluted).length, 0, 'an own __proto__ key is refused');
  t.equal(({} as Record<string, unknown>)['x'], undefined);
});

t.test('rejects malformed dot paths', async (t) => {
  for (const path of ['', '.a', 'a.', 'a..b']) t.not(check({ rules: [{ request: { remove: [path] } }] }).length, 0, JSON.stringify(path));
  t.same(check({ rules: [{ request: { remove: ['proto', 'constructors', 'a.b.0.c'] } }] }), [], 'lookalike names are fine');
});

t.test('rejects wrong types and values', async (t) => {
  t.same(check({ rules: [{ match: { endpoints: ['chat'] }, request: {} }] }), [
    'pipeline[0].transform.rules[0].match.endpoints[0]: must be one of: chat.completions, completions, embeddings, images.generations, models.list, models.retrieve',
  ]);
  t.ok(
    check({ rules: [{ request: { system_prompt: { content: 'x', position: 'middle' } } }] }).includes(
      'pipeline[0].transform.rules[0].request.system_prompt.position: must be one of: prepend, append, replace',
    ),
  );
  t.not(check({ rules: [{ request: { system_prompt: { position: 'append' } } }] }).length, 0, 'system_prompt object needs content');
  t.not(check({ rules: [{ request: { remove: 'user' } }] }).length, 0, 'remove is a list');
  t.not(check({ rules: [{ response: { headers: { set: { a: { b: 1 } } } } }] }).length, 0, 'header values are strings');
  t.not(check({ rules: {} }).length, 0, 'rules is a list');
});

t.test('every property in the schema has a description', async (t) => {
  const missing: string[] = [];
  const walk = (node: unknown, path: string) => {
    if (!node || typeof node !== 'object') return;
    const n = node as Record<string, unknown>;
    if (n['properties']) {
      for (const [k, v] of Object.entries(n['properties'] as Record<string, Record<string, unknown>>)) {
        if (typeof v['description'] !== 'string') missing.push(`${path}.${k}`);
        walk(v, `${path}.${k}`);
      }
    }
    for (const key of ['items', 'additionalProperties']) walk(n[key], `${path}[]`);
    for (const key of ['anyOf', 'oneOf']) for (const [i, v] of ((n[key] as unknown[]) ?? []).entries()) walk(v, `${path}|${i}`);
  };
  walk(schema, 'transform');
  for (const [k, v] of Object.entries((schema as { definitions: Record<string, unknown> }).definitions)) walk(v, `#${k}`);
  t.same(missing, []);
});
