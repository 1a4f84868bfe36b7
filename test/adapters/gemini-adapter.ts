/**
 * Builds a real `gemini` adapter for the pure translation tests: settings validated (and
 * defaulted) by its schema, as the route plugin does, with debug logs captured.
 */
import { Writable } from 'node:stream';
import type { EventSourceMessage } from '../../core/http/sse.js';
import { validateAt } from '../../core/config/schema.js';
import { Catalog } from '../../core/config/catalog.js';
import { createLogger } from '../../core/log.js';
import type { UpstreamRequest } from '../../core/http/upstream.js';
import type { HttpAdapter, Operation } from '../../plugins/route/adapter.js';
import gemini from '../../plugins/route/providers/gemini/index.js';

export interface TestAdapter {
  adapter: HttpAdapter;
  logs: Record<string, unknown>[];
}

export function makeGemini(settings: Record<string, unknown> = {}): TestAdapter {
  const config: Record<string, unknown> = { api_key: 'gemini-test-key', ...settings };
  const issues = validateAt(gemini.schema, config, ['$', 'providers', 'g']);
  if (issues.length) throw new Error(JSON.stringify(issues));
  const logs: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const adapter = gemini.create(config as never, {
    provider: 'g',
    timeouts: { connectMs: 1000, firstByteMs: 1000, totalMs: 1000 },
    catalog: new Catalog([], 'test'),
    log: createLogger({ level: 'debug', destination }),
  });
  if (adapter.kind !== 'http') throw new Error('the gemini adapter is an HTTP adapter');
  return { adapter, logs };
}

/** An operation for `body` (a chat with one user turn unless the body says otherwise). */
export function geminiOp(body: Record<string, unknown>, extra: Partial<Operation> = {}): Operation {
  return {
    endpoint: 'chat.completions',
    body: extra.endpoint && extra.endpoint !== 'chat.completions' ? body : { messages: [{ role: 'user', content: 'Hi' }], ...body },
    model: 'gemini-3.8-flash',
    stream: false,
    clientWantsUsage: false,
    requestId: 'req-1',
    headers: {},
    ...extra,
  };
}

/** The request the adapter would send for `op` (the gemini adapter builds it synchronously). */
export function built(adapter: HttpAdapter, op: Operation): UpstreamRequest {
  const req = adapter.buildRequest(op);
  if (req instanceof Promise) throw new Error('expected a synchronous request');
  return req;
}

/** The JSON body the adapter would send for `op`. */
export function sentBody(adapter: HttpAdapter, op: Operation): Record<string, unknown> {
  return JSON.parse(String(built(adapter, op).body)) as Record<string, unknown>;
}

/** An SSE event as the shared reader yields it. */
export function sse(data: unknown): EventSourceMessage {
  return { event: undefined, id: undefined, data: typeof data === 'string' ? data : JSON.stringify(data) };
}

/** What `fn` throws (undefined when it returns). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}
