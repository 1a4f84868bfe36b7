/**
 * Renders the configuration reference (Markdown) from the JSON Schemas, so the README can never
 * describe a field the schemas do not have, or miss one they do.
 *
 *   tsx schemas/render-reference.ts                    print the reference
 *   tsx schemas/render-reference.ts --write README.md  replace the block between the markers
 *   tsx schemas/render-reference.ts --check README.md  exit 1 when that block is stale
 *
 * One section per schema (gateway, each plugin, each provider adapter, the catalog) and, inside it,
 * one table per object level. Paths are dotted; `<name>` stands for a key of a map
 * (`additionalProperties`) and `[]` for an array item.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The subset of JSON Schema the config schemas use. */
export interface SchemaNode {
  title?: string;
  description?: string;
  type?: string | string[];
  format?: string;
  const?: unknown;
  enum?: unknown[];
  default?: unknown;
  properties?: Record<string, SchemaNode>;
  required?: string[];
  additionalProperties?: boolean | SchemaNode;
  items?: SchemaNode;
  anyOf?: SchemaNode[];
  oneOf?: SchemaNode[];
  definitions?: Record<string, SchemaNode>;
  $ref?: string;
}

/** One schema file and how its section is introduced. */
export interface SchemaSource {
  /** Path relative to the package root, e.g. `schemas/plugins/route.schema.json`. */
  file: string;
  heading: string;
  /** Where in a gateway config these fields are written. */
  context: string;
  schema: SchemaNode;
}

export const START_MARKER = '<!-- config-reference:start -->';
export const END_MARKER = '<!-- config-reference:end -->';

const schemasDir = dirname(fileURLToPath(import.meta.url));

/** The config schemas in reference order; the request schemas in `schemas/api/` describe OpenAI's API, not config. */
export function schemaSources(dir: string = schemasDir): SchemaSource[] {
  const read = (rel: string): SchemaNode => JSON.parse(readFileSync(join(dir, rel), 'utf8')) as SchemaNode;
  const listed = (sub: string): string[] =>
    readdirSync(join(dir, sub))
      .filter((n) => n.endsWith('.schema.json'))
      .sort();
  const nameOf = (file: string): string => basename(file, '.schema.json');
  return [
    { file: 'schemas/gateway.schema.json', heading: 'Gateway config file', context: 'The top level of `gateway.yaml`.', schema: read('gateway.schema.json') },
    ...listed('plugins').map((f) => ({
      file: `schemas/plugins/${f}`,
      heading: `Plugin \`${nameOf(f)}\``,
      context: `A \`pipeline:\` entry: \`- ${nameOf(f)}: {…}\`. Paths below are relative to that mapping.`,
      schema: read(`plugins/${f}`),
    })),
    ...listed('providers').map((f) => ({
      file: `schemas/providers/${f}`,
      heading: `Provider adapter \`${nameOf(f)}\``,
      context: `Fields beside \`adapter: ${nameOf(f)}\` in \`providers.<name>\`. Paths below are relative to that mapping.`,
      schema: read(`providers/${f}`),
    })),
    { file: 'schemas/catalog.schema.json', heading: 'Model catalog file', context: 'Each `*.yaml` in `config/catalog/` or in a directory listed in `catalog:`.', schema: read('catalog.schema.json') },
  ];
}

/** The whole reference, as placed between the README markers. */
export function renderReference(sources: SchemaSource[] = schemaSources()): string {
  const intro = [
    'Generated from `schemas/` by `npm run docs -- --write README.md`; do not edit by hand.',
    'A `duration` is a number of milliseconds or a string such as `500ms`, `30s`, `10m`, `1h`;',
    'a `byte-size` is a number of bytes or a string such as `512kb`, `4mb`, `1gb`.',
    '`<name>` stands for a key you choose, `[]` for an item of a list.',
  ].join('\n');
  return [intro, ...sources.map(renderSection)].join('\n\n');
}

function renderSection(source: SchemaSource): string {
  const { schema } = source;
  const parts = [`### ${source.heading}`, [schema.description, source.context, `Schema: \`${source.file}\`.`].filter(Boolean).join('\n\n')];
  for (const level of objectLevels(schema, schema, '')) {
    if (level.path) parts.push(`#### \`${level.path}\``);
    parts.push(renderTable(schema, level));
  }
  return parts.join('\n\n');
}

interface ObjectLevel {
  /** Dotted path of the object; '' for the schema's root. */
  path: string;
  node: SchemaNode;
}

