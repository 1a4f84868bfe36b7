/**
 * OpenAI chat `messages` → Gemini `systemInstruction` + `contents`
 * (https://ai.google.dev/api/generate-content#request-body). System and developer messages become
 * the system instruction (Gemini has one, so all of them are collected in order); user and
 * assistant turns become `user` / `model` contents; assistant `tool_calls` become `functionCall`
 * parts and tool results `functionResponse` parts in a `user` turn, as the function-calling guide
 * shows (https://ai.google.dev/gemini-api/docs/function-calling). Gemini function calls carry no
 * id of their own, so a tool result's function name is recovered from the assistant tool call it
 * answers. A legacy assistant `function_call` becomes a `functionCall` part, as a `tool_calls` entry does.
 */
import { errors } from '../../../../core/errors.js';
import { assistantText, plainText, readDataUrl, toolNameFor, unsupportedPart, type MessageSite } from '../../openai-request.js';
import { isSyntheticCallId } from './tool-calls.js';
import type { GeminiContent, GeminiPart } from './wire.js';

/**
 * Gemini 3 rejects a replayed function call without the thought signature it came with. Clients
 * that drop `extra_content` (or histories from another model) get this value instead, which the
 * thought-signatures guide documents for exactly that case
 * (https://ai.google.dev/gemini-api/docs/thought-signatures).
 */
export const SKIP_SIGNATURE = 'skip_thought_signature_validator';

interface ToolCallIn {
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string };
  extra_content?: { google?: { thought_signature?: string } };
}

interface MessageIn {
  role?: string;
  content?: unknown;
  name?: string;
  tool_call_id?: string;
  tool_calls?: ToolCallIn[];
  function_call?: { name?: string; arguments?: string } | null;
  refusal?: string | null;
}

/** The two request fields the messages turn into. */
export interface TranslatedMessages {
  systemInstruction?: GeminiContent;
  contents: GeminiContent[];
}

/**
 * Translates `messages`; throws a 400 for a turn Gemini cannot take (unknown role, a content part
 * it cannot read, unmatched tool result, bad arguments).
 */
export function translateMessages(raw: unknown, provider: string): TranslatedMessages {
  const messages = (Array.isArray(raw) ? raw : []) as MessageIn[];

  const system: GeminiPart[] = [];
  const contents: GeminiContent[] = [];
  messages.forEach((m, i) => {
    const site: MessageSite = { provider, index: i, hint: ` in '${String(m.role)}' messages` };
    switch (m.role) {
      case 'system':
      case 'developer':
        system.push({ text: plainText(m.content, site) });
        return;
      case 'user':
        contents.push({ role: 'user', parts: nonEmpty(userParts(m.content, site)) });
        return;
      case 'assistant':
        contents.push({ role: 'model', parts: nonEmpty(assistantParts(m, site)) });
        return;
      case 'tool':
      case 'function': {
        const part = functionResponsePart(m, site, toolNameFor(messages, i, m.tool_call_id));
        const last = contents[contents.length - 1];
        // Parallel calls are answered together: all results in one user turn, in call order.
        if (last?.role === 'user' && last.parts.every((p) => p.functionResponse)) last.parts.push(part);
        else contents.push({ role: 'user', parts: [part] });
        return;
      }
      default:
        throw errors.badRequest('invalid_message', `messages[${i}]: unknown role '${String(m.role)}'.`, `messages[${i}].role`);
    }
  });
  const out: TranslatedMessages = { contents };
  if (system.length) out.systemInstruction = { parts: system };
  return out;
}

function nonEmpty(parts: GeminiPart[]): GeminiPart[] {
  return parts.length ? parts : [{ text: '' }];
}

function userParts(content: unknown, site: MessageSite): GeminiPart[] {
  if (typeof content === 'string') return [{ text: content }];
  if (!Array.isArray(content)) return [];
  return content.map((raw, j) => {
    const p = (raw ?? {}) as Record<string, unknown>;
    const where = `messages[${site.index}].content[${j}]`;
    switch (p['type']) {
      case 'text':
        return { text: String(p['text'] ?? '') };
      case 'image_url': {
        const url = (p['image_url'] as { url?: unknown } | undefined)?.url;
        return mediaPart(typeof url === 'string' ? url : '', where);
      }
      case 'input_audio': {
        const audio = (p['input_audio'] ?? {}) as { data?: string; format?: string };
        return { inlineData: { mimeType: `audio/${audio.format ?? 'wav'}`, data: String(audio.data ?? '') } };
      }
      case 'file': {
        const data = (p['file'] as { file_data?: unknown } | undefined)?.file_data;
        if (typeof data !== 'string' || !data.startsWith('data:')) {
          throw errors.badRequest('unsupported_parameter', `${where}: Gemini reads files sent inline as a data: URL in 'file_data'; file ids are not supported.`, where);
        }
        return mediaPart(data, where);
      }
      default:
        throw unsupportedPart(site, j, p['type']);
    }
  });
}

