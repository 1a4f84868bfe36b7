/**
 * The `anthropic` adapter as the translation tests build it (provider `claude`, an API key), and
 * chat operations for it; the rest of the harness is in harness.ts.
 */
import anthropic from '../../plugins/route/providers/anthropic/index.js';
import { makeAdapter, operations, type TestAdapter } from './harness.js';

export function makeAnthropic(settings: Record<string, unknown> = {}): TestAdapter {
  return makeAdapter(anthropic, { api_key: 'sk-ant-test', ...settings }, { provider: 'claude' });
}

/** A chat operation for `body` (messages default to one user turn). */
export const chatOp = operations('claude-sonnet-5-5');
