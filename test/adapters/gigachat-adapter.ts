/**
 * The `gigachat` adapter as the translation tests build it (provider `giga`), with a loopback
 * token endpoint (gigachat-wire.ts) so `buildRequest` gets a real access token through a real
 * upstream client; the rest of the harness is in harness.ts.
 */
import type { Test } from 'tap';
import { UpstreamClient } from '../../core/http/upstream.js';
import gigachat from '../../plugins/route/providers/gigachat/index.js';
import { makeAdapter, operations, type TestAdapter } from './harness.js';
import { startAuthServer, type AuthServer } from './gigachat-wire.js';

/** A gigachat adapter whose token endpoint is a loopback server; everything is closed on `t`'s teardown. */
export async function makeGigachat(t: Test, settings: Record<string, unknown> = {}): Promise<TestAdapter & { auth: AuthServer }> {
  const auth = await startAuthServer();
  const upstream = new UpstreamClient(4);
  t.teardown(async () => {
    await upstream.close();
    await auth.close();
  });
  const config = { base_url: 'http://127.0.0.1:9/api/v1', auth_url: auth.url, credentials: 'a2V5OnNlY3JldA==', ...settings };
  return { ...makeAdapter(gigachat, config, { provider: 'giga', totalMs: 2000, upstream }), auth };
}

/** A chat operation for `body` (messages default to one user turn). */
export const chatOp = operations('GigaChat-2-Max');
