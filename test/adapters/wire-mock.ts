/**
 * A loopback HTTP server that plays one provider in the conformance suite. It records each call
 * and hands the current scenario to the provider's `render` function, which writes the provider's
 * own wire format.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ProviderMock, RecordedCall, Scenario } from './conformance.js';

export type Render = (scenario: Scenario, call: RecordedCall, res: ServerResponse, req: IncomingMessage) => void | Promise<void>;

export async function startWireMock(render: Render, basePath = ''): Promise<ProviderMock> {
  const calls: RecordedCall[] = [];
  let scenario: Scenario = { kind: 'error', status: 500, message: 'no scenario set' };
  let hangResolve: (() => void) | undefined;
  let hangPromise = new Promise<void>((r) => (hangResolve = r));
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: Record<string, unknown> | undefined;
    try {
      body = raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
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
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}${basePath}`,
    calls,
    respondWith(s) {
      scenario = s;
      if (s.kind === 'hang') hangPromise = new Promise<void>((r) => (hangResolve = r));
    },
    hangClosed: () => hangPromise,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Writes one SSE event (`event:` line only when `event` is given). */
export function writeEvent(res: ServerResponse, data: unknown, event?: string): void {
  res.write(`${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
}
