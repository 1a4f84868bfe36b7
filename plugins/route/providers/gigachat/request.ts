/**
 * OpenAI chat request → GigaChat `POST /chat/completions` body
 * (https://developers.sber.ru/docs/ru/gigachat/api/reference/rest/post-chat). Translated:
 * `temperature`, `top_p`, `max_tokens` / `max_completion_tokens`, `stream`, tools as `functions`
 * and `tool_choice` as `function_call`, `response_format: json_schema` (GigaChat's beta structured
 * output, `{type, schema, strict}`, as the official SDK sends it:
 * https://github.com/ai-forever/gigachat, `models/response_format.py`), and GigaChat's own
 * `repetition_penalty`. `user` travels as the `X-Client-ID` header (see index.ts). Everything else
 * (`stop`, `seed`, `logprobs`, penalties, `json_object`, …) is dropped or rejected per
 * `unsupported_params`; `n` > 1 is always a 400 (one answer per request).
 */
import { errors } from '../../../../core/errors.js';
import { functionTools, maxTokensOf, toolChoiceFor, type FunctionTool, type ToolChoice } from '../../openai-request.js';
import { CHAT_BASE_PARAMS, MESSAGE_BASE_FIELDS, rejectMultipleChoices, unsupportedFields, unsupportedMessageFields, type UnsupportedParams } from '../../params.js';
import { translateMessages } from './messages.js';

/** How to translate: the provider's name for messages, and what to do with fields GigaChat lacks. */
export interface RequestOptions {
  provider: string;
  unsupported: UnsupportedParams;
}

/** The request fields this adapter translates (or, like `stream_options` and `n`, the gateway handles). */
const SUPPORTED: ReadonlySet<string> = new Set([
  ...CHAT_BASE_PARAMS,
  'top_p',
  // GigaChat makes at most one call per answer, which satisfies `false` and is allowed by `true`.
  'parallel_tool_calls',
  'user',
  'repetition_penalty',
]);

/** The message fields this adapter translates (a participant `name` has no counterpart). */
const MESSAGE_FIELDS: ReadonlySet<string> = new Set(MESSAGE_BASE_FIELDS);

/** A function as GigaChat declares it: `parameters` is required (the reader fills in an empty schema). */
function gigaFunction(tool: FunctionTool): Record<string, unknown> {
  const out: Record<string, unknown> = { name: tool.name, parameters: tool.parameters };
  if (tool.description !== undefined) out['description'] = tool.description;
  return out;
}

/**
 * OpenAI `tool_choice` → GigaChat `function_call`. GigaChat cannot force "some tool": `required`
 * becomes `auto` when unsupported parameters are dropped and a 400 when they are rejected.
 */
function functionCall(choice: ToolChoice | undefined, opts: RequestOptions, dropped: string[]): unknown {
  if (choice === undefined || choice.mode === 'auto') return 'auto';
  if (choice.mode === 'none') return 'none';
  if (choice.mode === 'function') return { name: choice.name };
  if (opts.unsupported === 'reject') {
    throw errors.badRequest('unsupported_parameter', `Provider '${opts.provider}' cannot force a call of some tool; tool_choice 'required' is not supported. Name the function, or set unsupported_params: drop to send 'auto'.`, 'tool_choice');
  }
  dropped.push('tool_choice');
  return 'auto';
}

/** `response_format`: a JSON schema is sent on; `json_object` (no schema) GigaChat cannot honour. */
function responseFormat(raw: unknown, opts: RequestOptions, dropped: string[]): Record<string, unknown> | undefined {
  if (raw === undefined || raw === null) return undefined;
  const rf = raw as { type?: unknown; json_schema?: { schema?: unknown; strict?: unknown } };
  if (rf.type === 'text') return undefined;
  if (rf.type === 'json_schema') {
    const schema = rf.json_schema?.schema;
    if (!schema || typeof schema !== 'object') throw errors.badRequest('invalid_value', 'response_format.json_schema.schema must be a JSON Schema object.', 'response_format');
    const out: Record<string, unknown> = { type: 'json_schema', schema };
    if (typeof rf.json_schema?.strict === 'boolean') out['strict'] = rf.json_schema.strict;
    return out;
  }
  if (opts.unsupported === 'reject') {
    throw errors.badRequest('unsupported_parameter', `Provider '${opts.provider}' supports response_format 'json_schema' only; '${String(rf.type)}' is not supported.`, 'response_format');
  }
  dropped.push('response_format');
  return undefined;
}

/** Builds the GigaChat body for one chat request; `dropped` lists the fields left out. */
export function buildChatBody(body: Readonly<Record<string, unknown>>, model: string, stream: boolean, opts: RequestOptions): { body: Record<string, unknown>; dropped: string[] } {
  rejectMultipleChoices(body, opts.provider);
  const dropped = unsupportedFields(body, SUPPORTED, opts.unsupported, opts.provider);
  const messages = body['messages'];
  if (!Array.isArray(messages) || messages.length === 0) throw errors.badRequest('invalid_value', "'messages' must be a non-empty list.", 'messages');
  dropped.push(...unsupportedMessageFields(messages, MESSAGE_FIELDS, opts.unsupported, opts.provider));
  const out: Record<string, unknown> = { model, messages: translateMessages(messages as Record<string, unknown>[], opts.provider) };
  if (stream) out['stream'] = true;
  for (const key of ['temperature', 'top_p', 'repetition_penalty'] as const) if (typeof body[key] === 'number') out[key] = body[key];
  const maxTokens = maxTokensOf(body);
  if (typeof maxTokens === 'number') out['max_tokens'] = maxTokens;
  const tools = body['tools'];
  if (tools !== undefined && tools !== null && !Array.isArray(tools)) throw errors.badRequest('invalid_value', "'tools' must be a list.", 'tools');
  const functions = functionTools(tools, opts.provider);
  const choice = toolChoiceFor(body, functions.length);
  if (functions.length) {
    out['functions'] = functions.map(gigaFunction);
    out['function_call'] = functionCall(choice, opts, dropped);
  }
  const format = responseFormat(body['response_format'], opts, dropped);
  if (format) out['response_format'] = format;
  return { body: out, dropped };
}
