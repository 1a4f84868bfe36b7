/**
 * OpenAI chat request → Cohere v2 chat request (https://docs.cohere.com/v2/reference/chat).
 * Parameters map one to one where Cohere has them (`top_p` → `p`, `stop` → `stop_sequences`,
 * `max_completion_tokens` → `max_tokens`, JSON mode and schemas → `response_format: json_object`,
 * `reasoning_effort` → `thinking`); `tool_choice` has only Cohere's `REQUIRED` and `NONE`, so a
 * named function is honoured by offering the model that one tool and requiring a call.
 */
import { errors } from '../../../../core/errors.js';
import { functionTools, maxTokensOf, stopSequences, toolChoiceFor, type FunctionTool } from '../../openai-request.js';
import { CHAT_BASE_PARAMS, MESSAGE_BASE_FIELDS, rejectMultipleChoices, unsupportedFields, unsupportedMessageFields, type UnsupportedParams } from '../../params.js';
import { translateMessages } from './messages.js';

export interface ChatRequestOptions {
  provider: string;
  unsupported: UnsupportedParams;
}

const SUPPORTED: ReadonlySet<string> = new Set([...CHAT_BASE_PARAMS, 'top_p', 'stop', 'seed', 'frequency_penalty', 'presence_penalty', 'reasoning_effort']);

/** The message fields Cohere takes (it has no participant `name`). */
const MESSAGE_FIELDS: ReadonlySet<string> = new Set(MESSAGE_BASE_FIELDS);

/** Values that ask for what Cohere does anyway, so they are not "unsupported". */
const NO_OPS: Readonly<Record<string, unknown>> = { parallel_tool_calls: true, logprobs: false };

/** Cohere's `p` stops at 0.99; OpenAI's `top_p: 1` ("no nucleus cut") is its nearest equivalent. */
const MAX_P = 0.99;

function cohereTool(tool: FunctionTool): Record<string, unknown> {
  const fn: Record<string, unknown> = { name: tool.name, parameters: tool.parameters };
  if (tool.description !== undefined) fn['description'] = tool.description;
  return { type: 'function', function: fn };
}

/** Applies `tools` and `tool_choice` to `out`. */
function applyTools(out: Record<string, unknown>, body: Readonly<Record<string, unknown>>, provider: string): void {
  const tools = functionTools(body['tools'], provider);
  // 'auto' is what Cohere does without tools anyway.
  const choice = toolChoiceFor(body, tools.length, ['none', 'auto']);
  if (tools.length === 0) return;
  out['tools'] = tools.map(cohereTool);
  // Cohere's switch covers every tool; it is on only when every tool asked for it.
  if (tools.every((t) => t.strict === true)) out['strict_tools'] = true;
  if (choice === undefined || choice.mode === 'auto') return;
  if (choice.mode !== 'function') {
    out['tool_choice'] = choice.mode.toUpperCase();
    return;
  }
  const forced = tools.find((t) => t.name === choice.name);
  if (!forced) throw errors.badRequest('invalid_value', "'tool_choice' must be 'none', 'auto', 'required' or a function listed in 'tools'.", 'tool_choice');
  out['tools'] = [cohereTool(forced)];
  out['tool_choice'] = 'REQUIRED';
}

function applyResponseFormat(out: Record<string, unknown>, raw: unknown): void {
  const rf = raw as { type?: unknown; json_schema?: { schema?: unknown } } | undefined | null;
  if (!rf || rf.type === 'text') return;
  if (rf.type === 'json_object') {
    out['response_format'] = { type: 'json_object' };
    return;
  }
  if (rf.type !== 'json_schema') throw errors.badRequest('invalid_value', `Unknown response_format type '${String(rf.type)}'.`, 'response_format');
  const schema = rf.json_schema?.schema;
  if (!schema || typeof schema !== 'object' || Array.isArray(schema)) throw errors.badRequest('invalid_value', 'response_format.json_schema.schema must be a JSON Schema object.', 'response_format');
  out['response_format'] = { type: 'json_object', json_schema: schema };
}

/** The body fields the unsupported-parameter check should see: no-op values are left out. */
function checked(body: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
  const view: Record<string, unknown> = { ...body };
  for (const [key, value] of Object.entries(NO_OPS)) if (view[key] === value) delete view[key];
  return view;
}

/** Builds the Cohere chat body for one request; throws 400 for what cannot be translated. */
export function buildChatBody(body: Readonly<Record<string, unknown>>, model: string, stream: boolean, opts: ChatRequestOptions): { body: Record<string, unknown>; dropped: string[] } {
  rejectMultipleChoices(body, opts.provider);
  const dropped = unsupportedFields(checked(body), SUPPORTED, opts.unsupported, opts.provider);
  dropped.push(...unsupportedMessageFields(body['messages'], MESSAGE_FIELDS, opts.unsupported, opts.provider));
  const out: Record<string, unknown> = { model, messages: translateMessages((body['messages'] as Record<string, unknown>[]) ?? [], opts.provider) };
  if (stream) out['stream'] = true;
  const maxTokens = maxTokensOf(body);
  if (typeof maxTokens === 'number') out['max_tokens'] = maxTokens;
  for (const key of ['temperature', 'seed', 'frequency_penalty', 'presence_penalty'] as const) if (typeof body[key] === 'number') out[key] = body[key];
  if (typeof body['top_p'] === 'number') out['p'] = Math.min(body['top_p'], MAX_P);
  const stop = stopSequences(body['stop']);
  if (stop) out['stop_sequences'] = stop;
  const effort = body['reasoning_effort'];
  if (typeof effort === 'string') out['thinking'] = { type: effort === 'none' ? 'disabled' : 'enabled' };
  applyTools(out, body, opts.provider);
  applyResponseFormat(out, body['response_format']);
  return { body: out, dropped };
}
