/**
 * One ajv instance for every schema the gateway knows (gateway, plugins, providers, catalog).
 * Defaults written in a schema are applied to the config (`useDefaults`), so a schema is the single
 * place a default lives, and the README reference generated from the schemas shows it. The config
 * types generated from them (`schemas/types/`, `npm run types`) count a defaulted field as present.
 */
import { Ajv, type ErrorObject, type KeywordDefinition, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBytes, parseDuration } from './units.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/**
 * `"x-unsupported": "why"` on a property: any value given there is refused with that message. For
 * a documented field whose feature has not landed yet, so a config or admin request never seems
 * to get what it asked for.
 */
export const unsupportedKeyword: KeywordDefinition = {
  keyword: 'x-unsupported',
  schemaType: 'string',
  errors: true,
  validate: function refuse(message: string): boolean {
    (refuse as { errors?: Partial<ErrorObject>[] }).errors = [{ keyword: 'x-unsupported', message, params: {} }];
    return false;
  },
};

// `verbose` gives errors their schema, so an unknown field can be matched against the known ones.
const ajv = new Ajv({ allErrors: true, useDefaults: true, coerceTypes: true, strict: false, allowUnionTypes: true, verbose: true });
addFormats(ajv);
ajv.addKeyword(unsupportedKeyword);
ajv.addFormat('byte-size', { type: 'string', validate: (v: string) => parseBytes(v) !== undefined });
ajv.addFormat('duration', { type: 'string', validate: (v: string) => parseDuration(v) !== undefined });

const compiled = new WeakMap<object, ValidateFunction>();

/** Compiles (once per schema object) and returns a validator. */
export function validatorFor(schema: object): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    // A fresh copy of a schema with an `$id` (readSchema called twice, a custom plugin re-imported on
    // reload) would make ajv throw "already exists"; the newer copy replaces the registered one.
    ajv.removeSchema(schema);
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  return validate;
}

/** A config problem at a JSON path inside the document (`['pipeline', 2, 'transform', 'rules']`). */
export interface ConfigIssue {
  path: (string | number)[];
  message: string;
}

const CONFIG_ERROR = Symbol.for('switchyard.ConfigError');

/** Thrown by `create()` of a plugin or adapter for a config problem ajv cannot express. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** Recognised across copies of this module, as a custom plugin compiled on its own has (see GatewayError). */
  readonly [CONFIG_ERROR] = true;

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== ConfigError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as { [CONFIG_ERROR]?: unknown })[CONFIG_ERROR] === true;
  }

  constructor(
    readonly issues: ConfigIssue[],
  ) {
    super(issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('; '));
  }
  static at(path: (string | number)[], message: string): ConfigError {
    return new ConfigError([{ path, message }]);
  }
}

/** Validates `value` (in place: defaults applied, types coerced) and returns issues under `basePath`. */
export function validateAt(schema: object, value: unknown, basePath: (string | number)[]): ConfigIssue[] {
  const validate = validatorFor(schema);
  if (validate(value)) return [];
  const errs = validate.errors ?? [];
  const suggestions = suggestFields(errs);
  return simplifyErrors(errs, suggestions).map((e) => toIssue(e, basePath, suggestions.get(e)));
}

/**
 * `oneOf`/`anyOf` produce one error per branch; keep the ones that say something to a human. An
 * unknown field comes first on its object, and what the typo alone causes there is dropped: the
 * branch errors (a typo'd `rmp` leaves every "one of rpm, tpm, …" branch unmet) and "missing
 * required field" for the very name suggested instead.
 */
