/**
 * One ajv instance for every schema the gateway knows (gateway, plugins, providers, catalog).
 * Defaults written in a schema are applied to the config (`useDefaults`), so a schema is the single
 * place a default lives, and the README reference generated from the schemas shows it.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBytes, parseDuration } from './units.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

const ajv = new Ajv({ allErrors: true, useDefaults: true, coerceTypes: true, strict: false, allowUnionTypes: true });
addFormats(ajv);
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
  return simplifyErrors(validate.errors ?? []).map((e) => toIssue(e, basePath));
}

/** `oneOf`/`anyOf` produce one error per branch; keep the ones that say something to a human. */
function simplifyErrors(errs: ErrorObject[]): ErrorObject[] {
  const meaningful = errs.filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf' && e.keyword !== 'if');
  const list = meaningful.length > 0 ? meaningful : errs;
  const seen = new Set<string>();
  return list.filter((e) => {
    const k = `${e.instancePath}|${e.keyword}|${JSON.stringify(e.params)}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function toIssue(e: ErrorObject, basePath: (string | number)[]): ConfigIssue {
  const path = [...basePath, ...pointerToPath(e.instancePath)];
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperty':
    case 'additionalProperties':
      return { path: [...path, String(p['additionalProperty'])], message: `unknown field '${String(p['additionalProperty'])}'` };
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
