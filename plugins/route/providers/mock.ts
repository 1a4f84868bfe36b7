/**
 * `mock`: an offline provider. Deterministic — the same request always gets the same content —
 * so the quickstart works with no keys and no network, and tests can assert exact answers. It
 * answers from text; it takes the content parts OpenAI defines and, like OpenAI, refuses others.
 */
import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { readSchema } from '../../../core/config/schema.js';
import { parseDuration } from '../../../core/config/units.js';
import type { Usage } from '../../../core/context.js';
import { defineAdapter, type LocalAdapter, type LocalResult, type Operation } from '../adapter.js';
import { contentText, unsupportedPart } from '../openai-request.js';
import { embeddingList, makeUsage } from '../openai-shape.js';
import type { MockConfig } from '../../../schemas/types/providers/mock.js';

/** Provider settings; see `schemas/providers/mock.schema.json` for each field. */
export type { MockConfig };

/** A 1×1 transparent PNG. */
const PIXEL_PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

/** The chat content part types OpenAI defines (ChatCompletionRequestMessageContentPart). */
const OPENAI_PART_TYPES: ReadonlySet<unknown> = new Set(['text', 'image_url', 'input_audio', 'file', 'refusal']);

/** A 400 naming the first content part of a type OpenAI does not define: the mock stands in for an OpenAI model. */
function checkPartTypes(messages: unknown, provider: string): void {
  if (!Array.isArray(messages)) return;
  messages.forEach((message, index) => {
    const content = (message as { content?: unknown } | null)?.content;
    if (!Array.isArray(content)) return;
    content.forEach((part, j) => {
      const type = (part as { type?: unknown } | null)?.type;
      if (!OPENAI_PART_TYPES.has(type)) throw unsupportedPart({ provider, index }, j, type);
    });
  });
}

/** Rough token estimate: 4 characters per token, at least 1 for non-empty text. */
export function estimateTokens(text: string): number {
  return text.length === 0 ? 0 : Math.max(1, Math.ceil(text.length / 4));
}

/** The text the mock answers with for a chat or completion request. */
export function mockReply(op: Operation): { reply: string; promptText: string } {
  if (op.endpoint === 'completions') {
    const prompt = op.body['prompt'];
    const text = Array.isArray(prompt) ? prompt.map(String).join('\n') : String(prompt ?? '');
    return { reply: text, promptText: text };
  }
  const messages = (op.body['messages'] as { role: string; content: unknown }[]) ?? [];
  const lastUser = [...messages].reverse().find((m) => m.role === 'user');
  return { reply: lastUser ? contentText(lastUser.content) : '', promptText: messages.map((m) => contentText(m.content)).join('\n') };
}

function usageOf(prompt: string, completion: string): Usage {
  const p = estimateTokens(prompt);
  const c = estimateTokens(completion);
  return { prompt_tokens: p, completion_tokens: c, total_tokens: p + c };
}

/** Unit vector from sha256(text), repeated to the requested length. */
export function mockEmbedding(text: string, dimensions: number): number[] {
  const vector: number[] = [];
  let block = createHash('sha256').update(text).digest();
  while (vector.length < dimensions) {
    for (let i = 0; i + 1 < block.length && vector.length < dimensions; i += 2) vector.push(block.readUInt16BE(i) / 65535 - 0.5);
    block = createHash('sha256').update(block).digest();
  }
  const norm = Math.hypot(...vector) || 1;
  return vector.map((v) => Math.round((v / norm) * 1e6) / 1e6);
}

export default defineAdapter<MockConfig>({
  name: 'mock',
  schema: readSchema('providers/mock'),
  create(config, env): LocalAdapter {
    const latency = parseDuration(config.latency) ?? 0;
    const chunkDelay = parseDuration(config.chunk_delay) ?? 0;

    async function serve(op: Operation, signal: AbortSignal): Promise<LocalResult> {
      if (latency) await sleep(latency, undefined, { signal });
      const created = Math.floor(Date.now() / 1000);
      switch (op.endpoint) {
        case 'embeddings': {
          const input = op.body['input'];
          const inputs = Array.isArray(input) ? input.map((i) => (typeof i === 'string' ? i : JSON.stringify(i))) : [String(input)];
          const dims = typeof op.body['dimensions'] === 'number' ? op.body['dimensions'] : config.embedding_dimensions;
          const usage = makeUsage(inputs.reduce((n, t) => n + estimateTokens(t), 0), 0);
          const vectors = inputs.map((text) => mockEmbedding(text, dims));
          return { kind: 'json', response: { body: embeddingList(op.model, vectors, usage, op.body['encoding_format']), usage } };
        }
        case 'images.generations': {
          const n = typeof op.body['n'] === 'number' ? op.body['n'] : 1;
          const asUrl = op.body['response_format'] === 'url';
          const data = Array.from({ length: n }, () => (asUrl ? { url: `data:image/png;base64,${PIXEL_PNG}` } : { b64_json: PIXEL_PNG }));
          return { kind: 'json', response: { body: { created, data }, usage: { prompt_tokens: estimateTokens(String(op.body['prompt'])), completion_tokens: 0, total_tokens: estimateTokens(String(op.body['prompt'])) } } };
        }
        case 'chat.completions':
        case 'completions': {
          if (op.endpoint === 'chat.completions') checkPartTypes(op.body['messages'], env.provider);
          const { reply, promptText } = mockReply(op);
          const usage = usageOf(promptText, reply);
          const chat = op.endpoint === 'chat.completions';
          const id = `${chat ? 'chatcmpl' : 'cmpl'}-mock-${randomUUID()}`;
          if (!op.stream) {
            const choice = chat
              ? { index: 0, message: { role: 'assistant', content: reply, refusal: null }, logprobs: null, finish_reason: 'stop' }
              : { index: 0, text: reply, logprobs: null, finish_reason: 'stop' };
            const body = { id, object: chat ? 'chat.completion' : 'text_completion', created, model: op.model, system_fingerprint: 'switchyard-mock', choices: [choice], usage: { ...usage } };
            return { kind: 'json', response: { body, usage } };
          }
          const object = chat ? 'chat.completion.chunk' : 'text_completion';
          const chunk = (delta: Record<string, unknown> | string, finish: string | null) => ({
            id,
            object,
            created,
            model: op.model,
            system_fingerprint: 'switchyard-mock',
            choices: [chat ? { index: 0, delta, logprobs: null, finish_reason: finish } : { index: 0, text: delta, logprobs: null, finish_reason: finish }],
          });
          const words = reply.split(/(?<=\s)/);
          async function* chunks(): AsyncGenerator<unknown> {
            if (chat) yield chunk({ role: 'assistant', content: '' }, null);
            for (let i = 0; i < words.length; i += config.words_per_chunk) {
              if (chunkDelay && i > 0) await sleep(chunkDelay, undefined, { signal });
              const text = words.slice(i, i + config.words_per_chunk).join('');
              yield chunk(chat ? { content: text } : text, null);
            }
            yield chunk(chat ? {} : '', 'stop');
            if (op.clientWantsUsage) yield { id, object, created, model: op.model, choices: [], usage: { ...usage } };
          }
          return { kind: 'stream', chunks: chunks(), usage: () => usage };
        }
      }
    }
    return { kind: 'local', supports: () => true, serve };
  },
});
