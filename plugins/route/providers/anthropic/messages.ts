/**
 * OpenAI chat messages → Anthropic `system` + `messages`
 * (https://platform.claude.com/docs/en/api/messages). System and developer messages, wherever they
 * stand, become the top-level `system` text blocks; tool results become `tool_result` blocks in a
 * user turn; consecutive turns of one role are merged because the API wants user and assistant to
 * alternate.
 */
import { errors } from '../../../../core/errors.js';
import { assistantText, imageUrlOf, plainText, readDataUrl, toolCallArguments, unsupportedPart, type MessageSite } from '../../openai-request.js';

/** One Anthropic content block, as sent. */
export type Block = Record<string, unknown>;

export interface Turn {
  role: 'user' | 'assistant';
  content: Block[];
}

export interface TranslatedMessages {
  system: Block[];
  messages: Turn[];
}

type Message = Readonly<Record<string, unknown>>;

function unsupported(message: string, param: string): never {
  throw errors.badRequest('unsupported_parameter', message, param);
}

function textBlock(text: string): Block[] {
  return text === '' ? [] : [{ type: 'text', text }];
}

/** `image_url` part: a `data:` URL becomes a base64 source, an http(s) URL a url source. */
function imageBlock(part: Record<string, unknown>, provider: string, param: string): Block {
  const url = imageUrlOf(part);
  const data = readDataUrl(url);
  if (data) return { type: 'image', source: { type: 'base64', media_type: data.mimeType, data: data.data } };
  if (/^https?:\/\//i.test(url)) return { type: 'image', source: { type: 'url', url } };
  return unsupported(`Provider '${provider}' accepts images as base64 data: URLs or http(s) URLs.`, param);
}

/** `file` part with inline `file_data` (a data: URL, e.g. a PDF) → a document block. */
function documentBlock(part: Record<string, unknown>, provider: string, param: string): Block {
  const file = (part['file'] ?? {}) as Record<string, unknown>;
  const data = typeof file['file_data'] === 'string' ? readDataUrl(file['file_data']) : undefined;
  if (!data) return unsupported(`Provider '${provider}' accepts file parts only as inline file_data (a base64 data: URL); file_id is not supported.`, param);
  return { type: 'document', source: { type: 'base64', media_type: data.mimeType, data: data.data } };
}

function userBlocks(content: unknown, site: MessageSite): Block[] {
  if (typeof content === 'string') return textBlock(content);
  if (!Array.isArray(content)) return [];
  return content.flatMap((raw, j): Block[] => {
    const part = (raw ?? {}) as Record<string, unknown>;
    switch (part['type']) {
      case 'text':
        return textBlock(String(part['text'] ?? ''));
      case 'image_url':
        return [imageBlock(part, site.provider, `messages[${site.index}].content[${j}]`)];
      case 'file':
        return [documentBlock(part, site.provider, `messages[${site.index}].content[${j}]`)];
      default:
        throw unsupportedPart(site, j, part['type']);
    }
  });
}

function toolUseBlock(raw: unknown): Block {
  const call = (raw ?? {}) as Record<string, unknown>;
  const fn = (call['function'] ?? {}) as Record<string, unknown>;
  return { type: 'tool_use', id: call['id'], name: fn['name'], input: toolCallArguments(call) };
}

function toolResultBlock(message: Message, site: MessageSite): Block {
  const content = message['content'];
  const block: Block = { type: 'tool_result', tool_use_id: message['tool_call_id'] };
  if (typeof content === 'string') block['content'] = content;
  else if (Array.isArray(content)) block['content'] = textBlock(plainText(content, site));
  return block;
}

/** Translates the whole conversation; throws a 400 for content Anthropic cannot take. */
export function translateMessages(messages: readonly Message[], provider: string): TranslatedMessages {
  const system: Block[] = [];
  const turns: Turn[] = [];
  const push = (role: Turn['role'], content: Block[]): void => {
    if (content.length === 0) return;
    const last = turns[turns.length - 1];
    if (last && last.role === role) last.content.push(...content);
    else turns.push({ role, content });
  };
  for (const [index, message] of messages.entries()) {
    const role = message['role'];
    const site: MessageSite = { provider, index, hint: ` in '${String(role)}' messages` };
    switch (role) {
      case 'system':
      case 'developer':
        system.push(...textBlock(plainText(message['content'], site)));
        break;
      case 'user':
        push('user', userBlocks(message['content'], site));
        break;
      case 'assistant': {
        const calls = Array.isArray(message['tool_calls']) ? message['tool_calls'] : [];
        push('assistant', [...textBlock(assistantText(message, site)), ...calls.map(toolUseBlock)]);
        break;
      }
      case 'tool':
        push('user', [toolResultBlock(message, site)]);
        break;
      default:
        unsupported(`Provider '${provider}' does not accept '${String(role)}' messages; use tool messages for tool results.`, `messages[${index}].role`);
    }
  }
  return { system, messages: turns };
}
