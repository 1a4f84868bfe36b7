/**
 * Generates the TypeScript types of the config schemas (`json-schema-to-typescript`), so code and
 * schema cannot disagree: a plugin's or adapter's config type is what its schema says, not a
 * hand-kept twin.
 *
 *   tsx schemas/render-types.ts           (`npm run types`) write schemas/types/**\/*.d.ts
 *   tsx schemas/render-types.ts --check   (`npm run types -- --check`) exit 1 when a file is stale
 *
 * One `.d.ts` per config schema, mirroring `schemas/`: `schemas/plugins/auth.schema.json` →
 * `schemas/types/plugins/auth.d.ts` with `AuthConfig`. Code imports them type-only
 * (`import type { AuthConfig } from '../../schemas/types/plugins/auth.js'`), so nothing of this
 * exists at run time.
 *
 * The types describe a config *as validated*: ajv runs with `useDefaults`, so a property that has a
 * `default` is always present afterwards and is required in the type. ajv ignores defaults inside
 * `anyOf` / `oneOf` / `not` / `if`, so there they stay optional, as they are at run time. A
 * `#/definitions/x` becomes one named type `X`; a field marked `x-unsupported` is left out (any
 * value is refused); cross-field rules (`anyOf` of `required` lists) stay ajv's business.
 */
import { compile, type JSONSchema } from 'json-schema-to-typescript';
import { existsSync, mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Every generated file starts with this line; `npm run types` replaces or removes only such files. */
export const TYPES_MARKER = '// Generated from schemas/ by `npm run types`; do not edit by hand.';

/** Where the types go, relative to the package root. */
export const TYPES_DIR = 'schemas/types';

const schemasDir = dirname(fileURLToPath(import.meta.url));
const packageDir = dirname(schemasDir);

/** One schema and the type generated from it. */
export interface TypeSource {
  /** Path relative to the package root, e.g. `schemas/plugins/auth.schema.json`. */
  file: string;
  /** Output path relative to the package root, e.g. `schemas/types/plugins/auth.d.ts`. */
  out: string;
  /** Name of the root type, e.g. `AuthConfig`. */
  name: string;
  schema: JSONSchema;
}

/** Names that PascalCase alone would spell differently from how the code (and the vendor) writes them. */
const NAME_EXCEPTIONS: Readonly<Record<string, string>> = { openai: 'OpenAI', gigachat: 'GigaChat' };

function pascal(name: string): string {
  return NAME_EXCEPTIONS[name] ?? name.replace(/(^|[-_\s]+)(\w)/g, (_, _sep: string, c: string) => c.toUpperCase());
}

/** The config schemas (the request schemas in `schemas/api/` describe OpenAI's API, whose types come from the `openai` package). */
export function typeSources(dir: string = schemasDir): TypeSource[] {
  const read = (rel: string): JSONSchema => JSON.parse(readFileSync(join(dir, rel), 'utf8')) as JSONSchema;
  const listed = (sub: string): string[] =>
    readdirSync(join(dir, sub))
      .filter((n) => n.endsWith('.schema.json'))
      .sort();
  const source = (rel: string, name: string): TypeSource => ({
    file: `schemas/${rel}`,
    out: `${TYPES_DIR}/${rel.replace(/\.schema\.json$/, '.d.ts')}`,
    name,
    schema: read(rel),
  });
  return [
    source('gateway.schema.json', 'GatewayConfig'),
    source('catalog.schema.json', 'CatalogFile'),
    ...['plugins', 'providers'].flatMap((sub) => listed(sub).map((f) => source(`${sub}/${f}`, `${pascal(basename(f, '.schema.json'))}Config`))),
  ];
}

/** Every generated file's text by its path relative to the package root. */
export async function renderTypes(sources: TypeSource[] = typeSources()): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const s of sources) out.set(s.out, await renderType(s));
  return out;
}

/** The `.d.ts` text for one schema. */
export async function renderType(source: { file: string; name: string; schema: object }): Promise<string> {
  const code = await compile(validatedShape(source.schema, source.name), source.name, {
    bannerComment: `${TYPES_MARKER}\n// Source: ${source.file}. Defaults applied: a property with a \`default\` is always present.`,
    additionalProperties: true,
    ignoreMinAndMaxItems: true,
    unreachableDefinitions: true,
    strictIndexSignatures: false,
    unknownAny: true,
    format: true,
    style: { singleQuote: true, printWidth: 140, trailingComma: 'all' },
  });
  return code.endsWith('\n') ? code : `${code}\n`;
}

type Node = Record<string, unknown>;

const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Branch keywords under which ajv applies no defaults. */
const BRANCHES = ['anyOf', 'oneOf', 'allOf', 'not', 'if', 'then', 'else'] as const;

/**
 * A copy of `schema` as json-schema-to-typescript should see it to type the validated config:
 * defaulted properties required, `$ref`s as named types, refused fields and constraint-only branches
 * gone. The schema files themselves are not changed (the reference and ajv read them as they are).
 */
