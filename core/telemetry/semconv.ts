/**
 * The attribute names the gateway's spans carry. HTTP, server, client, URL and error attributes are
 * the stable ones of the OpenTelemetry semantic conventions (taken from
 * `@opentelemetry/semantic-conventions`). The GenAI ones follow the GenAI semantic conventions as of
 * semconv v1.37.0 — where `gen_ai.provider.name` replaced `gen_ai.system` — and as maintained since
 * in open-telemetry/semantic-conventions-genai (status: development). They are spelled here rather
 * than imported: the package marks every `gen_ai.*` constant deprecated since the move, and its
 * incubating entry point is ~0.8 MB of JavaScript to load for a dozen strings.
 */
import type { Endpoint } from '../context.js';

/** The semantic-conventions schema the spans follow (`InstrumentationScope.schemaUrl`). */
export const SCHEMA_URL = 'https://opentelemetry.io/schemas/1.37.0';

export const GEN_AI = {
  operation: 'gen_ai.operation.name',
  provider: 'gen_ai.provider.name',
  requestModel: 'gen_ai.request.model',
  requestMaxTokens: 'gen_ai.request.max_tokens',
  requestTemperature: 'gen_ai.request.temperature',
  requestTopP: 'gen_ai.request.top_p',
  responseModel: 'gen_ai.response.model',
  responseId: 'gen_ai.response.id',
  finishReasons: 'gen_ai.response.finish_reasons',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  cacheReadTokens: 'gen_ai.usage.cache_read.input_tokens',
} as const;

/** The gateway's own attributes and events, under `switchyard.`. */
export const SWITCHYARD = {
  requestId: 'switchyard.request_id',
  provider: 'switchyard.provider',
  modelKey: 'switchyard.model.key',
  org: 'switchyard.org',
  keyId: 'switchyard.key_id',
  cache: 'switchyard.cache',
  attempts: 'switchyard.attempts',
  attempt: 'switchyard.attempt',
  ttftMs: 'switchyard.ttft_ms',
  ttfbMs: 'switchyard.ttfb_ms',
  errorCode: 'switchyard.error.code',
  usageEstimated: 'switchyard.usage.estimated',
  plugin: 'switchyard.plugin',
  /** The event a plugin's refusal (a GatewayError it threw) becomes on the request span. */
  refusalEvent: 'switchyard.plugin.refusal',
} as const;

/** `gen_ai.operation.name` of each model endpoint (well-known values; images have none, `generate_content` is the nearest). */
export const OPERATION: Partial<Record<Endpoint, string>> = {
  'chat.completions': 'chat',
  completions: 'text_completion',
  embeddings: 'embeddings',
  'images.generations': 'generate_content',
};

/**
 * `gen_ai.provider.name` of each adapter: the API flavour spoken, as the convention defines it (an
 * OpenAI-compatible server behind the `openai` adapter is `openai`); adapters without a well-known
 * value use their own name.
 */
const PROVIDER_OF_ADAPTER: Record<string, string> = {
  openai: 'openai',
  anthropic: 'anthropic',
  gemini: 'gcp.gemini',
  cohere: 'cohere',
};

export function genAiProvider(adapter: string | undefined): string | undefined {
  return adapter === undefined ? undefined : (PROVIDER_OF_ADAPTER[adapter] ?? adapter);
}
