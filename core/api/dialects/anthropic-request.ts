/**
 * Anthropic Messages request (https://docs.anthropic.com/en/api/messages) → the internal chat
 * completions request. The body was validated against `schemas/api/messages.schema.json`; what
 * JSON Schema cannot express (a block a chat model cannot take) is a 400 here.
 *
 * Blocks the model produced and only Anthropic can read back (`thinking`, `redacted_thinking`,
 * server-tool calls and results) are left out of the chat form; server tools (`tools[]` without an
 * `input_schema`) too. Both survive when the target is Anthropic (native pass-through).
 */
import { errors } from '../../errors.js';

type Json = Record<string, unknown>;

/** Facts the response side needs, kept on `Inbound.extra`. */
export interface AnthropicExtra {
  /** The model the client asked for: Anthropic answers name it. */
  model: string;
  /** `stop_sequences`, to report which one matched when the target says. */
  stopSequences: string[];
  /** The client's `thinking` setting, for a target that can reason (not translated into the chat body). */
  thinking?: unknown;
  /**
   * Parameters only an Anthropic target can honour (server tools: `tools[i]` with no
   * `input_schema`): left out of the chat form, so `route` refuses to send the request to any
   * other target rather than drop them silently (see `Inbound.extra.nativeOnly`).
   */
  nativeOnly?: string[];
}

/** Assistant blocks with no chat counterpart: model output only Anthropic reads back. */
const ANTHROPIC_ONLY_ASSISTANT_BLOCKS = new Set(['thinking', 'redacted_thinking', 'server_tool_use', 'web_search_tool_result', 'web_fetch_tool_result', 'code_execution_tool_result', 'bash_code_execution_tool_result', 'text_editor_code_execution_tool_result', 'mcp_tool_use', 'mcp_tool_result', 'container_upload']);

function unsupported(message: string, param: string): never {
  throw errors.badRequest('unsupported_content', message, param);
}

/** `system`: a string or text blocks → one system message (blocks joined by a blank line). */
function systemMessage(system: unknown): Json[] {
  if (typeof system === 'string') return system === '' ? [] : [{ role: 'system', content: system }];
  if (!Array.isArray(system)) return [];
  const text = system.map((b, i) => blockText(b as Json, `system[${i}]`)).filter((t) => t !== '').join('\n\n');
  return text === '' ? [] : [{ role: 'system', content: text }];
}

function blockText(block: Json, param: string): string {
  if (block['type'] !== 'text') unsupported(`Only text blocks are accepted here; got '${String(block['type'])}'.`, param);
  return String(block['text'] ?? '');
}

/** An image block → an `image_url` part: base64 sources as `data:` URLs, url sources as they are. */
function imagePart(block: Json, param: string): Json {
  const source = (block['source'] ?? {}) as Json;
  if (source['type'] === 'base64') return { type: 'image_url', image_url: { url: `data:${String(source['media_type'])};base64,${String(source['data'])}` } };
  if (source['type'] === 'url') return { type: 'image_url', image_url: { url: String(source['url']) } };
  return unsupported(`Image sources of type '${String(source['type'])}' cannot be sent to this model; use base64 or url.`, `${param}.source`);
}

/** A document block → a `file` part (base64 PDF) or a text part (plain-text source). */
function documentPart(block: Json, param: string): Json {
  const source = (block['source'] ?? {}) as Json;
  if (source['type'] === 'base64') {
    const file: Json = { file_data: `data:${String(source['media_type'])};base64,${String(source['data'])}` };
    if (typeof block['title'] === 'string') file['filename'] = block['title'];
    return { type: 'file', file };
  }
  if (source['type'] === 'text') return { type: 'text', text: String(source['data'] ?? '') };
  return unsupported(`Document sources of type '${String(source['type'])}' cannot be sent to this model; use base64 or text.`, `${param}.source`);
}

