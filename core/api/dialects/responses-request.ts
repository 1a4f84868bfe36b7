/**
 * OpenAI Responses request → internal chat-completions request
 * (https://platform.openai.com/docs/api-reference/responses/create). The body has passed
 * `schemas/api/responses.schema.json`; what JSON Schema cannot say (item types we cannot express in
 * chat, hosted tools) is refused here with a 400 naming the field.
 *
 * `previous_response_id` and `store` are not translated: they go to `extra`, where the `responses`
 * plugin reads them (it prepends the stored conversation and keeps the answer).
 */
import type { ChatCompletionContentPart, ChatCompletionFunctionTool, ChatCompletionMessageParam, ChatCompletionMessageToolCall } from 'openai/resources/chat/completions';
import type { ResponseCreateParamsBase, ResponseInputItem, ResponseInputContent, Tool } from 'openai/resources/responses/responses';
import { errors, type GatewayError } from '../../errors.js';

type Body = Readonly<Record<string, unknown>>;
type ChatMessage = ChatCompletionMessageParam;

/** What `toChat` keeps for the response side and the `responses` plugin. */
export interface ResponsesExtra {
  previous_response_id?: string;
  store?: boolean;
}

/** Request fields that need a feature the gateway does not serve through chat completions. */
const UNSUPPORTED_FIELDS: readonly (keyof ResponseCreateParamsBase)[] = ['conversation', 'prompt'];

/** Translates a validated Responses body into a chat-completions body. */
export function responsesToChat(body: Body): { chat: Record<string, unknown>; extra: ResponsesExtra } {
  const req = body as ResponseCreateParamsBase;
  for (const field of UNSUPPORTED_FIELDS) {
    if (req[field] !== undefined && req[field] !== null) throw unsupported('unsupported_parameter', `'${field}' is not supported by this gateway.`, field);
  }
  if (req.background === true) throw unsupported('unsupported_parameter', "Background responses ('background': true) are not supported by this gateway.", 'background');

  const messages: ChatMessage[] = [];
  if (typeof req.instructions === 'string') messages.push({ role: 'system', content: req.instructions });
  if (typeof req.input === 'string') messages.push({ role: 'user', content: req.input });
  else if (Array.isArray(req.input)) appendItems(messages, req.input, typeof req.previous_response_id === 'string');

  const chat: Record<string, unknown> = { messages };
  if (req.model !== undefined) chat['model'] = req.model;
  if (req.tools !== undefined && req.tools !== null) {
    const tools = req.tools.map(chatTool);
    if (tools.length > 0) chat['tools'] = tools;
  }
  if (req.tool_choice !== undefined && req.tool_choice !== null) chat['tool_choice'] = chatToolChoice(req.tool_choice);
  copy(req, chat, 'temperature', 'temperature');
  copy(req, chat, 'top_p', 'top_p');
  copy(req, chat, 'max_output_tokens', 'max_completion_tokens');
  copy(req, chat, 'parallel_tool_calls', 'parallel_tool_calls');
  // `metadata` is echoed on the Response from the client's body, not sent: OpenAI's chat API refuses
  // it unless the completion is stored there ("The 'metadata' parameter is only allowed when 'store' is enabled").
  copy(req, chat, 'user', 'user');
  copy(req, chat, 'safety_identifier', 'safety_identifier');
  copy(req, chat, 'prompt_cache_key', 'prompt_cache_key');
  copy(req, chat, 'service_tier', 'service_tier');
  if (req.reasoning?.effort) chat['reasoning_effort'] = req.reasoning.effort;
  const format = req.text?.format;
  if (format?.type === 'json_schema') {
    const jsonSchema: Record<string, unknown> = { name: format.name, schema: format.schema };
    if (format.description !== undefined) jsonSchema['description'] = format.description;
    if (format.strict !== undefined && format.strict !== null) jsonSchema['strict'] = format.strict;
    chat['response_format'] = { type: 'json_schema', json_schema: jsonSchema };
  } else if (format?.type === 'json_object') {
    chat['response_format'] = { type: 'json_object' };
  }
  if (req.text?.verbosity) chat['verbosity'] = req.text.verbosity;
  if (req.stream === true) {
    chat['stream'] = true;
    chat['stream_options'] = { include_usage: true };
  }

  const extra: ResponsesExtra = {};
  if (typeof req.previous_response_id === 'string') extra.previous_response_id = req.previous_response_id;
  if (typeof req.store === 'boolean') extra.store = req.store;
  return { chat, extra };
}

function copy(from: object, to: Record<string, unknown>, key: string, as: string): void {
  const value = (from as Record<string, unknown>)[key];
  if (value !== undefined && value !== null) to[as] = value;
}

function unsupported(code: string, message: string, param: string): GatewayError {
  return errors.badRequest(code, message, param);
}

/**
 * Input items in order. Consecutive assistant output (a message, then `function_call` items) is one
 * chat assistant message with `tool_calls`, as chat requires before the `tool` answers. A
 * `function_call_output` must answer a `function_call` earlier in the input, as OpenAI requires,
 * unless the request continues a stored conversation (`previous_response_id`) that may hold it.
 */
