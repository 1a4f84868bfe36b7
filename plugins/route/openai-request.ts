/**
 * Readers for the OpenAI request side that every translating adapter needs before it writes its
 * own wire format: message text, image URLs and `data:` URLs, tool-call arguments, function
 * tools and `tool_choice` in a neutral form, the tool name a tool result answers, embedding
 * inputs, and the few sampling fields with more than one spelling. Shapes follow the OpenAI API
 * reference (`CreateChatCompletionRequest`, `CreateEmbeddingRequest`). Each reader throws the 400
 * for what OpenAI itself would refuse, so adapters refuse it the same way.
 */
import { errors, type GatewayError } from '../../core/errors.js';
import { tryParseJson } from './upstream-errors.js';

type Body = Readonly<Record<string, unknown>>;
type Part = Readonly<Record<string, unknown>>;

/**
 * Text of an OpenAI message `content` (string or array of parts); non-text parts are skipped. For
 * providers that do not translate content (`mock`); a translating adapter uses `plainText`.
 */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((p) => (p && typeof p === 'object' && (p as { type?: string }).type === 'text' ? String((p as { text?: unknown }).text ?? '') : '')).join('');
}

/** Where a message stands in a request, for the 400 that names a part a provider cannot take. */
export interface MessageSite {
  /** The provider's name in YAML. */
  provider: string;
  /** The message's index in `messages`. */
  index: number;
  /** Appended to the message, e.g. ` in 'system' messages`. */
  hint?: string;
}

/**
 * The 400 for content part `part` of message `site.index` that the provider cannot translate:
 * `unsupported_parameter` naming the part (`messages[2].content[1]`). Parts are never dropped silently.
 */
export function unsupportedPart(site: MessageSite, part: number, type: unknown): GatewayError {
  return errors.badRequest('unsupported_parameter', `Provider '${site.provider}' cannot take content parts of type '${String(type)}'${site.hint ?? ''}.`, `messages[${site.index}].content[${part}]`);
}

/**
 * Text of a message for a provider that takes it as plain text: a string as is, or its parts
 * joined, where a `refusal` part (an earlier assistant turn's refusal) counts as text; any other
 * part is a 400 naming it.
 */
export function plainText(content: unknown, site: MessageSite): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((raw, j) => {
      const part = (raw ?? {}) as Part;
      if (part['type'] === 'text') return String(part['text'] ?? '');
      if (part['type'] === 'refusal') return String(part['refusal'] ?? '');
      throw unsupportedPart(site, j, part['type']);
    })
    .join('');
}

/** Text of an assistant message: its content as `plainText`, then its `refusal` (a refused turn has no content). */
export function assistantText(message: Readonly<Record<string, unknown>>, site: MessageSite): string {
  const refusal = message['refusal'];
  return plainText(message['content'], site) + (typeof refusal === 'string' ? refusal : '');
}

/** The URL of an `image_url` part (`{url, detail}`, or a bare URL string); a 400 when it has none. */
export function imageUrlOf(part: Part): string {
  const image = part['image_url'];
  const url = typeof image === 'string' ? image : (image as { url?: unknown } | undefined)?.url;
  if (typeof url !== 'string') throw errors.badRequest('invalid_value', 'An image_url part needs image_url.url.', 'messages');
  return url;
}

/**
 * The media type and base64 data of a `data:` URL (RFC 2397); undefined for any other URL. Data
 * that is not base64-encoded (percent-encoded text) is encoded, as providers take base64 only.
 */
export function readDataUrl(url: string): { mimeType: string; data: string } | undefined {
  const m = /^data:([^;,]+)((?:;[^;,]*)*),(.*)$/s.exec(url);
  if (!m) return undefined;
  const base64 = m[2]!.split(';').includes('base64');
  return { mimeType: m[1]!, data: base64 ? m[3]! : Buffer.from(decodeURIComponent(m[3]!)).toString('base64') };
}

/**
 * The arguments of an assistant tool call as an object: OpenAI sends them as JSON text (empty
 * meaning none), providers that replay calls want the object. A 400 when they are not one.
 */
export function toolCallArguments(call: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const fn = (call['function'] ?? {}) as Record<string, unknown>;
  const text = typeof fn['arguments'] === 'string' && fn['arguments'].trim() !== '' ? fn['arguments'] : '{}';
  const args = tryParseJson(text);
  if (!args || typeof args !== 'object' || Array.isArray(args)) throw errors.badRequest('invalid_value', `The arguments of tool call '${String(call['id'])}' are not a JSON object.`, 'messages');
  return args as Record<string, unknown>;
}

