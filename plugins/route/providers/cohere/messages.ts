/**
 * OpenAI chat messages → Cohere v2 `messages` (https://docs.cohere.com/v2/reference/chat).
 * Cohere takes the same four roles, with three differences handled here: a system turn must come
 * first (so system and developer messages, wherever they stand, are joined into one leading system
 * message); the text an assistant writes next to its tool calls is Cohere's `tool_plan`; and images
 * are `image_url` parts like OpenAI's, but nothing else (audio, files) is accepted.
 */
import { errors } from '../../../../core/errors.js';
import { assistantText, imageUrlOf, plainText, unsupportedPart, type MessageSite } from '../../openai-request.js';

/** One Cohere message, as sent. */
export type CohereMessage = Record<string, unknown>;

type Part = Record<string, unknown>;

function unsupported(message: string, param: string): never {
  throw errors.badRequest('unsupported_parameter', message, param);
}

/** User content: a string stays a string; parts become Cohere text and image_url parts. */
function userContent(content: unknown, site: MessageSite): unknown {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((raw, j): Part => {
    const part = (raw ?? {}) as Part;
    if (part['type'] === 'text') return { type: 'text', text: String(part['text'] ?? '') };
    if (part['type'] !== 'image_url') throw unsupportedPart(site, j, part['type']);
    const url = imageUrlOf(part);
    const image = part['image_url'];
    const detail = typeof image === 'object' && image !== null ? (image as { detail?: unknown }).detail : undefined;
    return { type: 'image_url', image_url: typeof detail === 'string' ? { url, detail } : { url } };
  });
}

function toolCall(raw: unknown): CohereMessage {
  const call = (raw ?? {}) as Record<string, unknown>;
  const fn = (call['function'] ?? {}) as Record<string, unknown>;
  const args = typeof fn['arguments'] === 'string' && fn['arguments'].trim() !== '' ? fn['arguments'] : '{}';
  return { id: String(call['id'] ?? ''), type: 'function', function: { name: String(fn['name'] ?? ''), arguments: args } };
}

function assistantMessage(m: Readonly<Record<string, unknown>>, site: MessageSite): CohereMessage | undefined {
  const text = assistantText(m, site);
  const calls = Array.isArray(m['tool_calls']) ? m['tool_calls'] : [];
  if (calls.length) {
    const out: CohereMessage = { role: 'assistant', tool_calls: calls.map(toolCall) };
    if (text !== '') out['tool_plan'] = text;
    return out;
  }
  // Cohere rejects empty turns; an assistant message with neither text nor calls carries nothing.
  return text === '' ? undefined : { role: 'assistant', content: text };
}

/** Translates the OpenAI `messages` array; throws 400 for what Cohere cannot take. */
export function translateMessages(messages: readonly Readonly<Record<string, unknown>>[], provider: string): CohereMessage[] {
  const system: string[] = [];
  const out: CohereMessage[] = [];
  for (const [index, m] of messages.entries()) {
    const site: MessageSite = { provider, index, hint: ` in '${String(m['role'])}' messages` };
    switch (m['role']) {
      case 'system':
      case 'developer': {
        const text = plainText(m['content'], site);
        if (text !== '') system.push(text);
        break;
      }
      case 'user':
        out.push({ role: 'user', content: userContent(m['content'], site) });
        break;
      case 'assistant': {
        const a = assistantMessage(m, site);
        if (a) out.push(a);
        break;
      }
      case 'tool':
        out.push({ role: 'tool', tool_call_id: String(m['tool_call_id'] ?? ''), content: plainText(m['content'], site) });
        break;
      default:
        unsupported(`Provider '${provider}' does not accept '${String(m['role'])}' messages.`, `messages[${index}].role`);
    }
  }
  return system.length ? [{ role: 'system', content: system.join('\n\n') }, ...out] : out;
}
