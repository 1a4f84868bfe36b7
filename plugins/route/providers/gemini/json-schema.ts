/**
 * OpenAI tool parameters and `response_format.json_schema` are JSON Schema; Gemini takes JSON Schema
 * too (`parametersJsonSchema`, `responseJsonSchema`), but only a documented subset of keywords
 * (https://ai.google.dev/gemini-api/docs/structured-output#json-schema-support). This keeps that
 * subset and drops the rest, so a schema written for OpenAI is never rejected for a keyword Gemini
 * does not know. What is dropped are annotations and validation-only constraints (`$schema`,
 * `default`, `examples`, `pattern`, `minLength`, `maxLength`, `exclusiveMinimum`, `multipleOf`,
 * `uniqueItems`, `allOf`, `not`, `if`/`then`/`else`, `patternProperties`, …); `const` becomes a
 * one-value `enum`, which Gemini does support.
 */

/** Keywords Gemini's JSON Schema support lists. */
const KEPT = new Set([
  '$id',
  '$anchor',
  '$ref',
  '$defs',
  'type',
  'format',
  'title',
  'description',
  'enum',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'prefixItems',
  'minItems',
  'maxItems',
  'minimum',
  'maximum',
  'anyOf',
  'oneOf',
  'propertyOrdering',
]);

/** Keywords whose value is a map of name → subschema. */
const SCHEMA_MAPS = new Set(['properties', '$defs']);
/** Keywords whose value is a list of subschemas. */
const SCHEMA_LISTS = new Set(['anyOf', 'oneOf', 'prefixItems']);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A copy of `schema` with only the keywords Gemini accepts, at every depth. */
export function toGeminiJsonSchema(schema: unknown): Json {
  if (!isObject(schema)) return schema as Json;
  const out: Record<string, Json> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'const') {
      if (!('enum' in schema)) out['enum'] = [value as Json];
    } else if (!KEPT.has(key)) {
      continue;
    } else if (SCHEMA_MAPS.has(key) && isObject(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, toGeminiJsonSchema(sub)]));
    } else if (SCHEMA_LISTS.has(key) && Array.isArray(value)) {
      out[key] = value.map(toGeminiJsonSchema);
    } else if (key === 'items' || key === 'additionalProperties') {
      out[key] = Array.isArray(value) ? value.map(toGeminiJsonSchema) : toGeminiJsonSchema(value);
    } else {
      out[key] = value as Json;
    }
  }
  return out;
}
