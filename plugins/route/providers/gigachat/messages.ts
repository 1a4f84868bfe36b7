/**
 * OpenAI chat messages → GigaChat `messages`
 * (https://developers.sber.ru/docs/ru/gigachat/api/reference/rest/post-chat). GigaChat's roles are
 * `system`, `user`, `assistant` and `function`, with three rules that shape the translation:
 *
 * - one system prompt, and only as the first message (otherwise 422 "system message must be the
 *   first message"): all system and developer messages are joined into one, placed first;
 * - an assistant message carries at most one `function_call`, whose `arguments` is a JSON object
 *   (not JSON text): parallel tool calls are replayed one by one, each assistant call followed by
 *   its result, as if the model had called them in turn;
 * - a function result (`role: function`) names its function and its `content` is a JSON object
 *   written as text: the name comes from the tool call the result answers, and a result that is
 *   not a JSON object is wrapped as `{"result": …}`.
 *
 * Images and files must be uploaded to GigaChat's file storage and referenced by id
 * (`attachments`), which a gateway translating one request cannot do: such parts are a 400.
 */
import { errors } from '../../../../core/errors.js';
import { assistantText, plainText, toolCallArguments, type MessageSite } from '../../openai-request.js';
import { tryParseJson } from '../../upstream-errors.js';

/** One GigaChat message, as sent. */
export interface GigaMessage {
  role: 'system' | 'user' | 'assistant' | 'function';
  content: string;
  function_call?: { name: string; arguments: Record<string, unknown> };
  name?: string;
}

type Message = Readonly<Record<string, unknown>>;

interface ToolCall {
  id: string;
  name: string;
  arguments: Record<string, unknown>;
}

function invalid(message: string): never {
  throw errors.badRequest('invalid_value', message, 'messages');
}

/**
 * Where message `index` stands, for the 400 naming a media part: GigaChat takes images and files
 * only as ids of files uploaded to its storage, which a gateway translating one request cannot do.
 */
function siteOf(provider: string, index: number): MessageSite {
  return { provider, index, hint: "; images and files go to GigaChat only as ids of files uploaded to its storage, which this gateway does not do" };
}

/** Text of a message's content; `refusal` parts of earlier assistant turns count as text, media parts are a 400. */
function text(content: unknown, site: MessageSite, role: string): string {
  if (content !== null && content !== undefined && typeof content !== 'string' && !Array.isArray(content)) invalid(`The content of a '${role}' message must be a string or a list of parts.`);
  return plainText(content, site);
}

function toolCallsOf(message: Message): ToolCall[] {
  const raw = message['tool_calls'];
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) invalid("An assistant message's 'tool_calls' must be a list.");
  return raw.map((c) => {
    const call = (c ?? {}) as Record<string, unknown>;
    const fn = (call['function'] ?? {}) as Record<string, unknown>;
    if (typeof call['id'] !== 'string' || typeof fn['name'] !== 'string') invalid('Each tool call needs an id and a function name.');
    return { id: call['id'], name: fn['name'], arguments: toolCallArguments(call) };
  });
}

/** A tool result as GigaChat wants it: the text of a JSON object. */
function resultContent(message: Message, site: MessageSite): string {
  const raw = text(message['content'], site, 'tool');
  const parsed = tryParseJson(raw);
  if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return raw;
  return JSON.stringify({ result: parsed === undefined ? raw : parsed });
}

/** Translates the whole conversation; throws a 400 for what GigaChat cannot take. */
export function translateMessages(messages: readonly Message[], provider: string): GigaMessage[] {
  const system: string[] = [];
  const out: GigaMessage[] = [];
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i] ?? {};
    const role = message['role'];
    const site = siteOf(provider, i);
    switch (role) {
      case 'system':
      case 'developer': {
        const t = text(message['content'], site, role);
        if (t !== '') system.push(t);
        break;
      }
      case 'user':
        out.push({ role: 'user', content: text(message['content'], site, role) });
        break;
      case 'assistant': {
        const content = assistantText(message, site);
        const calls = toolCallsOf(message);
        if (calls.length === 0) {
          out.push({ role: 'assistant', content });
          break;
        }
        // The tool messages answering these calls follow this message; pair each call with its result.
        const results = new Map<string, { message: Message; site: MessageSite }>();
        while (messages[i + 1]?.['role'] === 'tool') {
          const result = messages[++i]!;
          results.set(String(result['tool_call_id']), { message: result, site: siteOf(provider, i) });
        }
        calls.forEach((call, n) => {
          const result = results.get(call.id);
          if (!result) invalid(`Tool call '${call.id}' has no tool message answering it.`);
          results.delete(call.id);
          out.push({ role: 'assistant', content: n === 0 ? content : '', function_call: { name: call.name, arguments: call.arguments } });
          out.push({ role: 'function', name: call.name, content: resultContent(result.message, result.site) });
        });
        const stray = results.keys().next();
        if (!stray.done) invalid(`The tool message for '${stray.value}' answers no tool call of the assistant message before it.`);
        break;
      }
      case 'tool':
        invalid(`The tool message for '${String(message['tool_call_id'])}' does not follow an assistant message with that tool call.`);
        break;
      default:
        throw errors.badRequest('unsupported_parameter', `Provider '${provider}' does not accept '${String(role)}' messages.`, `messages[${i}].role`);
    }
  }
  if (system.length) out.unshift({ role: 'system', content: system.join('\n\n') });
  return out;
}
