/**
 * A TCP proxy for fault injection, to put between the gateway and a real PostgreSQL or Redis.
 * Listens on 127.0.0.1 (a random port) and forwards to `target`. Modes, switchable at any time:
 * - `forward`: bytes pass both ways.
 * - `refuse`: every open connection is reset, and so is every new one as soon as it is accepted.
 * - `stall`: connections stay open (new ones are accepted) but no byte passes either way; the
 *   bytes are held and delivered when the mode is `forward` again, as after a partition that heals.
 */
import { connect, createServer, type Socket } from 'node:net';

export type FaultMode = 'forward' | 'refuse' | 'stall';

export interface FaultProxy {
  /** The port to connect to instead of the target's. */
  readonly port: number;
  readonly mode: FaultMode;
  setMode(mode: FaultMode): void;
  /** Connections currently open through the proxy. */
  readonly connections: number;
  close(): Promise<void>;
}

interface Link {
  client: Socket;
  upstream: Socket;
  /** Bytes held while stalled, per direction. */
  toUpstream: Buffer[];
  toClient: Buffer[];
}

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  let mode: FaultMode = 'forward';
  const links = new Set<Link>();

  const reset = (link: Link): void => {
    links.delete(link);
    link.client.resetAndDestroy();
    link.upstream.resetAndDestroy();
  };

  const server = createServer((client) => {
    client.on('error', () => {});
    if (mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    upstream.on('error', () => {});
    const link: Link = { client, upstream, toUpstream: [], toClient: [] };
    links.add(link);
    client.on('data', (chunk: Buffer) => (mode === 'forward' ? upstream.write(chunk) : link.toUpstream.push(chunk)));
    upstream.on('data', (chunk: Buffer) => (mode === 'forward' ? client.write(chunk) : link.toClient.push(chunk)));
    const closed = (): void => {
      links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', closed);
    upstream.on('close', closed);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };

  return {
    port,
    get mode() {
      return mode;
    },
    get connections() {
      return links.size;
    },
    setMode(next) {
      mode = next;
      if (next === 'refuse') for (const link of [...links]) reset(link);
      if (next === 'forward') {
        for (const link of links) {
          for (const chunk of link.toUpstream.splice(0)) link.upstream.write(chunk);
          for (const chunk of link.toClient.splice(0)) link.client.write(chunk);
        }
      }
    },
    async close() {
      for (const link of [...links]) reset(link);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
