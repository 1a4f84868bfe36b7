/**
 * The Anthropic Messages dialect: `POST /v1/messages` (operation `create`) and
 * `POST /v1/messages/count_tokens` (operation `count_tokens`) served through the chat pipeline.
 * Request: anthropic-request.ts; complete answers and errors: anthropic-response.ts; streams:
 * anthropic-stream.ts. Reference: https://docs.anthropic.com/en/api/messages.
 */
import type { Dialect } from './dialect.js';
import { anthropicToChat } from './anthropic-request.js';
import { anthropicError, messageFromChat } from './anthropic-response.js';
import { translateChatStream } from './anthropic-stream.js';

export const anthropicDialect: Dialect = {
  name: 'anthropic',
  toChat: (body, operation) => {
    const { chat, extra } = anthropicToChat(body, operation);
    return { chat, extra: { ...extra } };
  },
  fromChat: messageFromChat,
  stream: translateChatStream,
  errorBody: anthropicError,
};