/** A `data:` URL is sent inline; an http(s) or gs:// URL is fetched by Gemini (`fileData`). */
function mediaPart(url: string, where: string): GeminiPart {
  const inlineData = readDataUrl(url);
  if (inlineData) return { inlineData };
  if (/^(https?|gs):\/\//i.test(url)) {
    const mimeType = mimeFromPath(url);
    return { fileData: mimeType ? { fileUri: url, mimeType } : { fileUri: url } };
  }
  throw errors.badRequest('invalid_image_url', `${where}: the URL must be a data: URL or an http(s) URL.`, where);
}

const MIME_BY_EXTENSION: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  heic: 'image/heic',
  heif: 'image/heif',
  pdf: 'application/pdf',
};

function mimeFromPath(url: string): string | undefined {
  const path = url.split(/[?#]/)[0] ?? '';
  const ext = /\.([a-z0-9]+)$/i.exec(path)?.[1]?.toLowerCase();
  return ext ? MIME_BY_EXTENSION[ext] : undefined;
}

function assistantParts(m: MessageIn, site: MessageSite): GeminiPart[] {
  const i = site.index;
  const parts: GeminiPart[] = [];
  const text = assistantText(m as Readonly<Record<string, unknown>>, site);
  if (text) parts.push({ text });
  if (m.function_call) {
    const name = m.function_call.name;
    if (!name) throw errors.badRequest('invalid_tool_call', `messages[${i}].function_call: missing function name.`, `messages[${i}].function_call`);
    parts.push({ functionCall: { name, args: parseArguments(m.function_call.arguments, `messages[${i}].function_call`) }, thoughtSignature: SKIP_SIGNATURE });
  }
  (m.tool_calls ?? []).forEach((tc, j) => {
    const name = tc.function?.name;
    if (!name) throw errors.badRequest('invalid_tool_call', `messages[${i}].tool_calls[${j}]: missing function name.`, `messages[${i}].tool_calls`);
    const call: GeminiPart['functionCall'] = { name, args: parseArguments(tc.function?.arguments, `messages[${i}].tool_calls[${j}]`) };
    if (tc.id && !isSyntheticCallId(tc.id)) call.id = tc.id;
    const part: GeminiPart = { functionCall: call };
    // Only the first call of a step carries the signature (thought-signatures guide, parallel calls).
    const signature = tc.extra_content?.google?.thought_signature ?? (j === 0 ? SKIP_SIGNATURE : undefined);
    if (signature) part.thoughtSignature = signature;
    parts.push(part);
  });
  return parts;
}

function parseArguments(text: string | undefined, where: string): Record<string, unknown> {
  if (!text) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw errors.badRequest('invalid_tool_call', `${where}: 'arguments' is not valid JSON.`, where);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw errors.badRequest('invalid_tool_call', `${where}: 'arguments' must be a JSON object.`, where);
  }
  return value as Record<string, unknown>;
}

/** `callName`: the function of the assistant tool call this result answers, when one has its id. */
function functionResponsePart(m: MessageIn, site: MessageSite, callName: string | undefined): GeminiPart {
  const i = site.index;
  const name = callName || m.name;
  if (!name) {
    throw errors.badRequest('unknown_tool_call', `messages[${i}]: tool_call_id '${String(m.tool_call_id)}' does not match any assistant tool call; Gemini needs the function name.`, `messages[${i}].tool_call_id`);
  }
  const text = plainText(m.content, site);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  // Gemini wants an object; a JSON object result is passed as is, anything else under `output`.
  const response = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : { output: parsed ?? text };
  const part: GeminiPart = { functionResponse: { name, response } };
  if (m.tool_call_id && !isSyntheticCallId(m.tool_call_id)) part.functionResponse!.id = m.tool_call_id;
  return part;
}