export function validatedShape(schema: object, name: string): JSONSchema {
  const root = structuredClone(schema) as Node;
  root['title'] = name;
  const definitions = isNode(root['definitions']) ? (root['definitions'] as Record<string, Node>) : {};
  const definitionName = (ref: string): string => {
    const key = /^#\/definitions\/(.+)$/.exec(ref)?.[1];
    if (key === undefined || !definitions[key]) throw new Error(`render-types: ${name}: cannot resolve $ref ${ref}`);
    return pascal(key);
  };
  const hasDefaults = (node: unknown, seen = new Set<unknown>()): boolean => {
    if (!isNode(node) || seen.has(node)) return false;
    seen.add(node);
    if (typeof node['$ref'] === 'string') return hasDefaults(definitions[/^#\/definitions\/(.+)$/.exec(node['$ref'])?.[1] ?? ''], seen);
    const props = isNode(node['properties']) ? Object.values(node['properties']) : [];
    if (props.some((p) => isNode(p) && 'default' in p)) return true;
    return [...props, node['items'], node['additionalProperties'], ...BRANCHES.flatMap((k) => node[k] ?? [])].some((c) => hasDefaults(c, seen));
  };

  /** `applied`: ajv fills defaults here (not inside a branch). */
  const visit = (node: unknown, applied: boolean): void => {
    if (!isNode(node)) return;
    if (typeof node['$ref'] === 'string') {
      if (!applied && hasDefaults(node)) throw new Error(`render-types: ${name}: ${node['$ref']} has defaults but is used inside a branch, where ajv applies none; inline it there`);
      node['tsType'] = definitionName(node['$ref']);
      delete node['$ref'];
    }
    const props = isNode(node['properties']) ? (node['properties'] as Record<string, Node>) : undefined;
    if (props) {
      const required = new Set(Array.isArray(node['required']) ? (node['required'] as string[]) : []);
      for (const [key, prop] of Object.entries(props)) {
        if ('x-unsupported' in prop) {
          delete props[key];
          required.delete(key);
          continue;
        }
        if (applied && 'default' in prop) required.add(key);
        visit(prop, applied);
      }
      if (required.size > 0) node['required'] = [...required];
    }
    if (Array.isArray(node['items'])) for (const item of node['items']) visit(item, applied);
    else visit(node['items'], applied);
    visit(node['additionalProperties'], applied);
    for (const key of ['anyOf', 'oneOf'] as const) {
      const branches = node[key];
      if (!Array.isArray(branches)) continue;
      // `anyOf: [{ required: [a] }, { required: [b] }]` says "a or b", which a type cannot say without losing the fields' types.
      if (branches.every((b) => isNode(b) && Object.keys(b).every((k) => k === 'required' || k === 'not' || k === 'description'))) delete node[key];
      else for (const b of branches) visit(b, false);
    }
    for (const key of ['allOf', 'not', 'if', 'then', 'else'] as const) {
      const v = node[key];
      if (Array.isArray(v)) for (const b of v) visit(b, false);
      else visit(v, false);
    }
  };

  for (const [key, def] of Object.entries(definitions)) {
    def['title'] = pascal(key);
    visit(def, true);
  }
  const { definitions: _definitions, ...rest } = root;
  visit(rest, true);
  return { ...rest, definitions } as JSONSchema;
}

/** How the files on disk differ from `rendered`: files missing or stale, and generated files no schema produces any more. */
export function staleTypes(rendered: Map<string, string>, root: string = packageDir): string[] {
  const stale = [...rendered].filter(([file, text]) => !existsSync(join(root, file)) || readFileSync(join(root, file), 'utf8') !== text).map(([file]) => file);
  const dir = join(root, TYPES_DIR);
  const orphaned = existsSync(dir)
    ? readdirSync(dir, { recursive: true, encoding: 'utf8' })
        .map((f) => `${TYPES_DIR}/${f.split('\\').join('/')}`)
        .filter((file) => file.endsWith('.d.ts') && !rendered.has(file) && readFileSync(join(root, file), 'utf8').startsWith(TYPES_MARKER))
    : [];
  return [...stale, ...orphaned.sort()];
}

async function main(argv: string[]): Promise<number> {
  if (argv.length > 1 || (argv.length === 1 && argv[0] !== '--check')) {
    process.stderr.write('Usage: render-types.ts [--check]\n  writes schemas/types/**/*.d.ts from the config schemas; with --check, exits 1 when they are stale instead\n');
    return 2;
  }
  const rendered = await renderTypes();
  const stale = staleTypes(rendered);
  if (argv[0] === '--check') {
    if (stale.length === 0) return 0;
    process.stderr.write(`The generated config types are stale (${stale.join(', ')}); run \`npm run types\`.\n`);
    return 1;
  }
  for (const file of stale) {
    const text = rendered.get(file);
    if (text === undefined) unlinkSync(join(packageDir, file));
    else {
      mkdirSync(dirname(join(packageDir, file)), { recursive: true });
      writeFileSync(join(packageDir, file), text);
    }
    process.stdout.write(`${text === undefined ? 'removed' : 'wrote'} ${file}\n`);
  }
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = await main(process.argv.slice(2));
