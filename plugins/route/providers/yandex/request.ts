/**
 * OpenAI chat request → Yandex `TextGeneration.Completion` request body
 * (https://yandex.cloud/en/docs/ai-studio/text-generation/api-ref/TextGeneration/completion):
 * `completionOptions` (stream, temperature 0–1, `maxTokens` as an int64 string, `reasoningOptions`),
 * function `tools` with `toolChoice` and `parallelToolCalls`, `response_format` as `jsonObject` /
 * `jsonSchema`. The API has no `top_p`, `stop`, `seed`, penalties, `logprobs` or `user`: those are
 * dropped or rejected per `unsupported_params`; `n` > 1 and temperatures above 1 are always 400.
 */
import { errors } from '../../../../core/errors.js';
import { rejectMultipleChoices, unsupportedFields, type UnsupportedParams } from '../../params.js';
import { translateMessages } from './messages.js';

/** The request fields this adapter translates; anything else is unsupported. */
const SUPPORTED = new Set([
  'model',
  'messages',
  'stream',
  'stream_options',
  'n',
  'max_tokens',
  'max_completion_tokens',
  'temperature',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'response_format',
  'reasoning_effort',
]);

const TOOL_CHOICE_MESSAGE = "tool_choice must be 'auto', 'none', 'required' or {type: 'function', function: {name}}.";

function functionTools(raw: unknown, provider: string): Record<string, unknown>[] {
  if (!Array.isArray(raw)) return [];
  return raw.map((t) => {
    const tool = (t ?? {}) as Record<string, unknown>;
    if (tool['type'] !== 'function') throw errors.badRequest('unsupported_parameter', `Provider '${provider}' accepts only function tools.`, 'tools');
    const fn = (tool['function'] ?? {}) as Record<string, unknown>;
    if (typeof fn['name'] !== 'string' || fn['name'] === '') throw errors.badRequest('invalid_value', 'Every function tool needs a name.', 'tools');
    const out: Record<string, unknown> = { name: fn['name'], parameters: fn['parameters'] ?? { type: 'object', properties: {} } };
    if (typeof fn['description'] === 'string') out['description'] = fn['description'];
    if (typeof fn['strict'] === 'boolean') out['strict'] = fn['strict'];
    return { function: out };
  });
}

/** OpenAI `tool_choice` → Yandex `ToolChoice` (`mode` NONE/AUTO/REQUIRED, or `functionName`). */
function toolChoice(choice: unknown): Record<string, unknown> | undefined {
  if (choice === undefined || choice === null) return undefined;
  if (choice === 'auto') return { mode: 'AUTO' };
  if (choice === 'none') return { mode: 'NONE' };
  if (choice === 'required') return { mode: 'REQUIRED' };
  const name = typeof choice === 'object' ? (choice as { function?: { name?: unknown } }).function?.name : undefined;
  if (typeof name !== 'string') throw errors.badRequest('invalid_value', TOOL_CHOICE_MESSAGE, 'tool_choice');
  return { functionName: name };
}

function completionOptions(body: Readonly<Record<string, unknown>>, stream: boolean): Record<string, unknown> {
  const options: Record<string, unknown> = { stream };
  const temperature = body['temperature'];
  if (typeof temperature === 'number') {
    if (temperature < 0 || temperature > 1) throw errors.badRequest('invalid_value', `Yandex accepts temperature from 0 to 1; got ${temperature}.`, 'temperature');
    options['temperature'] = temperature;
  }
  const maxTokens = body['max_completion_tokens'] ?? body['max_tokens'];
  if (maxTokens !== undefined && maxTokens !== null) {
    if (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens) || maxTokens < 1) throw errors.badRequest('invalid_value', 'max_tokens must be a positive integer.', 'max_tokens');
    options['maxTokens'] = String(maxTokens); // int64 travels as a JSON string in Google-style REST APIs
  }
  const effort = body['reasoning_effort'];
  if (typeof effort === 'string') options['reasoningOptions'] = { mode: effort === 'none' ? 'DISABLED' : 'ENABLED_HIDDEN' };
  return options;
}

function applyResponseFormat(out: Record<string, unknown>, raw: unknown): void {
  const rf = raw as { type?: unknown; json_schema?: { schema?: unknown } } | null | undefined;
  if (!rf || rf.type === 'text') return;
  if (rf.type === 'json_object') {
    out['jsonObject'] = true;
    return;
  }
  const schema = rf.json_schema?.schema;
  if (rf.type !== 'json_schema' || !schema || typeof schema !== 'object') {
    throw errors.badRequest('invalid_value', "response_format must be {type: 'text'}, {type: 'json_object'} or {type: 'json_schema', json_schema: {schema}}.", 'response_format');
  }
  out['jsonSchema'] = { schema };
}

/** Builds the completion body for one chat request; throws 400 for what cannot be translated. */
export function buildCompletionBody(
  body: Readonly<Record<string, unknown>>,
  modelUri: string,
  stream: boolean,
  opts: { provider: string; unsupported: UnsupportedParams },
): { body: Record<string, unknown>; dropped: string[] } {
  rejectMultipleChoices(body, opts.provider);
  const dropped = unsupportedFields(body, SUPPORTED, opts.unsupported, opts.provider);
  const out: Record<string, unknown> = {
    modelUri,
    completionOptions: completionOptions(body, stream),
    messages: translateMessages((body['messages'] as Record<string, unknown>[] | undefined) ?? [], opts.provider),
  };
  const tools = functionTools(body['tools'], opts.provider);
  if (tools.length) {
    out['tools'] = tools;
    const choice = toolChoice(body['tool_choice']);
    if (choice) out['toolChoice'] = choice;
    if (typeof body['parallel_tool_calls'] === 'boolean') out['parallelToolCalls'] = body['parallel_tool_calls'];
  } else if (body['tool_choice'] !== undefined && body['tool_choice'] !== null && body['tool_choice'] !== 'none') {
    throw errors.badRequest('invalid_value', "'tool_choice' needs 'tools'.", 'tool_choice');
  }
  applyResponseFormat(out, body['response_format']);
  return { body: out, dropped };
}
