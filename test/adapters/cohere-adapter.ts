/**
 * Builds a real `cohere` adapter for the pure translation tests: settings validated (and
 * defaulted) by its schema, as the route plugin does, with debug logs captured.
 */
import { Writable } from 'node:stream';
import type { EventSourceMessage } from '../../core/http/sse.js';
import { validateAt } from '../../core/config/schema.js';
import { Catalog } from '../../core/config/catalog.js';
import { createLogger } from '../../core/log.js';
import type { UpstreamRequest } from '../../core/http/upstream.js';
import type { HttpAdapter, Operation } from '../../plugins/route/adapter.js';
import cohere from '../../plugins/route/providers/cohere/index.js';

export interface TestAdapter {
  adapter: HttpAdapter;
  logs: Record<string, unknown>[];
}

export function makeCohere(settings: Record<string, unknown> = {}): TestAdapter {
  const config: Record<string, unknown> = { api_key: 'co-test-key-0123456789', ...settings };
  const issues = validateAt(cohere.schema, config, ['$', 'providers', 'co']);
  if (issues.length) throw new Error(JSON.stringify(issues));
  const logs: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const adapter = cohere.create(config as never, {
    provider: 'co',
    timeouts: { connectMs: 1000, firstByteMs: 1000, totalMs: 1000 },
    catalog: new Catalog([], 'test'),
    log: createLogger({ level: 'debug', destination }),
  });
  if (adapter.kind !== 'http') throw new Error('the cohere adapter is an HTTP adapter');
  return { adapter, logs };
}

/** A chat operation for `body` (one user turn unless the body says otherwise); `extra.endpoint` switches to embeddings. */
export function cohereOp(body: Record<string, unknown>, extra: Partial<Operation> = {}): Operation {
  return {
    endpoint: 'chat.completions',
    body: extra.endpoint === 'embeddings' ? body : { messages: [{ role: 'user', content: 'Hi' }], ...body },
    model: extra.endpoint === 'embeddings' ? 'embed-v4.0' : 'command-a-03-2025',
    stream: false,
    clientWantsUsage: false,
    requestId: 'req-1',
    headers: {},
    ...extra,
  };
}

/** The request the adapter would send for `op` (the cohere adapter builds it synchronously). */
export function built(adapter: HttpAdapter, op: Operation): UpstreamRequest {
  const req = adapter.buildRequest(op);
  if (req instanceof Promise) throw new Error('expected a synchronous request');
  return req;
}

/** The JSON body the adapter would send for `op`. */
export function sentBody(adapter: HttpAdapter, op: Operation): Record<string, unknown> {
  return JSON.parse(String(built(adapter, op).body)) as Record<string, unknown>;
}

/** An SSE event as the shared reader yields it (Cohere names each event in an `event:` line). */
export function sse(data: unknown, event?: string): EventSourceMessage {
  return { event, id: undefined, data: typeof data === 'string' ? data : JSON.stringify(data) };
}
