/**
 * The `cohere` adapter as the translation tests build it (provider `co`, an API key), and
 * operations for it; the rest of the harness is in harness.ts.
 */
import cohere from '../../plugins/route/providers/cohere/index.js';
import { makeAdapter, operations, type TestAdapter } from './harness.js';

export function makeCohere(settings: Record<string, unknown> = {}): TestAdapter {
  return makeAdapter(cohere, { api_key: 'co-test-key-0123456789', ...settings }, { provider: 'co' });
}

/** A chat operation for `body` (one user turn unless the body says otherwise); `extra.endpoint` switches to embeddings. */
export const cohereOp = operations('command-a-03-2025', { embeddings: 'embed-v4.0' });
