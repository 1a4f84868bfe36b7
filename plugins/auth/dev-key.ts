/**
 * The documented development key. The default config accepts it so the quickstart works on a fresh
 * clone; because everyone knows it, a gateway that accepts it must only be reachable from the same
 * machine. `auth` refuses to start when it is configured and the gateway listens beyond loopback.
 */
import { isIP } from 'node:net';
import { ConfigError } from '../../core/config/schema.js';

/** The development key of the default config (`SWITCHYARD_DEV_KEY` overrides it there). */
export const DEV_KEY = 'sk-switchyard-dev';

/** Host part of a `host:port` listen address (`[::1]:8080`, `127.0.0.1:0`, `:8080`, `8080`). */
function listenHost(listen: string): string {
  const bracketed = /^\[([^\]]+)\]:\d+$/.exec(listen);
  if (bracketed) return bracketed[1]!;
  const colon = listen.lastIndexOf(':');
  // `:8080` and a bare port listen on every interface in Node unless a host is given; the gateway
  // itself defaults an empty host to 127.0.0.1 (core/gateway.ts parseListen).
  if (colon === -1) return /^\d+$/.test(listen) ? '127.0.0.1' : listen;
  return listen.slice(0, colon) || '127.0.0.1';
}

/** True for 127.0.0.0/8, ::1 (also as ::ffff:127.x) and `localhost`. */
export function isLoopbackListen(listen: string): boolean {
  const host = listenHost(listen).toLowerCase();
  if (host === 'localhost') return true;
  const v4 = host.startsWith('::ffff:') ? host.slice(7) : host;
  if (isIP(v4) === 4) return v4.startsWith('127.');
  return isIP(host) === 6 && (host === '::1' || host === '0:0:0:0:0:0:0:1');
}

/** Throws a ConfigError (the gateway does not start) when the dev key would be served beyond loopback. */
export function refuseDevKeyBeyondLoopback(listen: string, path: (string | number)[]): void {
  if (isLoopbackListen(listen)) return;
  throw ConfigError.at(
    path,
    `the development key ${DEV_KEY} is public and the gateway listens on ${listen}, which is not a loopback address: ` +
      'set SWITCHYARD_DEV_KEY to a secret value, remove this static key, or listen on 127.0.0.1',
  );
}
