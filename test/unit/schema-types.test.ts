/**
 * The config types cannot drift from the schemas: `schemas/types/` is exactly what the schemas
 * generate, and what the generated types call required is what ajv's `useDefaults` fills in.
 */
import t from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { validateAt } from '../../core/config/schema.js';
import { TYPES_DIR, TYPES_MARKER, renderType, renderTypes, staleTypes, typeSources, validatedShape, type TypeSource } from '../../schemas/render-types.js';

t.test('the generated config types in schemas/types/ are up to date (run `npm run types`)', async (t) => {
  const sources = typeSources();
  t.ok(sources.some((s) => s.out === `${TYPES_DIR}/gateway.d.ts` && s.name === 'GatewayConfig'), 'the gateway config');
  t.ok(sources.some((s) => s.out === `${TYPES_DIR}/plugins/ip-allowlist.d.ts` && s.name === 'IpAllowlistConfig'), 'a plugin');
  t.ok(sources.some((s) => s.out === `${TYPES_DIR}/providers/openai.d.ts` && s.name === 'OpenAIConfig'), 'a provider adapter');
  t.notOk(sources.some((s) => s.file.startsWith('schemas/api/')), 'not the OpenAI request schemas (their types come from the `openai` package)');
  t.same(staleTypes(await renderTypes(sources)), [], 'files that differ from what the schemas generate');
});

t.test('a types file is stale when its schema changes, missing, or generated for a schema that is gone', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'switchyard-types-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const sources = typeSources().filter((s) => s.file.startsWith('schemas/plugins/'));
  const rendered = await renderTypes(sources);
  for (const [file, text] of rendered) {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), text);
  }
  t.same(staleTypes(rendered, root), [], 'fresh files are not stale');

  const changed = sources.map((s): TypeSource =>
    s.file === 'schemas/plugins/cache.schema.json' ? { ...s, schema: { ...s.schema, properties: { ...s.schema.properties, brand_new: { type: 'string', description: 'A new field.' } } } } : s,
  );
  t.same(staleTypes(await renderTypes(changed), root), [`${TYPES_DIR}/plugins/cache.d.ts`], 'a new field makes its file stale');

  writeFileSync(join(root, TYPES_DIR, 'plugins/retired.d.ts'), `${TYPES_MARKER}\nexport interface RetiredConfig {}\n`);
  writeFileSync(join(root, TYPES_DIR, 'plugins/by-hand.d.ts'), 'export interface Mine {}\n');
  t.same(staleTypes(rendered, root), [`${TYPES_DIR}/plugins/retired.d.ts`], 'a generated file no schema produces is stale; a hand-written one is not');

  await rm(join(root, TYPES_DIR, 'plugins/route.d.ts'));
  t.ok(staleTypes(rendered, root).includes(`${TYPES_DIR}/plugins/route.d.ts`), 'a missing file is stale');
});