function appendItems(messages: ChatMessage[], items: readonly ResponseInputItem[], continues: boolean): void {
  const calls = new Set<string>();
  items.forEach((item, i) => {
    const param = `input[${i}]`;
    const type = (item as { type?: string }).type ?? 'message';
    switch (type) {
      case 'message':
        messages.push(chatMessage(item as { role: string; content: unknown }, param));
        return;
      case 'function_call': {
        const call = item as { call_id: string; name: string; arguments: string };
        calls.add(call.call_id);
        const toolCall: ChatCompletionMessageToolCall = { id: call.call_id, type: 'function', function: { name: call.name, arguments: call.arguments } };
        const last = messages.at(-1);
        if (last?.role === 'assistant') (last.tool_calls ??= []).push(toolCall);
        else messages.push({ role: 'assistant', content: null, tool_calls: [toolCall] });
        return;
      }
      case 'function_call_output': {
        const out = item as { call_id: string; output: string | readonly ResponseInputContent[] };
        if (!continues && !calls.has(out.call_id)) {
          throw errors.badRequest('invalid_request_body', `No function call found for function_call_output with call_id '${String(out.call_id).slice(0, 100)}'.`, `${param}.call_id`);
        }
        const content = typeof out.output === 'string' ? out.output : toolOutputText(out.output, `${param}.output`);
        messages.push({ role: 'tool', tool_call_id: out.call_id, content });
        return;
      }
      case 'reasoning':
        // Reasoning from an earlier turn: chat has no input form for it, and models do not need it back.
        return;
      default:
        throw unsupported('unsupported_input_item', `Input items of type '${type}' are not supported by this gateway.`, `${param}.type`);
    }
  });
}

function chatMessage(item: { role: string; content: unknown }, param: string): ChatMessage {
  const { role, content } = item;
  if (role === 'assistant') {
    if (typeof content === 'string') return { role, content };
    let text = '';
    let refusal: string | undefined;
    (content as { type: string; text?: string; refusal?: string }[]).forEach((part, j) => {
      if (part.type === 'output_text' || part.type === 'input_text') text += part.text ?? '';
      else if (part.type === 'refusal') refusal = part.refusal ?? '';
      else throw unsupported('unsupported_content', `Assistant content parts of type '${part.type}' are not supported.`, `${param}.content[${j}].type`);
    });
    return refusal !== undefined && text === '' ? { role, content: null, refusal } : { role, content: text };
  }
  const parts = typeof content === 'string' ? content : inputParts(content as readonly ResponseInputContent[], `${param}.content`);
  if (role === 'system' || role === 'developer') {
    const text = typeof parts === 'string' ? parts : parts.map((p) => (p.type === 'text' ? p.text : '')).join('');
    if (typeof parts !== 'string' && parts.some((p) => p.type !== 'text')) {
      throw unsupported('unsupported_content', `A ${role} message may hold text only.`, `${param}.content`);
    }
    return { role, content: text };
  }
  return { role: 'user', content: parts };
}

function inputParts(parts: readonly ResponseInputContent[], param: string): ChatCompletionContentPart[] {
  return parts.map((part, j) => {
    const at = `${param}[${j}]`;
    switch (part.type) {
      case 'input_text':
        return { type: 'text', text: part.text };
      case 'input_image': {
        if (typeof part.image_url !== 'string') throw unsupported('unsupported_content', "Images must be given by 'image_url' (a URL or data URL); file ids are not supported.", `${at}.image_url`);
        const detail = part.detail === 'low' || part.detail === 'high' || part.detail === 'auto' ? part.detail : 'auto';
        return { type: 'image_url', image_url: { url: part.image_url, detail } };
      }
      case 'input_file': {
        if (typeof part.file_data !== 'string') throw unsupported('unsupported_content', "Files must be given inline as 'file_data'; file ids and URLs are not supported.", `${at}.file_data`);
        const file: { file_data: string; filename?: string } = { file_data: part.file_data };
        if (part.filename !== undefined) file.filename = part.filename;
        return { type: 'file', file };
      }
      default:
        throw unsupported('unsupported_content', `Content parts of type '${(part as { type: string }).type}' are not supported.`, `${at}.type`);
    }
  });
}

/** A tool's output list → chat tool content (text only: chat tool messages cannot carry images). */
function toolOutputText(parts: readonly ResponseInputContent[], param: string): string {
  return parts
    .map((part, j) => {
      if (part.type === 'input_text') return part.text;
      throw unsupported('unsupported_content', `Function call outputs may hold text only, not '${part.type}'.`, `${param}[${j}].type`);
    })
    .join('');
}

/** Responses' flat function tool → chat's nested one; hosted tools have no chat equivalent. */
function chatTool(tool: Tool, i: number): ChatCompletionFunctionTool {
  if (tool.type !== 'function') {
    throw unsupported('unsupported_tool', `Tools of type '${tool.type}' are not supported by this gateway; only 'function' tools are.`, `tools[${i}].type`);
  }
  const fn: ChatCompletionFunctionTool['function'] = { name: tool.name };
  if (tool.description !== undefined && tool.description !== null) fn.description = tool.description;
  if (tool.parameters !== undefined && tool.parameters !== null) fn.parameters = tool.parameters;
  if (tool.strict !== undefined && tool.strict !== null) fn.strict = tool.strict;
  return { type: 'function', function: fn };
}

function chatToolChoice(choice: NonNullable<ResponseCreateParamsBase['tool_choice']>): unknown {
  if (typeof choice === 'string') return choice;
  if (choice.type === 'function') return { type: 'function', function: { name: choice.name } };
  if (choice.type === 'allowed_tools') {
    const tools = choice.tools.map((t, i) => {
      if (t['type'] !== 'function' || typeof t['name'] !== 'string') {
        throw unsupported('unsupported_tool_choice', "Only function tools can be listed in 'allowed_tools'.", `tool_choice.tools[${i}]`);
      }
      return { type: 'function', function: { name: t['name'] } };
    });
    return { type: 'allowed_tools', allowed_tools: { mode: choice.mode, tools } };
  }
  throw unsupported('unsupported_tool_choice', `A tool_choice of type '${choice.type}' is not supported by this gateway.`, 'tool_choice.type');
}