/**
 * The function name of the tool call `id` answers, from the assistant messages before `index`;
 * for providers whose tool results name the function rather than the call.
 */
export function toolNameFor(messages: readonly unknown[], index: number, id: unknown): string | undefined {
  if (typeof id !== 'string' || id === '') return undefined;
  for (let i = index - 1; i >= 0; i--) {
    const message = messages[i] as { role?: unknown; tool_calls?: unknown } | null | undefined;
    if (message?.role !== 'assistant' || !Array.isArray(message.tool_calls)) continue;
    for (const raw of message.tool_calls) {
      const call = raw as { id?: unknown; function?: { name?: unknown } } | null | undefined;
      const name = call?.function?.name;
      if (call?.id === id && typeof name === 'string' && name !== '') return name;
    }
  }
  return undefined;
}

/** One function tool of a request, in neutral form. */
export interface FunctionTool {
  name: string;
  description?: string;
  /** JSON Schema of the arguments: an empty object schema when the tool has none (OpenAI allows that; providers want one). */
  parameters: unknown;
  /** The tool's `strict` flag, when it set one. */
  strict?: boolean;
}

/** The request's `tools` (anything but a list means none); a 400 for a tool that is not a named function. */
export function functionTools(raw: unknown, provider: string): FunctionTool[] {
  if (!Array.isArray(raw)) return [];
  return raw.map((t) => {
    const tool = (t ?? {}) as Record<string, unknown>;
    if (tool['type'] !== 'function') throw errors.badRequest('unsupported_parameter', `Provider '${provider}' accepts only function tools; got '${String(tool['type'])}'.`, 'tools');
    const fn = (tool['function'] ?? {}) as Record<string, unknown>;
    if (typeof fn['name'] !== 'string' || fn['name'] === '') throw errors.badRequest('invalid_value', 'Every function tool needs a name.', 'tools');
    const out: FunctionTool = { name: fn['name'], parameters: fn['parameters'] ?? { type: 'object', properties: {} } };
    if (typeof fn['description'] === 'string') out.description = fn['description'];
    if (typeof fn['strict'] === 'boolean') out.strict = fn['strict'];
    return out;
  });
}

/** `tool_choice` in neutral form: a mode, or the one function the model must call. */
export type ToolChoice = { mode: 'auto' | 'none' | 'required' } | { mode: 'function'; name: string };

/** The request's `tool_choice`, undefined when it has none; a 400 for a value OpenAI does not define. */
export function readToolChoice(raw: unknown): ToolChoice | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (raw === 'auto' || raw === 'none' || raw === 'required') return { mode: raw };
  const named = (typeof raw === 'object' ? raw : {}) as { type?: unknown; function?: { name?: unknown } | null };
  const name = named.function?.name;
  if (named.type === 'function' && typeof name === 'string' && name !== '') return { mode: 'function', name };
  throw errors.badRequest('invalid_value', "tool_choice must be 'auto', 'none', 'required' or {type: 'function', function: {name}}.", 'tool_choice');
}

/**
 * The `tool_choice` of a request with `toolCount` tools: without tools only the modes in
 * `withoutTools` make sense (a provider that ignores 'auto' there may allow it too); any other is a 400.
 */
export function toolChoiceFor(body: Body, toolCount: number, withoutTools: readonly ToolChoice['mode'][] = ['none']): ToolChoice | undefined {
  const choice = readToolChoice(body['tool_choice']);
  if (choice && toolCount === 0 && !withoutTools.includes(choice.mode)) throw errors.badRequest('invalid_value', "'tool_choice' needs 'tools'.", 'tool_choice');
  return choice;
}

/** The token limit asked for: `max_completion_tokens`, which replaced `max_tokens`, wins when both are sent. */
export function maxTokensOf(body: Body): unknown {
  return body['max_completion_tokens'] ?? body['max_tokens'];
}

/** `stop` as a list (OpenAI takes one string or a list); undefined when there is none. */
export function stopSequences(stop: unknown): unknown[] | undefined {
  if (typeof stop === 'string') return [stop];
  return Array.isArray(stop) && stop.length ? stop : undefined;
}

/** The texts of an embeddings `input`: a string or a non-empty list of strings; token arrays are a 400. */
export function textInputs(input: unknown, provider: string): string[] {
  const list = Array.isArray(input) ? input : [input];
  if (list.length === 0 || !list.every((i) => typeof i === 'string')) {
    throw errors.badRequest('invalid_value', `Provider '${provider}' embeds text: 'input' must be a string or a list of strings (token arrays are not supported).`, 'input');
  }
  return list as string[];
}
