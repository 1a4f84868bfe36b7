/**
 * Renders the configuration reference (Markdown) from the JSON Schemas, one page per group of
 * schemas under `docs/reference/`, so the docs can never describe a field the schemas do not have,
 * or miss one they do.
 *
 *   tsx schemas/render-reference.ts           (`npm run docs`) write the pages
 *   tsx schemas/render-reference.ts --check   (`npm run docs -- --check`) exit 1 when a page is stale
 *
 * Pages: the gateway config file, the plugins, the provider adapters, the model catalog. On a page,
 * one section per schema and, inside it, one table per object level. Paths are dotted; `<name>`
 * stands for a key of a map (`additionalProperties`) and `[]` for an array item.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, posix } from 'node:path';
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

/** The reference pages, one per group of schemas. */
export type ReferenceGroup = 'gateway' | 'plugins' | 'providers' | 'catalog';

/** One schema file and how its section is introduced. */
export interface SchemaSource {
  /** Path relative to the package root, e.g. `schemas/plugins/route.schema.json`. */
  file: string;
  /** The page it is rendered on. */
  group: ReferenceGroup;
  heading: string;
  /** Where in a gateway config these fields are written. */
  context: string;
  schema: SchemaNode;
}

/** One generated page. */
export interface ReferencePage {
  /** Path relative to the package root, e.g. `docs/reference/plugins.md`. */
  file: string;
  group: ReferenceGroup;
  title: string;
  /** What the page covers, one sentence. */
  summary: string;
  /** The schema files it is generated from, as written in its header. */
  from: string;
}

/** Every generated page starts with this line; `npm run docs` replaces or removes only such files. */
export const GENERATED_MARKER = '<!-- Generated from schemas/ by `npm run docs`; do not edit by hand. -->';

/** Where the pages go, relative to the package root. */
export const REFERENCE_DIR = 'docs/reference';

export const REFERENCE_PAGES: readonly ReferencePage[] = [
  { file: `${REFERENCE_DIR}/gateway.md`, group: 'gateway', title: 'Gateway config file', summary: 'The top level of `gateway.yaml`: server, logging, upstream timeouts, stores, providers, models, pipeline and raw proxy routes.', from: '`schemas/gateway.schema.json`' },
  { file: `${REFERENCE_DIR}/plugins.md`, group: 'plugins', title: 'Plugins', summary: 'The `config` of each built-in plugin in a `pipeline:`.', from: '`schemas/plugins/*.schema.json`' },
  { file: `${REFERENCE_DIR}/providers.md`, group: 'providers', title: 'Provider adapters', summary: 'The settings of each provider adapter in `providers.<name>`.', from: '`schemas/providers/*.schema.json`' },
  { file: `${REFERENCE_DIR}/catalog.md`, group: 'catalog', title: 'Model catalog file', summary: 'The model catalog files (`config/catalog/*.yaml` and your own `catalog:` directories).', from: '`schemas/catalog.schema.json`' },
];

const schemasDir = dirname(fileURLToPath(import.meta.url));
/** The package root: where `docs/` and `schemas/` live. */
export const packageDir = dirname(schemasDir);

/** The config schemas in reference order; the request schemas in `schemas/api/` describe OpenAI's API, not config. */
export function schemaSources(dir: string = schemasDir): SchemaSource[] {
  const read = (rel: string): SchemaNode => JSON.parse(readFileSync(join(dir, rel), 'utf8')) as SchemaNode;
  const listed = (sub: string): string[] =>
    readdirSync(join(dir, sub))
      .filter((n) => n.endsWith('.schema.json'))
      .sort();
  const nameOf = (file: string): string => basename(file, '.schema.json');
  return [
    { file: 'schemas/gateway.schema.json', group: 'gateway', heading: 'Gateway config file', context: 'The top level of `gateway.yaml`.', schema: read('gateway.schema.json') },
    ...listed('plugins').map((f): SchemaSource => ({
      file: `schemas/plugins/${f}`,
      group: 'plugins',
      heading: `Plugin \`${nameOf(f)}\``,
      context: `A \`pipeline:\` entry: \`- ${nameOf(f)}: {…}\`. Paths below are relative to that mapping.`,
      schema: read(`plugins/${f}`),
    })),
    ...listed('providers').map((f): SchemaSource => ({
      file: `schemas/providers/${f}`,
      group: 'providers',
      heading: `Provider adapter \`${nameOf(f)}\``,
      context: `Fields beside \`adapter: ${nameOf(f)}\` in \`providers.<name>\`. Paths below are relative to that mapping.`,
      schema: read(`providers/${f}`),
    })),
    { file: 'schemas/catalog.schema.json', group: 'catalog', heading: 'Model catalog file', context: 'Each `*.yaml` in `config/catalog/` or in a directory listed in `catalog:`.', schema: read('catalog.schema.json') },
  ];
}

