/**
 * Validators for OpenAI Responses API output, from the OpenAPI spec's own schemas
 * (test/fixtures/openai/responses-schemas.json; https://platform.openai.com/docs/api-reference/responses).
 */
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';

const spec = JSON.parse(readFileSync(new URL('../fixtures/openai/responses-schemas.json', import.meta.url), 'utf8')) as {
  eventSchemas: Record<string, string>;
  $defs: Record<string, object>;
};
const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
ajv.addSchema({ $id: 'openai', $defs: spec.$defs });

/** The validator of component `name` (`Response`, `ResponseTextDeltaEvent`, …). */
export function specSchema(name: string): ValidateFunction {
  return ajv.getSchema(`openai#/$defs/${name}`)!;
}

/** The component that describes a streamed event of type `type`, if it is one. */
export function eventSchemaName(type: string): string | undefined {
  return spec.eventSchemas[type];
}
