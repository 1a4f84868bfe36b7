/**
 * Gemini `functionCall` parts → OpenAI tool calls. Gemini usually sends no call id, but OpenAI
 * clients need one to answer the call, so one is derived from the response id, the candidate, the
 * call's position and its content: the same upstream answer always yields the same ids (a retried
 * or replayed translation agrees with the first), and two responses never share one. An id Gemini
 * did send is kept, and echoed back on the call and its `functionResponse`. The thought signature
 * rides along in `extra_content.google.thought_signature`, the field Google's own OpenAI
 * compatibility endpoint uses for it (https://ai.google.dev/gemini-api/docs/thought-signatures), so
 * a client that returns the assistant message as it got it returns the signature too.
 */
import { createHash } from 'node:crypto';
import type { OpenAIToolCall } from '../../openai-shape.js';
import type { GeminiPart } from './wire.js';

const SYNTHETIC = /^call_\d+_[0-9a-f]{16}$/;

/** True for ids this adapter made up (they mean nothing to Gemini and are not sent back). */
export function isSyntheticCallId(id: string): boolean {
  return SYNTHETIC.test(id);
}

/** An OpenAI tool call, with the thought signature Gemini attached to it (if any). */
export type GeminiToolCall = OpenAIToolCall & { extra_content?: { google: { thought_signature: string } } };

/** Where a call sits, for its synthesized id. */
export interface CallSite {
  responseId: string;
  candidate: number;
  index: number;
}

/** One `functionCall` part as an OpenAI tool call (arguments as JSON text). */
export function toolCallFrom(part: GeminiPart, site: CallSite): GeminiToolCall {
  const fc = part.functionCall!;
  const args = JSON.stringify(fc.args ?? {});
  const id =
    fc.id ??
    `call_${site.index}_${createHash('sha256').update(`${site.responseId}\u0000${site.candidate}\u0000${site.index}\u0000${fc.name}\u0000${args}`).digest('hex').slice(0, 16)}`;
  const call: GeminiToolCall = { id, type: 'function', function: { name: fc.name, arguments: args } };
  if (part.thoughtSignature) call.extra_content = { google: { thought_signature: part.thoughtSignature } };
  return call;
}