t.test('a field with a default is required in the type, as ajv fills it; inside anyOf it stays optional, as ajv leaves it', async (t) => {
  const schema = {
    type: 'object',
    additionalProperties: false,
    properties: {
      ttl: { type: 'string', default: '10m', description: 'Filled.' },
      note: { type: 'string', description: 'No default.' },
      nested: { type: 'object', additionalProperties: false, default: {}, description: 'Filled, and so is its field.', properties: { size: { type: 'integer', default: 3, description: 'Filled.' } } },
      target: {
        description: 'A string or an object.',
        anyOf: [{ type: 'string' }, { type: 'object', additionalProperties: false, required: ['url'], properties: { url: { type: 'string', description: 'Where.' }, pool: { type: 'integer', default: 10, description: 'Not filled.' } } }],
      },
    },
  };
  const value: Record<string, unknown> = { target: { url: 'x' } };
  t.same(validateAt(schema, value, []), []);
  t.same(value, { target: { url: 'x' }, ttl: '10m', nested: { size: 3 } }, 'what ajv fills in');

  const text = await renderType({ file: 'schemas/plugins/x.schema.json', name: 'XConfig', schema });
  t.match(text, /^ {2}ttl: string;$/m, 'a defaulted field is required');
  t.match(text, /^ {2}note\?: string;$/m, 'a field without a default is optional');
  t.match(text, /^ {2}nested: \{\n {4}\/\*\*[^]*?\*\/\n {4}size: number;/m, 'defaults apply inside a defaulted object');
  t.match(text, /^\s+pool\?: number;$/m, 'a default inside an anyOf branch leaves the field optional');
  t.match(text, /^\s+url: string;$/m, 'a required field inside a branch is required');
});

t.test('definitions become one named type each; refused fields and constraint-only branches leave no trace', async (t) => {
  const schema = {
    type: 'object',
    additionalProperties: false,
    definitions: { scope: { enum: ['read', 'write'], description: 'A scope.' } },
    anyOf: [{ required: ['read'] }, { required: ['write'] }],
    properties: {
      read: { type: 'array', items: { $ref: '#/definitions/scope' }, description: 'For reads.' },
      write: { type: 'array', items: { $ref: '#/definitions/scope' }, default: ['write'], description: 'For writes.' },
      budget: { type: 'integer', 'x-unsupported': 'not yet', description: 'Refused.' },
    },
  };
  const text = await renderType({ file: 'schemas/plugins/x.schema.json', name: 'XConfig', schema });
  t.match(text, "export type Scope = 'read' | 'write';");
  t.match(text, /^export interface XConfig \{$/m, 'a plain interface, not an intersection with the anyOf branches');
  t.match(text, /^ {2}read\?: Scope\[\];$/m);
  t.match(text, /^ {2}write: Scope\[\];$/m);
  t.notMatch(text, 'budget', 'a field any value of which is refused is not in the type');
  t.notMatch(text, 'Scope1', 'one type per definition');
  t.same(Object.keys(schema.properties), ['read', 'write', 'budget'], 'the schema itself is left as it was');
});

t.test('a definition with defaults used inside a branch is refused: ajv would not fill it there', async (t) => {
  const schema = {
    type: 'object',
    definitions: { opts: { type: 'object', properties: { n: { type: 'integer', default: 1 } } } },
    properties: { x: { anyOf: [{ type: 'string' }, { $ref: '#/definitions/opts' }] } },
  };
  t.throws(() => validatedShape(schema, 'XConfig'), /#\/definitions\/opts has defaults but is used inside a branch/);
});

type Shape = Record<string, unknown>;

/**
 * Where the generated type and ajv disagree, object by object: a field the type requires that ajv
 * left out, or one ajv filled in that the type calls optional. `before` is the config as written,
 * `after` as validated. Named definitions are followed by their name.
 */
function requiredMismatches(root: Shape, node: Shape, before: unknown, after: unknown, path: string): string[] {
  const definitions = Object.values((root['definitions'] as Record<string, Shape> | undefined) ?? {});
  const shape = typeof node['tsType'] === 'string' ? (definitions.find((d) => d['title'] === node['tsType']) ?? node) : node;
  if (typeof after !== 'object' || after === null) return [];
  const was = (key: string | number): unknown => (typeof before === 'object' && before !== null ? (before as Record<string | number, unknown>)[key] : undefined);
  if (Array.isArray(after)) return typeof shape['items'] === 'object' ? after.flatMap((v, i) => requiredMismatches(root, shape['items'] as Shape, was(i), v, `${path}[${i}]`)) : [];
  const properties = (shape['properties'] as Record<string, Shape> | undefined) ?? {};
  const required = new Set((shape['required'] as string[] | undefined) ?? []);
  const out: string[] = [];
  for (const key of required) if (!(key in after)) out.push(`${path}.${key}: required by the type, left out by ajv`);
  for (const key of Object.keys(after)) if (key in properties && was(key) === undefined && !required.has(key)) out.push(`${path}.${key}: filled in by ajv, optional in the type`);
  const extra = typeof shape['additionalProperties'] === 'object' ? (shape['additionalProperties'] as Shape) : undefined;
  for (const [key, v] of Object.entries(after)) {
    const child = properties[key] ?? extra;
    if (child) out.push(...requiredMismatches(root, child, was(key), v, `${path}.${key}`));
  }
  return out;
}

t.test('for every config schema, the fields the type requires are exactly those a minimal config has after validation', async (t) => {
  const minimal: Record<string, unknown> = {
    'schemas/gateway.schema.json': { version: 1 },
    'schemas/catalog.schema.json': { provider: 'p', models: { m: {} } },
    'schemas/plugins/transform.schema.json': { rules: [{ request: {} }] },
    'schemas/providers/gigachat.schema.json': { credentials: 'c' },
  };
  for (const source of typeSources()) {
    const before = minimal[source.file] ?? {};
    const after = structuredClone(before);
    t.same(validateAt(source.schema, after, []), [], `${source.file}: the minimal config is valid`);
    const shape = validatedShape(source.schema, source.name) as Shape;
    t.same(requiredMismatches(shape, shape, before, after, ''), [], source.file);
  }
});
