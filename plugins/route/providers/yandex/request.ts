/**
 * OpenAI chat request → Yandex `TextGeneration.Completion` request body
 * (https://yandex.cloud/en/docs/ai-studio/text-generation/api-ref/TextGeneration/completion):
 * `completionOptions` (stream, temperature 0–1, `maxTokens` as an int64 string, `reasoningOptions`),
 * function `tools` with `toolChoice` and `parallelToolCalls`, `response_format` as `jsonObject` /
 * `jsonSchema`. The API has no `top_p`, `stop`, `seed`, penalties, `logprobs` or `user`: those are
 * dropped or rejected per `unsupported_params`; `n` > 1 and temperatures above 1 are always 400.
 */
import { errors } from '../../../../core/errors.js';
import { functionTools, maxTokensOf, toolChoiceFor, type FunctionTool, type ToolChoice } from '../../openai-request.js';
import { CHAT_BASE_PARAMS, MESSAGE_BASE_FIELDS, rejectMultipleChoices, unsupportedFields, unsupportedMessageFields, type UnsupportedParams } from '../../params.js';
import { translateMessages } from './messages.js';

/** The request fields this adapter translates; anything else is unsupported. */
const SUPPORTED: ReadonlySet<string> = new Set([...CHAT_BASE_PARAMS, 'parallel_tool_calls', 'reasoning_effort']);

/** The message fields this adapter translates (a participant `name` has no counterpart). */
const MESSAGE_FIELDS: ReadonlySet<string> = new Set(MESSAGE_BASE_FIELDS);

/** A Yandex `Tool`: the function under `function`, with its `strict` flag when it set one. */
function yandexTool(tool: FunctionTool): Record<string, unknown> {
  const fn: Record<string, unknown> = { name: tool.name, parameters: tool.parameters };
  if (tool.description !== undefined) fn['description'] = tool.description;
  if (tool.strict !== undefined) fn['strict'] = tool.strict;
  return { function: fn };
}

/** OpenAI `tool_choice` → Yandex `ToolChoice` (`mode` NONE/AUTO/REQUIRED, or `functionName`). */
function toolChoice(choice: ToolChoice): Record<string, unknown> {
  return choice.mode === 'function' ? { functionName: choice.name } : { mode: choice.mode.toUpperCase() };
}

function completionOptions(body: Readonly<Record<string, unknown>>, stream: boolean): Record<string, unknown> {
  const options: Record<string, unknown> = { stream };
  const temperature = body['temperature'];
  if (typeof temperature === 'number') {
    if (temperature < 0 || temperature > 1) throw errors.badRequest('invalid_value', `Yandex accepts temperature from 0 to 1; got ${temperature}.`, 'temperature');
    options['temperature'] = temperature;
  }
  const maxTokens = maxTokensOf(body);
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
  dropped.push(...unsupportedMessageFields(body['messages'], MESSAGE_FIELDS, opts.unsupported, opts.provider));
  const out: Record<string, unknown> = {
    modelUri,
    completionOptions: completionOptions(body, stream),
    messages: translateMessages((body['messages'] as Record<string, unknown>[] | undefined) ?? [], opts.provider),
  };
  const tools = functionTools(body['tools'], opts.provider);
  const choice = toolChoiceFor(body, tools.length);
  if (tools.length) {
    out['tools'] = tools.map(yandexTool);
    if (choice) out['toolChoice'] = toolChoice(choice);
    if (typeof body['parallel_tool_calls'] === 'boolean') out['parallelToolCalls'] = body['parallel_tool_calls'];
  }
  applyResponseFormat(out, body['response_format']);
  return { body: out, dropped };
}
