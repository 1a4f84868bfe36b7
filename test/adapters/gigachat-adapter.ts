/**
 * Builds a real `gigachat` adapter for the translation tests: settings validated (and defaulted)
 * by its schema as the route plugin does, debug logs captured, and a loopback token endpoint
 * (gigachat-wire.ts) so `buildRequest` gets a real access token through a real upstream client.
 */
import type { Test } from 'tap';
import { Writable } from 'node:stream';
import type { EventSourceMessage } from '../../core/http/sse.js';
import { validateAt } from '../../core/config/schema.js';
import { Catalog } from '../../core/config/catalog.js';
import { createLogger } from '../../core/log.js';
import { UpstreamClient } from '../../core/http/upstream.js';
import type { HttpAdapter, Operation } from '../../plugins/route/adapter.js';
import gigachat from '../../plugins/route/providers/gigachat/index.js';
import { startAuthServer, type AuthServer } from './gigachat-wire.js';

export interface TestAdapter {
  adapter: HttpAdapter;
  auth: AuthServer;
  logs: Record<string, unknown>[];
}

/** A gigachat adapter whose token endpoint is a loopback server; everything is closed on `t`'s teardown. */
export async function makeAdapter(t: Test, settings: Record<string, unknown> = {}): Promise<TestAdapter> {
  const auth = await startAuthServer();
  const upstream = new UpstreamClient(4);
  t.teardown(async () => {
    await upstream.close();
    await auth.close();
  });
  const config: Record<string, unknown> = { base_url: 'http://127.0.0.1:9/api/v1', auth_url: auth.url, credentials: 'a2V5OnNlY3JldA==', ...settings };
  const issues = validateAt(gigachat.schema, config, ['$', 'providers', 'giga']);
  if (issues.length) throw new Error(JSON.stringify(issues));
  const logs: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const adapter = gigachat.create(config as never, {
    provider: 'giga',
    timeouts: { connectMs: 1000, firstByteMs: 1000, totalMs: 2000 },
    catalog: new Catalog([], 'test'),
    log: createLogger({ level: 'debug', destination }),
    upstream,
  });
  if (adapter.kind !== 'http') throw new Error('the gigachat adapter is an HTTP adapter');
  return { adapter, auth, logs };
}

/** A chat operation for `body` (messages default to one user turn). */
export function chatOp(body: Record<string, unknown>, extra: Partial<Operation> = {}): Operation {
  return {
    endpoint: 'chat.completions',
    body: { messages: [{ role: 'user', content: 'Hi' }], ...body },
    model: 'GigaChat-2-Max',
    stream: false,
    clientWantsUsage: false,
    requestId: 'req-1',
    headers: {},
    ...extra,
  };
}

/** The JSON body the adapter would send for `op`. */
export async function sentBody(adapter: HttpAdapter, op: Operation): Promise<Record<string, unknown>> {
  return JSON.parse(String((await adapter.buildRequest(op)).body)) as Record<string, unknown>;
}

/** An SSE event as the shared reader yields it. */
export function sse(data: unknown): EventSourceMessage {
  return { event: undefined, id: undefined, data: typeof data === 'string' ? data : JSON.stringify(data) };
}
