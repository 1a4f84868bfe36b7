import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderReference, replaceReferenceBlock, schemaSources, type SchemaNode } from '../../schemas/render-reference.js';

const readmeFile = fileURLToPath(new URL('../../README.md', import.meta.url));

/** JSON paths of every property (at any depth, in any branch or definition) without a description. */
function undescribed(node: SchemaNode, path: string): string[] {
  const out: string[] = [];
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    if (typeof child.description !== 'string' || child.description.trim() === '') out.push(`${path}.${key}`);
    out.push(...undescribed(child, `${path}.${key}`));
  }
  for (const [key, def] of Object.entries(node.definitions ?? {})) out.push(...undescribed(def, `${path}#${key}`));
  for (const [i, branch] of [...(node.anyOf ?? []), ...(node.oneOf ?? [])].entries()) out.push(...undescribed(branch, `${path}|${i}`));
  if (node.items) out.push(...undescribed(node.items, `${path}[]`));
  if (typeof node.additionalProperties === 'object') out.push(...undescribed(node.additionalProperties, `${path}.<name>`));
  return out;
}

t.test('every property in every config schema has a description', async (t) => {
  const sources = schemaSources();
  t.ok(sources.some((s) => s.file === 'schemas/gateway.schema.json'), 'the gateway schema is included');
  t.ok(sources.some((s) => s.file.startsWith('schemas/plugins/')), 'plugin schemas are included');
  t.ok(sources.some((s) => s.file.startsWith('schemas/providers/')), 'provider schemas are included');
  for (const source of sources) t.same(undescribed(source.schema, source.file), [], `${source.file}: fields without a description`);
});

t.test('the description check finds a missing description deep inside a branch', async (t) => {
  const schema: SchemaNode = { properties: { a: { description: 'ok', anyOf: [{ type: 'object', properties: { b: { type: 'string' } } }] } } };
  t.same(undescribed(schema, 'x'), ['x.a|0.b']);
});

t.test('the README configuration reference is up to date (run `npm run docs -- --write README.md`)', async (t) => {
  const readme = readFileSync(readmeFile, 'utf8');
  t.equal(replaceReferenceBlock(readme, renderReference()), readme);
});

t.test('renders types, defaults, maps, list items, $refs and union branches', async (t) => {
  const schema: SchemaNode = {
    description: 'A test schema.',
    definitions: { names: { type: 'array', items: { type: 'string' }, description: 'From the definition.' } },
    required: ['mode'],
    properties: {
      mode: { enum: ['a', 'b'], description: 'Pick one.' },
      wait: { type: ['string', 'integer'], format: 'duration', default: '5s', description: 'How long.' },
      url: { type: 'string', format: 'uri', description: 'Where.' },
      tags: { $ref: '#/definitions/names' },
      peers: { type: 'object', default: {}, description: 'By name.', additionalProperties: { type: 'object', properties: { port: { type: 'integer', default: 80, description: 'Port.' } } } },
      steps: { type: 'array', description: 'Steps.', items: { anyOf: [{ type: 'string' }, { type: 'object', properties: { run: { type: 'string', description: 'Command.' } } }] } },
    },
  };
  const md = renderReference([{ file: 'schemas/x.schema.json', heading: 'X', context: 'Somewhere.', schema }]);
  t.match(md, '### X');
  t.match(md, '| `mode` | `a` \\| `b` | **required** | Pick one. |');
  t.match(md, '| `wait` | duration | `5s` | How long. |');
  t.match(md, '| `url` | string (uri) |  | Where. |');
  t.match(md, '| `tags` | string[] |  | From the definition. |');
  t.match(md, '| `peers` | map of object | `{}` | By name. |');
  t.match(md, '#### `peers.<name>`');
  t.match(md, '| `peers.<name>.port` | integer | `80` | Port. |');
  t.match(md, '| `steps` | (string \\| object)[] |  | Steps. |');
  t.match(md, '| `steps[].run` | string |  | Command. |');
});

t.test('replacing the reference block keeps the text around the markers', async (t) => {
  const before = 'intro\n<!-- config-reference:start -->\nold\n<!-- config-reference:end -->\noutro\n';
  t.equal(replaceReferenceBlock(before, 'new'), 'intro\n<!-- config-reference:start -->\nnew\n<!-- config-reference:end -->\noutro\n');
  t.throws(() => replaceReferenceBlock('no markers here', 'new'), /config-reference:start/);
});
