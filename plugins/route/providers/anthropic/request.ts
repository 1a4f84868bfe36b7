/**
 * OpenAI chat request → Anthropic Messages request body
 * (https://platform.claude.com/docs/en/api/messages): sampling parameters (`top_k` too, which an
 * Anthropic Messages client may send), tools and `tool_choice`,
 * `response_format`, `max_tokens` (required by Anthropic), `user` → `metadata.user_id`. Fields the
 * API has no counterpart for are dropped or rejected per `unsupported_params`.
 */
import { errors } from '../../../../core/errors.js';
import { functionTools, maxTokensOf, stopSequences, toolChoiceFor, type FunctionTool, type ToolChoice } from '../../openai-request.js';
import { CHAT_BASE_PARAMS, MESSAGE_BASE_FIELDS, rejectMultipleChoices, unsupportedFields, unsupportedMessageFields, type UnsupportedParams } from '../../params.js';
import { translateMessages, type Block } from './messages.js';
import type { AnthropicConfig } from '../../../../schemas/types/providers/anthropic.js';

/** How `response_format: json_schema` is sent (`json_mode` in the adapter's schema). */
export type JsonMode = AnthropicConfig['json_mode'];

export interface RequestOptions {
  provider: string;
  defaultMaxTokens: number;
  jsonMode: JsonMode;
  unsupported: UnsupportedParams;
}

/** Name of the synthetic tool that carries a JSON answer (`json_mode: tool`, and every `json_object`). */
export const JSON_TOOL = 'json_response';

/** The request fields this adapter translates; anything else is unsupported. */
const SUPPORTED: ReadonlySet<string> = new Set([...CHAT_BASE_PARAMS, 'top_p', 'top_k', 'stop', 'parallel_tool_calls', 'user', 'reasoning_effort']);

/** The message fields this adapter translates (a participant `name` has no counterpart). */
const MESSAGE_FIELDS: ReadonlySet<string> = new Set(MESSAGE_BASE_FIELDS);

/** OpenAI `reasoning_effort` values with an Anthropic `output_config.effort` of the same name. */
const EFFORTS = new Set(['low', 'medium', 'high', 'xhigh', 'max']);

interface ResponseFormat {
  type?: string;
  json_schema?: { name?: string; description?: string; schema?: Record<string, unknown> };
}

function responseFormat(body: Readonly<Record<string, unknown>>): ResponseFormat | undefined {
  const rf = body['response_format'] as ResponseFormat | undefined | null;
  return rf && (rf.type === 'json_object' || rf.type === 'json_schema') ? rf : undefined;
}

/** The synthetic JSON tool this request uses, if any; the response side asks the same question. */
export function jsonToolFor(body: Readonly<Record<string, unknown>>, jsonMode: JsonMode): string | undefined {
  const rf = responseFormat(body);
  if (!rf) return undefined;
  return rf.type === 'json_object' || jsonMode === 'tool' ? JSON_TOOL : undefined;
}

function anthropicTool(tool: FunctionTool): Block {
  const out: Block = { name: tool.name, input_schema: tool.parameters };
  if (tool.description !== undefined) out['description'] = tool.description;
  if (tool.strict === true) out['strict'] = true;
  return out;
}

/** `required` is Anthropic's `any`, a named function its `tool`; `parallel_tool_calls: false` rides on the choice. */
function toolChoice(choice: ToolChoice | undefined, parallel: unknown): Block | undefined {
  if (choice?.mode === 'none') return { type: 'none' };
  let out: Block | undefined = choice && (choice.mode === 'function' ? { type: 'tool', name: choice.name } : { type: choice.mode === 'required' ? 'any' : 'auto' });
  if (parallel === false) out = { ...(out ?? { type: 'auto' }), disable_parallel_tool_use: true };
  return out;
}

function checkTemperature(value: unknown): void {
  if (typeof value === 'number' && (value < 0 || value > 1)) {
    throw errors.badRequest('invalid_value', `Anthropic accepts temperature from 0 to 1; got ${value}.`, 'temperature');
  }
}

/** Applies `response_format`: structured outputs (`output_config.format`) or the forced synthetic tool. */
function applyResponseFormat(out: Record<string, unknown>, body: Readonly<Record<string, unknown>>, opts: RequestOptions): void {
  const rf = responseFormat(body);
  if (!rf) return;
  const schema = rf.json_schema?.schema;
  if (rf.type === 'json_schema' && (!schema || typeof schema !== 'object')) {
    throw errors.badRequest('invalid_value', 'response_format.json_schema.schema must be a JSON Schema object.', 'response_format');
  }
  if (!jsonToolFor(body, opts.jsonMode)) {
    out['output_config'] = { ...(out['output_config'] as object | undefined), format: { type: 'json_schema', schema } };
    return;
  }
  if (Array.isArray(out['tools'])) {
    throw errors.badRequest('unsupported_parameter', `Provider '${opts.provider}' answers in JSON through a forced tool here, which cannot be combined with 'tools'. Use json_schema with json_mode: output_config.`, 'response_format');
  }
  const description = rf.json_schema?.description ?? 'Give the complete answer as this tool input.';
  out['tools'] = [{ name: JSON_TOOL, description, input_schema: schema ?? { type: 'object' } }];
  out['tool_choice'] = { type: 'tool', name: JSON_TOOL };
}

/** Builds the Messages API body for one chat request; throws 400 for what cannot be translated. */
export function buildMessagesBody(body: Readonly<Record<string, unknown>>, model: string, stream: boolean, opts: RequestOptions): { body: Record<string, unknown>; dropped: string[] } {
  rejectMultipleChoices(body, opts.provider);
  const dropped = unsupportedFields(body, SUPPORTED, opts.unsupported, opts.provider);
  dropped.push(...unsupportedMessageFields(body['messages'], MESSAGE_FIELDS, opts.unsupported, opts.provider));
  checkTemperature(body['temperature']);
  const { system, messages } = translateMessages((body['messages'] as Record<string, unknown>[]) ?? [], opts.provider);
  const maxTokens = maxTokensOf(body) ?? opts.defaultMaxTokens;
  const out: Record<string, unknown> = { model, max_tokens: maxTokens, messages };
  if (system.length) out['system'] = system;
  if (stream) out['stream'] = true;
  for (const key of ['temperature', 'top_p', 'top_k'] as const) if (typeof body[key] === 'number') out[key] = body[key];
  const stop = stopSequences(body['stop']);
  if (stop) out['stop_sequences'] = stop;
  if (typeof body['user'] === 'string') out['metadata'] = { user_id: body['user'] };
  const effort = body['reasoning_effort'];
  if (effort !== undefined && effort !== null) {
    if (typeof effort !== 'string' || !EFFORTS.has(effort)) throw errors.badRequest('invalid_value', `Anthropic's effort levels are ${[...EFFORTS].join(', ')}; got '${String(effort)}'.`, 'reasoning_effort');
    out['output_config'] = { effort };
  }
  const tools = functionTools(body['tools'], opts.provider);
  const choice = toolChoiceFor(body, tools.length);
  if (tools.length) {
    out['tools'] = tools.map(anthropicTool);
    const anthropicChoice = toolChoice(choice, body['parallel_tool_calls']);
    if (anthropicChoice) out['tool_choice'] = anthropicChoice;
  }
  applyResponseFormat(out, body, opts);
  return { body: out, dropped };
}
