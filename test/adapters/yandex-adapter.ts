/**
 * The `yandex` adapter as the translation tests build it (provider `yc`, folder `b1gfolder`, an
 * API key), and operations for it; the rest of the harness is in harness.ts.
 */
import type { EventSourceMessage } from '../../core/http/sse.js';
import type { Operation } from '../../plugins/route/adapter.js';
import yandex from '../../plugins/route/providers/yandex/index.js';
import { makeAdapter, operations, sse, type TestAdapter } from './harness.js';

/** Settings default to folder `b1gfolder` and an API key; pass `api_key: undefined` to drop it. */
export function makeYandex(settings: Record<string, unknown> = {}): TestAdapter {
  return makeAdapter(yandex, { folder_id: 'b1gfolder', api_key: 'AQVN-test-key-123', ...settings }, { provider: 'yc' });
}

/** A chat operation for `body` (messages default to one user turn). */
export const chatOp = operations('yandexgpt-lite');

export function embeddingOp(body: Record<string, unknown>, model = 'text-search-doc'): Operation {
  return chatOp(body, { endpoint: 'embeddings', model, requestId: 'req-e' });
}

/** An NDJSON line as the shared reader yields it. */
export const line = (value: unknown): EventSourceMessage => sse(value);
