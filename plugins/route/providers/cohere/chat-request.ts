/**
 * OpenAI chat request → Cohere v2 chat request (https://docs.cohere.com/v2/reference/chat).
 * Parameters map one to one where Cohere has them (`top_p` → `p`, `stop` → `stop_sequences`,
 * `max_completion_tokens` → `max_tokens`, JSON mode and schemas → `response_format: json_object`,
 * `reasoning_effort` → `thinking`); `tool_choice` has only Cohere's `REQUIRED` and `NONE`, so a
 * named function is honoured by offering the model that one tool and requiring a call.
 */
import { errors } from '../../../../core/errors.js';
import { rejectMultipleChoices, unsupportedFields, type UnsupportedParams } from '../../params.js';
import { translateMessages } from './messages.js';

export interface ChatRequestOptions {
  provider: string;
  unsupported: UnsupportedParams;
}

const SUPPORTED: ReadonlySet<string> = new Set([
  'model',
  'messages',
  'stream',
  'stream_options',
  'n',
  'temperature',
  'top_p',
  'max_tokens',
  'max_completion_tokens',
  'stop',
  'seed',
  'frequency_penalty',
  'presence_penalty',
  'tools',
  'tool_choice',
  'response_format',
  'reasoning_effort',
]);

/** Values that ask for what Cohere does anyway, so they are not "unsupported". */
const NO_OPS: Readonly<Record<string, unknown>> = { parallel_tool_calls: true, logprobs: false };

/** Cohere's `p` stops at 0.99; OpenAI's `top_p: 1` ("no nucleus cut") is its nearest equivalent. */
const MAX_P = 0.99;

type Tool = { type: 'function'; function: { name: string; description?: string; parameters: unknown } };

function functionTools(raw: unknown, provider: string): { tools: Tool[]; strict: boolean } {
  if (!Array.isArray(raw)) return { tools: [], strict: false };
  let strict = raw.length > 0;
  const tools = raw.map((t): Tool => {
    const tool = (t ?? {}) as Record<string, unknown>;
    if (tool['type'] !== 'function') throw errors.badRequest('unsupported_parameter', `Provider '${provider}' accepts function tools only; got '${String(tool['type'])}'.`, 'tools');
    const fn = (tool['function'] ?? {}) as Record<string, unknown>;
    if (typeof fn['name'] !== 'string' || fn['name'] === '') throw errors.badRequest('invalid_value', 'Every function tool needs a name.', 'tools');
    strict &&= fn['strict'] === true;
    const out: Tool = { type: 'function', function: { name: fn['name'], parameters: fn['parameters'] ?? { type: 'object', properties: {} } } };
    if (typeof fn['description'] === 'string') out.function.description = fn['description'];
    return out;
  });
  return { tools, strict };
}

/** Applies `tools` and `tool_choice` to `out`. */
function applyTools(out: Record<string, unknown>, body: Readonly<Record<string, unknown>>, provider: string): void {
  const { tools, strict } = functionTools(body['tools'], provider);
  const choice = body['tool_choice'];
  if (tools.length === 0) {
    if (choice !== undefined && choice !== null && choice !== 'none' && choice !== 'auto') throw errors.badRequest('invalid_value', "'tool_choice' needs 'tools'.", 'tool_choice');
    return;
  }
  out['tools'] = tools;
  // Cohere's switch covers every tool; it is on only when every tool asked for it.
  if (strict) out['strict_tools'] = true;
  if (choice === undefined || choice === null || choice === 'auto') return;
  if (choice === 'none' || choice === 'required') {
    out['tool_choice'] = choice.toUpperCase();
    return;
  }
  const named = (choice as { type?: unknown; function?: { name?: unknown } }).type === 'function' ? (choice as { function?: { name?: unknown } }).function?.name : undefined;
  const forced = tools.find((t) => t.function.name === named);
  if (!forced) throw errors.badRequest('invalid_value', "'tool_choice' must be 'none', 'auto', 'required' or a function listed in 'tools'.", 'tool_choice');
  out['tools'] = [forced];
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
  const out: Record<string, unknown> = { model, messages: translateMessages((body['messages'] as Record<string, unknown>[]) ?? [], opts.provider) };
  if (stream) out['stream'] = true;
  const maxTokens = body['max_completion_tokens'] ?? body['max_tokens'];
  if (typeof maxTokens === 'number') out['max_tokens'] = maxTokens;
  for (const key of ['temperature', 'seed', 'frequency_penalty', 'presence_penalty'] as const) if (typeof body[key] === 'number') out[key] = body[key];
  if (typeof body['top_p'] === 'number') out['p'] = Math.min(body['top_p'], MAX_P);
  const stop = body['stop'];
  if (typeof stop === 'string') out['stop_sequences'] = [stop];
  else if (Array.isArray(stop) && stop.length) out['stop_sequences'] = stop;
  const effort = body['reasoning_effort'];
  if (typeof effort === 'string') out['thinking'] = { type: effort === 'none' ? 'disabled' : 'enabled' };
  applyTools(out, body, opts.provider);
  applyResponseFormat(out, body['response_format']);
  return { body: out, dropped };
}
