/**
 * Loopback servers that play a provider in the adapter tests, and the writers they share. A wire
 * mock records each call and hands the current scenario to the provider's `render` function,
 * which writes the provider's own wire format; fixture servers replay the documented examples in
 * `test/fixtures/<provider>/` as they are.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ProviderMock, RecordedCall, Scenario } from './conformance.js';

export type Render = (scenario: Scenario, call: RecordedCall, res: ServerResponse, req: IncomingMessage) => void | Promise<void>;

type Json = Record<string, unknown>;

/** A loopback HTTP server; `close` also drops connections a client keeps open. */
export interface LoopbackServer {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  close(): Promise<void>;
}

/** Starts `handler` on a random loopback port. */
export async function startServer(handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>): Promise<LoopbackServer> {
  const server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A provider mock: records each call, then lets `render` answer it for the current scenario; `basePath` is part of its `baseUrl`. */
export async function startWireMock(render: Render, basePath = ''): Promise<ProviderMock> {
  const calls: RecordedCall[] = [];
  let scenario: Scenario = { kind: 'error', status: 500, message: 'no scenario set' };
  let hangResolve: (() => void) | undefined;
  let hangPromise = new Promise<void>((r) => (hangResolve = r));
  const server = await startServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: Json | undefined;
    try {
      body = raw ? (JSON.parse(raw) as Json) : undefined;
    } catch {
      body = undefined;
    }
    const call = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
    calls.push(call);
    if (scenario.kind === 'hang') {
      res.once('close', () => hangResolve?.());
    }
    await render(scenario, call, res, req);
  });
  return {
    baseUrl: `${server.url}${basePath}`,
    calls,
    respondWith(s) {
      scenario = s;
      if (s.kind === 'hang') hangPromise = new Promise<void>((r) => (hangResolve = r));
    },
    hangClosed: () => hangPromise,
    close: server.close,
  };
}

/** Reads `test/fixtures/<provider>/<name>.json` without its `_source` note (a fresh copy each time, so callers may edit it). */
export function readFixture<T = Json>(provider: string, name: string): T {
  const { _source: _s, ...body } = JSON.parse(readFileSync(new URL(`../fixtures/${provider}/${name}.json`, import.meta.url), 'utf8')) as Json;
  return body as T;
}

/** Writes a JSON answer; a header whose value is undefined is left out. */
export function writeJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | undefined> = {}): void {
  const sent: Record<string, string> = { 'content-type': 'application/json' };
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) sent[k] = v;
  res.writeHead(status, sent).end(JSON.stringify(body));
}

/** Writes one SSE event (`event:` line only when `event` is given). */
function writeEvent(res: ServerResponse, data: unknown, event?: string): void {
  res.write(`${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
}

/** One SSE event: its `event:` name, if the provider sends one, and its data. */
export interface SseEvent {
  event?: string;
  data: unknown;
}

/** Writes a 200 SSE answer of `events`; with `end: false` the stream is left open. */
export function writeEvents(res: ServerResponse, events: readonly SseEvent[], end = true): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (const e of events) writeEvent(res, e.data, e.event);
  if (end) res.end();
}

/** A server that answers every request, once its body is read, with the same SSE `events`. */
export function serveEvents(events: readonly SseEvent[]): Promise<LoopbackServer> {
  return startServer((req, res) => {
    req.resume();
    req.on('end', () => writeEvents(res, events));
  });
}

/**
 * A server that answers each request with the fixture of `provider` named in its `x-fixture`
 * header: a `stream-*` fixture's `events` as SSE, any other fixture as JSON.
 */
export function serveFixtures(provider: string): Promise<LoopbackServer> {
  return startServer((req, res) => {
    req.resume();
    const name = (req.headers['x-fixture'] as string | undefined) ?? '';
    if (name.startsWith('stream-')) writeEvents(res, readFixture<{ events: SseEvent[] }>(provider, name).events);
    else writeJson(res, 200, readFixture(provider, name));
  });
}
