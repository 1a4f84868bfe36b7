/**
 * Builds a real `yandex` adapter for the pure translation tests: settings validated (and
 * defaulted) by its schema, as the route plugin does, with debug logs captured.
 */
import { Writable } from 'node:stream';
import type { Test } from 'tap';
import { validateAt } from '../../core/config/schema.js';
import { Catalog } from '../../core/config/catalog.js';
import { GatewayError } from '../../core/errors.js';
import { createLogger } from '../../core/log.js';
import type { EventSourceMessage } from '../../core/http/sse.js';
import type { HttpAdapter, Operation } from '../../plugins/route/adapter.js';
import yandex from '../../plugins/route/providers/yandex/index.js';

export interface TestAdapter {
  adapter: HttpAdapter;
  logs: Record<string, unknown>[];
}

/** Settings default to folder `b1gfolder` and an API key; pass `api_key: undefined` to drop it. */
export function makeAdapter(settings: Record<string, unknown> = {}): TestAdapter {
  const config: Record<string, unknown> = { folder_id: 'b1gfolder', api_key: 'AQVN-test-key-123', ...settings };
  for (const [k, v] of Object.entries(config)) if (v === undefined) delete config[k];
  const issues = validateAt(yandex.schema, config, ['$', 'providers', 'yc']);
  if (issues.length) throw new Error(JSON.stringify(issues));
  const logs: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const adapter = yandex.create(config as never, {
    provider: 'yc',
    timeouts: { connectMs: 1000, firstByteMs: 1000, totalMs: 1000 },
    catalog: new Catalog([], 'test'),
    log: createLogger({ level: 'debug', destination }),
  });
  if (adapter.kind !== 'http') throw new Error('the yandex adapter is an HTTP adapter');
  return { adapter, logs };
}

/** A chat operation for `body` (messages default to one user turn). */
export function chatOp(body: Record<string, unknown>, extra: Partial<Operation> = {}): Operation {
  return {
    endpoint: 'chat.completions',
    body: { messages: [{ role: 'user', content: 'Hi' }], ...body },
    model: 'yandexgpt-lite',
    stream: false,
    clientWantsUsage: false,
    requestId: 'req-1',
    headers: {},
    ...extra,
  };
}

export function embeddingOp(body: Record<string, unknown>, model = 'text-search-doc'): Operation {
  return { endpoint: 'embeddings', body, model, stream: false, clientWantsUsage: false, requestId: 'req-e', headers: {} };
}

/** The JSON body the adapter would send for `op` (buildRequest is synchronous for this adapter). */
export function sentBody(adapter: HttpAdapter, op: Operation): Record<string, unknown> {
  const req = adapter.buildRequest(op);
  if (req instanceof Promise) throw new Error('unexpected async buildRequest');
  return JSON.parse(String(req.body)) as Record<string, unknown>;
}

/** An NDJSON line as the shared reader yields it. */
export function line(value: unknown): EventSourceMessage {
  return { event: undefined, id: undefined, data: typeof value === 'string' ? value : JSON.stringify(value) };
}

/** Runs `fn`, asserts it threw a GatewayError with this status and code, and returns it. */
export function expectError(t: Test, fn: () => unknown, status: number, code: string, param?: string): GatewayError {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  const err = thrown as GatewayError;
  t.ok(err instanceof GatewayError, 'throws a GatewayError');
  t.equal(err?.status, status, 'status');
  t.equal(err?.code, code, 'code');
  if (param !== undefined) t.equal(err?.param, param, 'param');
  return err;
}