/** A user content block other than `tool_result` → a chat content part. */
function userPart(block: Json, param: string): Json {
  switch (block['type']) {
    case 'text':
      return { type: 'text', text: String(block['text'] ?? '') };
    case 'image':
      return imagePart(block, param);
    case 'document':
      return documentPart(block, param);
    default:
      return unsupported(`Content blocks of type '${String(block['type'])}' cannot be sent to this model.`, `${param}.type`);
  }
}

/**
 * A `tool_result` block → a tool message with its text; images in it cannot ride on a chat tool
 * message and go to the user message that follows.
 */
function toolResult(block: Json, param: string): { tool: Json; images: Json[] } {
  const content = block['content'];
  const images: Json[] = [];
  let text = '';
  if (typeof content === 'string') text = content;
  else if (Array.isArray(content)) {
    const texts: string[] = [];
    content.forEach((raw, j) => {
      const part = userPart((raw ?? {}) as Json, `${param}.content[${j}]`);
      if (part['type'] === 'text') texts.push(String(part['text']));
      else images.push(part);
    });
    text = texts.join('\n');
  }
  return { tool: { role: 'tool', tool_call_id: String(block['tool_use_id']), content: text }, images };
}

/** One user turn: its tool results first (as tool messages, in order), then the rest as one user message. */
function userMessages(content: unknown, index: number): Json[] {
  if (typeof content === 'string') return [{ role: 'user', content }];
  const tools: Json[] = [];
  const parts: Json[] = [];
  (content as unknown[]).forEach((raw, j) => {
    const block = (raw ?? {}) as Json;
    const param = `messages[${index}].content[${j}]`;
    if (block['type'] === 'tool_result') {
      const { tool, images } = toolResult(block, param);
      tools.push(tool);
      parts.push(...images);
    } else parts.push(userPart(block, param));
  });
  if (parts.length === 0) return tools;
  const onlyText = parts.every((p) => p['type'] === 'text');
  return [...tools, { role: 'user', content: onlyText ? parts.map((p) => String(p['text'])).join('\n') : parts }];
}

/** One assistant turn: text → content, `tool_use` → `tool_calls`; Anthropic-only blocks left out. */
function assistantMessage(content: unknown, index: number): Json[] {
  if (typeof content === 'string') return [{ role: 'assistant', content }];
  let text = '';
  const calls: Json[] = [];
  (content as unknown[]).forEach((raw, j) => {
    const block = (raw ?? {}) as Json;
    const type = String(block['type']);
    if (type === 'text') text += String(block['text'] ?? '');
    else if (type === 'tool_use') calls.push({ id: String(block['id']), type: 'function', function: { name: String(block['name']), arguments: JSON.stringify(block['input'] ?? {}) } });
    else if (!ANTHROPIC_ONLY_ASSISTANT_BLOCKS.has(type)) unsupported(`Assistant content blocks of type '${type}' cannot be sent to this model.`, `messages[${index}].content[${j}].type`);
  });
  if (text === '' && calls.length === 0) return [];
  const message: Json = { role: 'assistant', content: text === '' && calls.length ? null : text };
  if (calls.length) message['tool_calls'] = calls;
  return [message];
}

/** Custom tools → function tools; server tools (no `input_schema`) have no chat counterpart. */
function functionTools(tools: unknown): Json[] {
  if (!Array.isArray(tools)) return [];
  return (tools as Json[])
    .filter((tool) => tool['input_schema'] !== undefined && (tool['type'] === undefined || tool['type'] === 'custom'))
    .map((tool) => {
      const fn: Json = { name: tool['name'], parameters: tool['input_schema'] };
      if (typeof tool['description'] === 'string') fn['description'] = tool['description'];
      return { type: 'function', function: fn };
    });
}

/** The `tools[i]` params of server tools (no `input_schema`, or a typed non-custom tool). */
function serverToolParams(tools: unknown): string[] {
  if (!Array.isArray(tools)) return [];
  const params: string[] = [];
  (tools as Json[]).forEach((tool, i) => {
    if (!(tool['input_schema'] !== undefined && (tool['type'] === undefined || tool['type'] === 'custom'))) params.push(`tools[${i}]`);
  });
  return params;
}

