/**
 * OpenAI chat messages → Yandex `messages`
 * (https://yandex.cloud/en/docs/ai-studio/text-generation/api-ref/TextGeneration/completion#yandex.cloud.ai.foundation_models.v1.Message).
 * A Yandex message carries exactly one of `text`, `toolCallList` or `toolResultList`, and a role of
 * `system`, `user` or `assistant`: developer messages become system messages, an assistant turn
 * with both text and tool calls becomes two messages, and consecutive tool messages become one user
 * message with a `toolResultList` (as in https://yandex.cloud/en/docs/ai-studio/operations/generation/function-call).
 * Yandex tool results carry the function's name, not a call id, so the name is recovered from the
 * earlier assistant turn that made the call. The native API reads text only: image, audio and file
 * parts are refused with a 400 rather than dropped.
 */
import { errors } from '../../../../core/errors.js';
import { assistantText, plainText, toolCallArguments, toolNameFor, type MessageSite } from '../../openai-request.js';

export interface YandexMessage {
  role: 'system' | 'user' | 'assistant';
  text?: string;
  toolCallList?: { toolCalls: { functionCall: { name: string; arguments: Record<string, unknown> } }[] };
  toolResultList?: { toolResults: { functionResult: { name: string; content: string } }[] };
}

type Message = Readonly<Record<string, unknown>>;

function invalid(message: string): never {
  throw errors.badRequest('invalid_value', message, 'messages');
}

/** Text of message content; any non-text part is refused (the native API has no image input). */
function textOf(content: unknown, site: MessageSite): string {
  if (content !== null && content !== undefined && typeof content !== 'string' && !Array.isArray(content)) invalid('Message content must be a string or an array of content parts.');
  return plainText(content, site);
}

/** Translates the conversation; throws a 400 for content the native API cannot take. */
export function translateMessages(messages: readonly Message[], provider: string): YandexMessage[] {
  const out: YandexMessage[] = [];
  for (const [index, message] of messages.entries()) {
    const role = message['role'];
    const site: MessageSite = { provider, index, hint: '; the Yandex text generation API reads text only' };
    switch (role) {
      case 'system':
      case 'developer':
        out.push({ role: 'system', text: textOf(message['content'], site) });
        break;
      case 'user':
        out.push({ role: 'user', text: textOf(message['content'], site) });
        break;
      case 'assistant': {
        const text = assistantText(message, site);
        const calls = Array.isArray(message['tool_calls']) ? (message['tool_calls'] as Record<string, unknown>[]) : [];
        if (text !== '' || calls.length === 0) out.push({ role: 'assistant', text });
        if (calls.length === 0) break;
        const toolCalls = calls.map((call) => {
          const name = (call['function'] as Record<string, unknown> | undefined)?.['name'];
          if (typeof name !== 'string' || name === '') invalid(`Tool call '${String(call['id'])}' has no function name.`);
          return { functionCall: { name, arguments: toolCallArguments(call) } };
        });
        out.push({ role: 'assistant', toolCallList: { toolCalls } });
        break;
      }
      case 'tool': {
        const id = message['tool_call_id'];
        const name = toolNameFor(messages, index, id);
        if (!name) invalid(`Tool message answers '${String(id)}', which no earlier assistant tool call has; Yandex needs the function name, found from that call.`);
        const result = { functionResult: { name, content: textOf(message['content'], site) } };
        const last = out[out.length - 1];
        if (last?.toolResultList) last.toolResultList.toolResults.push(result);
        else out.push({ role: 'user', toolResultList: { toolResults: [result] } });
        break;
      }
      default:
        throw errors.badRequest('unsupported_parameter', `Provider '${provider}' does not accept '${String(role)}' messages.`, `messages[${index}].role`);
    }
  }
  return out;
}
