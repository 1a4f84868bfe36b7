/**
 * Builders for the OpenAI response objects every translating adapter emits (chat.completion,
 * chat.completion.chunk, embeddings list), so each adapter maps only what differs: its own fields.
 * Shapes are the `openai` package's types (type-only imports: nothing of the SDK runs here).
 */
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionMessage, ChatCompletionMessageFunctionToolCall } from 'openai/resources/chat/completions';
import type { CompletionUsage } from 'openai/resources/completions';
import type { CreateEmbeddingResponse, Embedding } from 'openai/resources/embeddings';
import type { Usage } from '../../core/context.js';

/** The finish reasons adapters report; the deprecated `function_call` is never produced. */
export type FinishReason = Exclude<ChatCompletion.Choice['finish_reason'], 'function_call'>;

export type OpenAIToolCall = ChatCompletionMessageFunctionToolCall;

/** One `delta` of a streamed choice. */
export type ChunkDelta = ChatCompletionChunk.Choice.Delta;

/** Our usage → OpenAI's usage object (details only when the provider reported them). */
export function openAIUsage(usage: Usage): CompletionUsage {
  const out: CompletionUsage = { prompt_tokens: usage.prompt_tokens, completion_tokens: usage.completion_tokens, total_tokens: usage.total_tokens };
  if (usage.cached_tokens !== undefined) out.prompt_tokens_details = { cached_tokens: usage.cached_tokens };
  // Not in OpenAI's schema (OpenRouter's name): cache writes, which the Anthropic dialect reports back.
  if (usage.cache_write_tokens) out.prompt_tokens_details = { ...out.prompt_tokens_details, cache_write_tokens: usage.cache_write_tokens } as CompletionUsage.PromptTokensDetails;
  // Only when some writes had the 1-hour TTL: the split under LiteLLM's name, with Anthropic's field names.
  if (usage.cache_write_tokens && usage.cache_write_1h_tokens) {
    const oneHour = Math.min(usage.cache_write_1h_tokens, usage.cache_write_tokens);
    const split = { ephemeral_5m_input_tokens: usage.cache_write_tokens - oneHour, ephemeral_1h_input_tokens: oneHour };
    out.prompt_tokens_details = { ...out.prompt_tokens_details, cache_creation_token_details: split } as CompletionUsage.PromptTokensDetails;
  }
  if (usage.reasoning_tokens !== undefined) out.completion_tokens_details = { reasoning_tokens: usage.reasoning_tokens };
  return out;
}

export function makeUsage(prompt: number, completion: number, extra: { cached?: number; reasoning?: number } = {}): Usage {
  const usage: Usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  if (extra.cached !== undefined) usage.cached_tokens = extra.cached;
  if (extra.reasoning !== undefined) usage.reasoning_tokens = extra.reasoning;
  return usage;
}

export interface CompletionParts {
  id: string;
  model: string;
  created?: number;
  content: string | null;
  toolCalls?: OpenAIToolCall[];
  finishReason: FinishReason;
  usage?: Usage;
}

export function chatCompletion(p: CompletionParts): ChatCompletion {
  const message: ChatCompletionMessage = { role: 'assistant', content: p.content, refusal: null };
  if (p.toolCalls?.length) message.tool_calls = p.toolCalls;
  const body: ChatCompletion = {
    id: p.id,
    object: 'chat.completion',
    created: p.created ?? Math.floor(Date.now() / 1000),
    model: p.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: p.finishReason }],
  };
  if (p.usage) body.usage = openAIUsage(p.usage);
  return body;
}

/** Stamps chunks of one stream with a shared id, model and creation time. */
export class ChunkFactory {
  readonly created = Math.floor(Date.now() / 1000);
  constructor(
    readonly id: string,
    readonly model: string,
  ) {}

  /** One choice's delta; `index` is the choice's (several only when the provider answers with several candidates). */
  chunk(delta: ChunkDelta, finishReason: FinishReason | null = null, index = 0): ChatCompletionChunk {
    return { id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [{ index, delta, logprobs: null, finish_reason: finishReason }] };
  }

  /** The final `choices: []` chunk carrying usage (`stream_options.include_usage`). */
  usage(usage: Usage): ChatCompletionChunk {
    return { id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [], usage: openAIUsage(usage) };
  }
}

/** OpenAI's embeddings list, looser than the SDK's type: with `encoding_format: base64` OpenAI sends each vector as a string. */
export type EmbeddingList = Omit<CreateEmbeddingResponse, 'data'> & { data: (Omit<Embedding, 'embedding'> & { embedding: number[] | string })[] };

/**
 * An embeddings list. With the request's `encoding_format: base64` each vector goes out as OpenAI
 * sends it then: the base64 of its float32 bytes (little-endian), which the `openai` SDKs decode.
 */
export function embeddingList(model: string, vectors: number[][], usage: Usage, encodingFormat?: unknown): EmbeddingList {
  const base64 = encodingFormat === 'base64';
  return {
    object: 'list',
    data: vectors.map((vector, index) => ({ object: 'embedding', index, embedding: base64 ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector })),
    model,
    usage: { prompt_tokens: usage.prompt_tokens, total_tokens: usage.total_tokens },
  };
}