/** Every page's text by its path relative to the package root. */
export function renderPages(sources: SchemaSource[] = schemaSources(), pages: readonly ReferencePage[] = REFERENCE_PAGES): Map<string, string> {
  return new Map(pages.map((page) => [page.file, renderPage(page, sources.filter((s) => s.group === page.group))]));
}

/** One page: the generated-file header, how to read the tables, links to the other pages, then a section per schema. */
export function renderPage(page: ReferencePage, sources: SchemaSource[], pages: readonly ReferencePage[] = REFERENCE_PAGES): string {
  const header = [
    GENERATED_MARKER,
    `# Configuration reference: ${page.title.toLowerCase()}`,
    `> Generated from ${page.from} by \`npm run docs\`; do not edit by hand. \`npm run docs -- --check\` exits 1 when this page is stale.`,
    [
      page.summary,
      'A `duration` is a number of milliseconds or a string such as `500ms`, `30s`, `10m`, `1h`;',
      'a `byte-size` is a number of bytes or a string such as `512kb`, `4mb`, `1gb`.',
      '`<name>` stands for a key you choose, `[]` for an item of a list.',
    ].join('\n'),
    `Reference pages: ${pages.map((p) => (p.file === page.file ? `**${p.title}**` : `[${p.title}](${posix.relative(posix.dirname(page.file), p.file)})`)).join(' · ')}. Guides: [README](${posix.relative(posix.dirname(page.file), 'README.md')}), [docs](${posix.relative(posix.dirname(page.file), 'docs/README.md')}).`,
  ];
  if (sources.length > 1) header.push(sources.map((s) => `- [${s.heading}](#${headingAnchor(s.heading)})`).join('\n'));
  return `${[...header, ...sources.map((s) => renderSection(s, posix.dirname(page.file)))].join('\n\n')}\n`;
}

/** One schema's section: `##` heading, description, then a table per object level under `###` headings. */
export function renderSection(source: SchemaSource, pageDir: string = REFERENCE_DIR): string {
  const { schema } = source;
  const link = `Schema: [\`${source.file}\`](${posix.relative(pageDir, source.file)}).`;
  const parts = [`## ${source.heading}`, [schema.description, source.context, link].filter(Boolean).join('\n\n')];
  for (const level of objectLevels(schema, schema, '')) {
    if (level.path) parts.push(`### \`${level.path}\``);
    parts.push(renderTable(schema, level));
  }
  return parts.join('\n\n');
}

/**
 * The anchor GitHub gives a Markdown heading (before de-duplication, which appends `-1`, `-2` …):
 * lower case, everything but letters, digits, `_`, `-` and spaces dropped, spaces made `-`.
 */
export function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
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

/** How the pages on disk differ from `rendered`: files missing or stale, and generated files no page produces any more. */
export function stalePages(rendered: Map<string, string>, root: string = packageDir): string[] {
  const stale = [...rendered].filter(([file, text]) => !existsSync(join(root, file)) || readFileSync(join(root, file), 'utf8') !== text).map(([file]) => file);
  return [...stale, ...orphanedPages(rendered, root)];
}

/** Files in the reference directory that carry the generated marker but that no page produces. */
function orphanedPages(rendered: Map<string, string>, root: string): string[] {
  const dir = join(root, REFERENCE_DIR);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith('.md'))
    .map((name) => `${REFERENCE_DIR}/${name}`)
    .filter((file) => !rendered.has(file) && readFileSync(join(root, file), 'utf8').startsWith(GENERATED_MARKER));
}

function main(argv: string[]): number {
  if (argv.length > 1 || (argv.length === 1 && argv[0] !== '--check')) {
    process.stderr.write('Usage: render-reference.ts [--check]\n  writes docs/reference/*.md from schemas/; with --check, exits 1 when they are stale instead\n');
    return 2;
  }
  const rendered = renderPages();
  const stale = stalePages(rendered);
  if (argv[0] === '--check') {
    if (stale.length === 0) return 0;
    process.stderr.write(`The configuration reference is stale (${stale.join(', ')}); run \`npm run docs\`.\n`);
    return 1;
  }
  mkdirSync(join(packageDir, REFERENCE_DIR), { recursive: true });
  for (const file of stale) {
    const text = rendered.get(file);
    if (text === undefined) unlinkSync(join(packageDir, file));
    else writeFileSync(join(packageDir, file), text);
    process.stdout.write(`${text === undefined ? 'removed' : 'wrote'} ${file}\n`);
  }
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = main(process.argv.slice(2));
