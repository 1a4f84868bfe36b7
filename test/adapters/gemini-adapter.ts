/**
 * The `gemini` adapter as the translation tests build it (provider `g`, an API key), and
 * operations for it; the rest of the harness is in harness.ts.
 */
import gemini from '../../plugins/route/providers/gemini/index.js';
import { makeAdapter, operations, type TestAdapter } from './harness.js';

export function makeGemini(settings: Record<string, unknown> = {}): TestAdapter {
  return makeAdapter(gemini, { api_key: 'gemini-test-key', ...settings }, { provider: 'g' });
}

/** An operation for `body` (a chat with one user turn unless the body says otherwise). */
export const geminiOp = operations('gemini-3.8-flash');