/** Every object with its own `properties`, depth first, parents before children. */
function objectLevels(root: SchemaNode, node: SchemaNode, path: string): ObjectLevel[] {
  const resolved = resolveRef(root, node);
  const levels: ObjectLevel[] = [];
  if (resolved.properties && Object.keys(resolved.properties).length > 0) {
    levels.push({ path, node: resolved });
    for (const [key, child] of Object.entries(resolved.properties)) levels.push(...objectLevels(root, child, childPath(path, key)));
  }
  for (const branch of [...(resolved.anyOf ?? []), ...(resolved.oneOf ?? [])]) levels.push(...objectLevels(root, branch, path));
  if (resolved.items) levels.push(...objectLevels(root, resolved.items, `${path}[]`));
  if (typeof resolved.additionalProperties === 'object') levels.push(...objectLevels(root, resolved.additionalProperties, childPath(path, '<name>')));
  return levels;
}

function childPath(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function renderTable(root: SchemaNode, level: ObjectLevel): string {
  const required = new Set(level.node.required ?? []);
  const rows = Object.entries(level.node.properties ?? {}).map(([key, raw]) => {
    const node = resolveRef(root, raw);
    const def = required.has(key) ? '**required**' : node.default === undefined ? '' : code(formatValue(node.default));
    return [code(childPath(level.path, key)), typeOf(root, node), def, node.description ?? ''];
  });
  return [['Field', 'Type', 'Default', 'Description'], ['---', '---', '---', '---'], ...rows].map((cells) => `| ${cells.map(cell).join(' | ')} |`).join('\n');
}

/** A `$ref` to `#/definitions/x` merged with its siblings (a sibling `description` wins). */
function resolveRef(root: SchemaNode, node: SchemaNode): SchemaNode {
  if (!node.$ref) return node;
  const name = /^#\/definitions\/(.+)$/.exec(node.$ref)?.[1];
  const target = name ? root.definitions?.[name] : undefined;
  if (!target) throw new Error(`render-reference: cannot resolve $ref ${node.$ref}`);
  const { $ref: _ref, ...siblings } = node;
  return { ...resolveRef(root, target), ...siblings };
}

/** A short human type: `duration`, `string (uri)`, `` `a` \| `b` ``, `string[]`, `map of string`. */
function typeOf(root: SchemaNode, raw: SchemaNode): string {
  const node = resolveRef(root, raw);
  if (node.const !== undefined) return code(formatValue(node.const));
  if (node.enum) return node.enum.map((v) => code(formatValue(v))).join(' | ');
  const branches = [...(node.anyOf ?? []), ...(node.oneOf ?? [])].filter((b) => b.type || b.enum || b.const !== undefined || b.$ref);
  if (branches.length) return [...new Set(branches.map((b) => typeOf(root, b)))].join(' | ');
  if (node.format === 'duration' || node.format === 'byte-size') return node.format;
  const types = Array.isArray(node.type) ? node.type : node.type ? [node.type] : [];
  if (types.length === 0) return 'any';
  return types
    .map((t) => {
      if (t === 'array') return node.items ? `${group(typeOf(root, node.items))}[]` : 'array';
      if (t === 'object' && typeof node.additionalProperties === 'object' && !node.properties) return `map of ${group(typeOf(root, node.additionalProperties))}`;
      return node.format && t === 'string' ? `string (${node.format})` : t;
    })
    .join(' | ');
}

function group(type: string): string {
  return type.includes(' | ') ? `(${type})` : type;
}

function formatValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function code(text: string): string {
  return text.includes('`') ? `\`\` ${text} \`\`` : `\`${text}\``;
}

/** A table cell: one line, pipes escaped (GFM honours `\|` inside code spans in tables too). */
function cell(text: string): string {
  return text.replace(/\r?\n/g, ' ').replace(/(?<!\\)\|/g, '\\|');
}

/** `text` with the reference block replaced; throws when the markers are missing or out of order. */
export function replaceReferenceBlock(text: string, reference: string): string {
  const start = text.indexOf(START_MARKER);
  const end = text.indexOf(END_MARKER);
  if (start < 0 || end < start) throw new Error(`expected ${START_MARKER} … ${END_MARKER} in the file`);
  return `${text.slice(0, start + START_MARKER.length)}\n${reference}\n${text.slice(end)}`;
}

function main(argv: string[]): number {
  const [mode, file] = argv;
  const reference = renderReference();
  if (mode === undefined) {
    process.stdout.write(`${reference}\n`);
    return 0;
  }
  if ((mode !== '--write' && mode !== '--check') || !file) {
    process.stderr.write('Usage: render-reference.ts [--write FILE | --check FILE]\n');
    return 2;
  }
  let text: string;
  let updated: string;
  try {
    text = readFileSync(file, 'utf8');
    updated = replaceReferenceBlock(text, reference);
  } catch (err) {
    process.stderr.write(`${file}: ${(err as Error).message}\n`);
    return 2;
  }
  if (mode === '--check') {
    if (updated === text) return 0;
    process.stderr.write(`${file}: the configuration reference is stale; run \`npm run docs -- --write ${file}\`\n`);
    return 1;
  }
  if (updated !== text) writeFileSync(file, updated);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = main(process.argv.slice(2));