function simplifyErrors(errs: ErrorObject[], suggestions: ReadonlyMap<ErrorObject, string | undefined>): ErrorObject[] {
  const meaningful = errs.filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf' && e.keyword !== 'if');
  let list = meaningful.length > 0 ? meaningful : errs;
  const unknown = list.filter(isUnknownField);
  if (unknown.length > 0) {
    const objects = new Set(unknown.map((e) => e.instancePath));
    const suggested = new Set(unknown.map((e) => `${e.instancePath}|${suggestions.get(e)}`));
    const causedByTypo = (e: ErrorObject) =>
      objects.has(e.instancePath) &&
      (/\/(anyOf|oneOf)\//.test(e.schemaPath) || (e.keyword === 'required' && suggested.has(`${e.instancePath}|${String(e.params['missingProperty'])}`)));
    list = list.filter((e) => isUnknownField(e) || !causedByTypo(e));
    // Each unknown field moves up to just before the first other error on its object.
    const firstOn = new Map<string, number>();
    list.forEach((e, i) => firstOn.has(e.instancePath) || firstOn.set(e.instancePath, i));
    const rank = (e: ErrorObject, i: number) => (isUnknownField(e) ? firstOn.get(e.instancePath)! - 0.5 : i);
    list = list.map((e, i) => ({ e, r: rank(e, i) })).sort((a, b) => a.r - b.r).map(({ e }) => e);
  }
  const seen = new Set<string>();
  return list.filter((e) => {
    const k = `${e.instancePath}|${e.keyword}|${JSON.stringify(e.params)}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function isUnknownField(e: ErrorObject): boolean {
  return e.keyword === 'additionalProperties';
}

/**
 * For each unknown field, the nearest name its object allows, if one is a typo away. The names
 * come from every schema that refused the field on that object (each anyOf branch has its own).
 */
function suggestFields(errs: ErrorObject[]): Map<ErrorObject, string | undefined> {
  const known = new Map<string, Set<string>>();
  for (const e of errs.filter(isUnknownField)) {
    const names = known.get(e.instancePath) ?? new Set<string>();
    const properties = (e.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties;
    for (const name of Object.keys(properties ?? {})) names.add(name);
    known.set(e.instancePath, names);
  }
  return new Map(errs.filter(isUnknownField).map((e) => [e, closestNames(String(e.params['additionalProperty']), known.get(e.instancePath)!, 1)[0]]));
}

function toIssue(e: ErrorObject, basePath: (string | number)[], suggestion: string | undefined): ConfigIssue {
  const path = [...basePath, ...pointerToPath(e.instancePath)];
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperty':
    case 'additionalProperties': {
      const field = String(p['additionalProperty']);
      return { path: [...path, field], message: `unknown field '${field}'${suggestion ? ` (did you mean '${suggestion}'?)` : ''}` };
    }
    case 'required':
      return { path, message: `missing required field '${String(p['missingProperty'])}'` };
    case 'enum':
      return { path, message: `must be one of: ${(p['allowedValues'] as unknown[]).map(String).join(', ')}` };
    case 'format':
      return { path, message: formatMessage(String(p['format'])) };
    case 'type':
      return { path, message: `must be ${String(p['type']).split(',').join(' or ')}` };
    default:
      return { path, message: e.message ?? 'is invalid' };
  }
}

/**
 * Up to `max` of `candidates` closest to `word` (case-insensitive edit distance, a swap of two
 * neighbouring letters counting as one edit), nearest first; only those a typo away: at most one
 * edit per three characters, at least one.
 */
export function closestNames(word: string, candidates: Iterable<string>, max = 3): string[] {
  const w = word.toLowerCase();
  const scored: { name: string; distance: number }[] = [];
  for (const name of candidates) {
    const limit = Math.max(1, Math.floor(Math.max(w.length, name.length) / 3));
    if (Math.abs(name.length - w.length) > limit) continue;
    const distance = editDistance(w, name.toLowerCase());
    if (name !== word && distance <= limit) scored.push({ name, distance });
  }
  return scored.sort((a, b) => a.distance - b.distance).slice(0, max).map((s) => s.name);
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
function editDistance(a: string, b: string): number {
  let before = new Array<number>(b.length + 1).fill(0);
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2]! + 1);
      row.push(d);
    }
    before = previous;
    previous = row;
  }
  return previous[b.length]!;
}

function formatMessage(format: string): string {
  if (format === 'byte-size') return "must be a size such as '512kb', '4mb' or a number of bytes";
  if (format === 'duration') return "must be a duration such as '500ms', '30s', '10m' or a number of milliseconds (at most 596h)";
  return `must be a valid ${format}`;
}

function pointerToPath(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** `['pipeline', 2, 'transform']` → `pipeline[2].transform`. */
export function formatPath(path: (string | number)[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][\w-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out || '(root)';
}

let root: string | undefined;
/** The package root (where package.json and schemas/ live), found from this file's location. */
export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'schemas'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('switchyard: cannot find the package root (package.json + schemas/)');
    dir = parent;
  }
  return (root = dir);
}

/**
 * Reads `schemas/<name>.schema.json` from the package. Called when a module is first imported
 * (start-up), never per request, so a synchronous read is fine here.
 */
export function readSchema(name: string): object {
  return JSON.parse(readFileSync(join(packageRoot(), 'schemas', `${name}.schema.json`), 'utf8')) as object;
}