/** `tool_choice` → OpenAI's: auto/any/tool/none → auto/required/{function}/none; `disable_parallel_tool_use` → `parallel_tool_calls: false`. */
function applyToolChoice(chat: Json, choice: unknown): void {
  if (!choice || typeof choice !== 'object') return;
  const c = choice as Json;
  switch (c['type']) {
    case 'auto':
      chat['tool_choice'] = 'auto';
      break;
    case 'any':
      chat['tool_choice'] = 'required';
      break;
    case 'tool':
      chat['tool_choice'] = { type: 'function', function: { name: String(c['name']) } };
      break;
    case 'none':
      chat['tool_choice'] = 'none';
      break;
  }
  if (c['disable_parallel_tool_use'] === true && chat['tools']) chat['parallel_tool_calls'] = false;
}

/** The ids of the `tool_use` blocks of an assistant turn. */
function toolUseIds(content: unknown): Set<string> {
  const ids = new Set<string>();
  if (Array.isArray(content)) for (const block of content as Json[]) if (block?.['type'] === 'tool_use') ids.add(String(block['id']));
  return ids;
}

/**
 * Anthropic's rule, kept for every target: each `tool_result` answers a `tool_use` of the assistant
 * turn just before. A chat target would otherwise get a tool message no call asked for, which
 * OpenAI-style providers refuse with a message naming no field of the client's request.
 */
function checkToolResults(content: unknown, index: number, calls: ReadonlySet<string>): void {
  if (!Array.isArray(content)) return;
  (content as Json[]).forEach((block, j) => {
    if (block?.['type'] !== 'tool_result' || calls.has(String(block['tool_use_id']))) return;
    throw errors.badRequest(
      'invalid_request_body',
      `messages[${index}].content[${j}]: unexpected tool_use_id '${String(block['tool_use_id']).slice(0, 100)}' in a tool_result block; each tool_result must answer a tool_use block of the previous assistant message.`,
      `messages[${index}].content[${j}].tool_use_id`,
    );
  });
}

/** Translates a validated Messages body (`create` or `count_tokens`) into a chat completions body. */
export function anthropicToChat(body: Readonly<Json>, operation: string): { chat: Json; extra: AnthropicExtra } {
  const messages: Json[] = [...systemMessage(body['system'])];
  let calls = new Set<string>();
  (body['messages'] as Json[]).forEach((message, i) => {
    if (message['role'] === 'assistant') {
      calls = toolUseIds(message['content']);
      messages.push(...assistantMessage(message['content'], i));
    } else {
      checkToolResults(message['content'], i, calls);
      messages.push(...userMessages(message['content'], i));
    }
  });
  if (!messages.some((m) => m['role'] !== 'system')) throw errors.badRequest('invalid_request_body', 'messages: at least one message must have content.', 'messages');
  const chat: Json = { model: body['model'], messages };
  const tools = functionTools(body['tools']);
  if (tools.length) chat['tools'] = tools;
  applyToolChoice(chat, body['tool_choice']);
  const stopSequences = Array.isArray(body['stop_sequences']) ? (body['stop_sequences'] as string[]) : [];
  const extra: AnthropicExtra = { model: String(body['model']), stopSequences };
  if (body['thinking'] !== undefined) extra.thinking = body['thinking'];
  const serverTools = serverToolParams(body['tools']);
  if (serverTools.length) extra.nativeOnly = serverTools;
  if (operation === 'count_tokens') return { chat, extra };

  if (typeof body['max_tokens'] === 'number') chat['max_tokens'] = body['max_tokens'];
  for (const key of ['temperature', 'top_p', 'top_k'] as const) if (typeof body[key] === 'number') chat[key] = body[key];
  if (stopSequences.length) chat['stop'] = stopSequences;
  const userId = (body['metadata'] as Json | undefined)?.['user_id'];
  if (typeof userId === 'string') chat['user'] = userId;
  if (body['stream'] === true) {
    chat['stream'] = true;
    chat['stream_options'] = { include_usage: true };
  }
  return { chat, extra };
}
