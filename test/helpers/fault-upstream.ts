/**
 * A fault-injecting upstream on a random loopback port: a raw TCP server that reads one HTTP
 * request and then misbehaves as the request path's first segment says (`/<fault>/...`) — closes
 * or resets the connection before answering, cuts a body short, resets in the middle of a body or
 * a stream, or answers with something that is not HTTP.
 */
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
