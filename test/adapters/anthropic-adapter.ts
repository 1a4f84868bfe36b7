/**
 * Builds a real `anthropic` adapter for the pure translation tests: settings validated (and
 * defaulted) by its schema, as the route plugin does, with debug logs captured.
 */
import { Writable } from 'node:stream';
import type { UpstreamRequest } from '../../core/http/upstream.js';
import type { EventSourceMessage } from '../../core/http/sse.js';
import { validateAt } from '../../core/config/schema.js';
import { Catalog } from '../../core/config/catalog.js';
import { createLogger } from '../../core/log.js';
import type { HttpAdapter, Operation } from '../../plugins/route/adapter.js';
import anthropic from '../../plugins/route/providers/anthropic/index.js';

export interface TestAdapter {
  adapter: HttpAdapter;
  logs: Record<string, unknown>[];
}

export function makeAdapter(settings: Record<string, unknown> = {}): TestAdapter {
  const config: Record<string, unknown> = { api_key: 'sk-ant-test', ...settings };
  const issues = validateAt(anthropic.schema, config, ['$', 'providers', 'claude']);
  if (issues.length) throw new Error(JSON.stringify(issues));
  const logs: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const adapter = anthropic.create(config as never, {
    provider: 'claude',
    timeouts: { connectMs: 1000, firstByteMs: 1000, totalMs: 1000 },
    catalog: new Catalog([], 'test'),
    log: createLogger({ level: 'debug', destination }),
  });
  if (adapter.kind !== 'http') throw new Error('the anthropic adapter is an HTTP adapter');
  return { adapter, logs };
}

/** A chat operation for `body` (messages default to one user turn). */
export function chatOp(body: Record<string, unknown>, extra: Partial<Operation> = {}): Operation {
  return {
    endpoint: 'chat.completions',
    body: { messages: [{ role: 'user', content: 'Hi' }], ...body },
    model: 'claude-sonnet-5-5',
    stream: false,
    clientWantsUsage: false,
    requestId: 'req-1',
    headers: {},
    ...extra,
  };
}

/** The request the adapter builds for `op` (this adapter builds synchronously; the contract allows a Promise). */
export function built(adapter: HttpAdapter, op: Operation): UpstreamRequest {
  const req = adapter.buildRequest(op);
  if (req instanceof Promise) throw new Error('expected a synchronous buildRequest');
  return req;
}

/** The JSON body the adapter would send for `op`. */
export function sentBody(adapter: HttpAdapter, op: Operation): Record<string, unknown> {
  return JSON.parse(String(built(adapter, op).body)) as Record<string, unknown>;
}

/** An SSE event as the shared reader yields it. */
export function sse(data: unknown, event?: string): EventSourceMessage {
  return { event, id: undefined, data: typeof data === 'string' ? data : JSON.stringify(data) };
}
