/**
 * The OpenAI Responses API (`POST /v1/responses`) as an inbound dialect: its request becomes a chat
 * request before any plugin runs, and the chat answer, stream or error is written back as a
 * Response, a Responses event stream or OpenAI's error envelope.
 * Reference: https://platform.openai.com/docs/api-reference/responses
 *
 * - request: `responses-request.ts` (items, tools, `text.format`, `reasoning`, …)
 * - answer:  `responses-response.ts` (Response object, ids, usage)
 * - stream:  `responses-stream.ts` (the `response.*` event sequence)
 */
import type { Dialect } from './dialect.js';
import { responsesToChat } from './responses-request.js';
import { chatToResponse } from './responses-response.js';
import { ResponsesStreamTranslator } from './responses-stream.js';

export { responseIdFor } from './responses-response.js';
export type { ResponsesExtra } from './responses-request.js';

export const responsesDialect: Dialect = {
  name: 'responses',
  toChat(body) {
    const { chat, extra } = responsesToChat(body);
    return { chat, extra: { ...extra } };
  },
  fromChat: chatToResponse,
  stream: (inbound, requestId) => new ResponsesStreamTranslator(inbound, requestId),
  errorBody: (error, requestId) => ({ status: error.status, body: error.toEnvelope(requestId) }),
};
