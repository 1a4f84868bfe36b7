/**
 * Fault-injecting upstreams on random loopback ports. `startFaultUpstream`: a raw TCP server that
 * reads one HTTP request and then misbehaves as the request path's first segment says
 * (`/<fault>/...`) — closes or resets the connection before answering, cuts a body short, resets
 * in the middle of a body or a stream, or answers with something that is not HTTP.
 * `startChaosUpstream`: an OpenAI-compatible chat upstream whose latency, error share or hang is
 * set per upstream model, for load-shaped tests (route-chaos).
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export const FAULTS = {
  /** Reads the request, then closes the connection (FIN) without a byte of answer. */
  'close-before-headers': (socket: Socket) => socket.end(),
  /** Reads the request, then resets the connection (RST). */
  'reset-before-headers': (socket: Socket) => socket.resetAndDestroy(),
  /** Promises 500 bytes of JSON, sends 30, then closes. */
  'truncated-body': (socket: Socket) =>
    socket.end('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{"id":"chatcmpl-1","choices":['),
  /** Sends the start of a chunked JSON body, then resets the connection. */
  'reset-mid-body': (socket: Socket) =>
    socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n1e\r\n{"id":"chatcmpl-1","choices":[\r\n', () => socket.resetAndDestroy()),
  /** Sends one event of a chat stream, then resets the connection. */
  'reset-mid-stream': (socket: Socket) => {
    const event = `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { role: 'assistant', content: 'one' }, finish_reason: null }] })}\n\n`;
    socket.write(
      `HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n${Buffer.byteLength(event).toString(16)}\r\n${event}\r\n`,
      () => socket.resetAndDestroy(),
    );
  },
  /** Answers with a line that is not HTTP. */
  'not-http': (socket: Socket) => socket.end('SSH-2.0-OpenSSH_9.6\r\n'),
} satisfies Record<string, (socket: Socket) => void>;

export type Fault = keyof typeof FAULTS;

export interface FaultUpstream {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** Requests received, as `METHOD path`. */
  requests: string[];
  close(): Promise<void>;
}

export async function startFaultUpstream(): Promise<FaultUpstream> {
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let received = Buffer.alloc(0);
    const onData = (data: Buffer) => {
      received = Buffer.concat([received, data]);
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = received.subarray(0, end).toString('latin1');
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (received.length < end + 4 + length) return;
      socket.off('data', onData);
      const [method, path = '/'] = head.split(' ');
      requests.push(`${method} ${path}`);
      const fault = FAULTS[path.split('/')[1] as Fault];
      if (fault) fault(socket);
      else socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n');
    };
    socket.on('data', onData);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/**
 * How a chaos upstream treats the requests for one upstream model. Failures are deterministic:
 * `failRate: 0.5` fails every second request (the 2nd, 4th, …), `1` every one.
 */
export interface ChaosBehaviour {
  /** Delay before the response headers, ms. */
  latencyMs?: number;
  /** Share of requests (0–1) answered with `status` instead. */
  failRate?: number;
  /** Status of a failed request; default 500. */
  status?: number;
  /** Read the request and never answer. */
  hang?: boolean;
}

export interface ChaosUpstream {
  /** `http://127.0.0.1:PORT/v1`, for an `openai` provider's `base_url`. */
  baseUrl: string;
  /** Calls received per upstream model. */
  calls: Map<string, number>;
  /** Sets (replaces) how requests for `model` are treated; unknown models answer at once. */
  set(model: string, behaviour: ChaosBehaviour): void;
  count(model: string): number;
  close(): Promise<void>;
}

/**
 * An OpenAI-compatible chat upstream on a random loopback port whose behaviour is set per
 * upstream model: latency, a share of error answers, or a hang. Answers are small and carry
 * usage; `stream: true` gets three chunks, a usage chunk and `[DONE]`.
 */
export async function startChaosUpstream(): Promise<ChaosUpstream> {
  const behaviours = new Map<string, ChaosBehaviour>();
  const calls = new Map<string, number>();
  const server = createHttpServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      let body: { model?: string; stream?: boolean } = {};
      try {
        body = JSON.parse(Buffer.concat(parts).toString('utf8')) as typeof body;
      } catch {
        // answered as an unknown model
      }
      const model = String(body.model);
      const n = (calls.get(model) ?? 0) + 1;
      calls.set(model, n);
      const b = behaviours.get(model) ?? {};
      if (b.hang) return;
      const rate = b.failRate ?? 0;
      const fail = Math.floor(n * rate) > Math.floor((n - 1) * rate);
      const answer = () => {
        if (fail) {
          const status = b.status ?? 500;
          res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `chaos ${status}`, type: 'server_error', param: null, code: null } }));
          return;
        }
        const usage = { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 };
        if (!body.stream) {
          res.writeHead(200, { 'content-type': 'application/json' }).end(
            JSON.stringify({ id: 'chatcmpl-chaos', object: 'chat.completion', created: 1, model, choices: [{ index: 0, message: { role: 'assistant', content: `from ${model}` }, finish_reason: 'stop' }], usage }),
          );
          return;
        }
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const chunk = (delta: object, finish: string | null) => ({ id: 'c', object: 'chat.completion.chunk', created: 1, model, choices: [{ index: 0, delta, finish_reason: finish }] });
        for (const c of [chunk({ role: 'assistant', content: '' }, null), chunk({ content: `from ${model}` }, null), chunk({}, 'stop'), { id: 'c', object: 'chat.completion.chunk', created: 1, model, choices: [], usage }]) {
          res.write(`data: ${JSON.stringify(c)}\n\n`);
        }
        res.end('data: [DONE]\n\n');
      };
      if (b.latencyMs) setTimeout(answer, b.latencyMs);
      else answer();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    calls,
    set: (model, behaviour) => void behaviours.set(model, behaviour),
    count: (model) => calls.get(model) ?? 0,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
