/**
 * The admin API from a terminal: what every `switchyard <command>` that calls a running gateway
 * shares (auth's `orgs | plans | keys`, billing's `credits`, audit's `audit`) — where the gateway
 * is, the admin credential, one request, and one clear line on stderr for whatever goes wrong.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { argumentProblem } from '../commands.js';

export interface AdminClientIo {
  err(text: string): void;
  env: NodeJS.ProcessEnv;
}

/** What a command that calls the admin API writes to (tests pass their own). */
export interface CliIo extends AdminClientIo {
  out(text: string): void;
}

export const processIo: CliIo = { env: process.env, out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

/** A wrong command line: said as one line, exit code 2. */
export class UsageError extends Error {}

/** `parseArgs`, strict, positionals allowed; an unknown option or a missing value is a `UsageError`. */
export function parseCommandLine<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(argumentProblem(err));
  }
}

export interface AdminClientOptions {
  /** The command's name in messages (`orgs`, `credits`, `audit verify`). */
  command: string;
  /** `--url`; else `SWITCHYARD_URL`; else the default listen address. */
  url?: string | undefined;
  /** `--admin-key`; else `SWITCHYARD_ADMIN_KEY`. */
  adminKey?: string | undefined;
  /** How long to wait for a gateway that is still starting (connection refused); 0: not at all. */
  waitMs?: number;
  /** How `waitMs` was written, for the message when the wait ran out. */
  waitLabel?: string;
  signal?: AbortSignal;
}

export interface AdminCall {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  body?: Record<string, unknown>;
}

export type AdminAnswer = { ok: true; status: number; body: Record<string, unknown> } | { ok: false };

const RETRY_INTERVAL_MS = 200;

export class AdminClient {
  readonly base: string;
  private readonly adminKey: string | undefined;

  constructor(
    private readonly options: AdminClientOptions,
    private readonly io: AdminClientIo,
  ) {
    this.base = (options.url ?? io.env['SWITCHYARD_URL'] ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
    this.adminKey = options.adminKey ?? io.env['SWITCHYARD_ADMIN_KEY'];
  }

  /** False (after saying so) when there is no admin credential to send: a usage error, exit code 2. */
  hasCredential(): boolean {
    if (this.adminKey) return true;
    this.io.err(`switchyard ${this.options.command}: no admin credential: set SWITCHYARD_ADMIN_KEY or pass --admin-key\n`);
    return false;
  }

  /** One admin request. A failure has been reported on stderr when `ok` is false (exit code 1). */
  async request(call: AdminCall): Promise<AdminAnswer> {
    const { command, waitMs = 0 } = this.options;
    let res: Response;
    try {
      res = await this.fetchWaiting(call, waitMs);
    } catch (err) {
      if (this.options.signal?.aborted) throw err;
      const waited = waitMs > 0 && connectionRefused(err) ? `waited ${this.options.waitLabel ?? `${waitMs}ms`}; ` : '';
      this.io.err(`switchyard ${command}: cannot reach the gateway at ${this.base}: ${networkProblem(err)} (${waited}is it running?)\n`);
      return { ok: false };
    }
    let body: Record<string, unknown>;
    try {
      const text = await res.text();
      body = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
    } catch {
      this.io.err(`switchyard ${command}: ${this.base} answered HTTP ${res.status} without JSON; is it a Switchyard gateway?\n`);
      return { ok: false };
    }
    if (res.status >= 400) {
      const error = (body['error'] ?? {}) as { message?: string };
      this.io.err(`switchyard ${command}: ${error.message ?? `HTTP ${res.status}`}\n`);
      return { ok: false };
    }
    return { ok: true, status: res.status, body };
  }

  /**
   * `fetch`, retried while the connection is refused (nothing listens yet) for up to `waitMs`,
   * saying so once. A refused connection never reached the gateway, so retrying a POST is safe;
   * any other failure is thrown at once.
   */
  private async fetchWaiting(call: AdminCall, waitMs: number): Promise<Response> {
    const init: RequestInit = {
      method: call.method,
      headers: { ...(this.adminKey ? { authorization: `Bearer ${this.adminKey}` } : {}), ...(call.body ? { 'content-type': 'application/json' } : {}) },
      ...(call.body ? { body: JSON.stringify(call.body) } : {}),
      ...(this.options.signal ? { signal: this.options.signal } : {}),
    };
    const deadline = Date.now() + waitMs;
    for (let waiting = false; ; waiting = true) {
      try {
        return await fetch(`${this.base}${call.path}`, init);
      } catch (err) {
        if (!connectionRefused(err) || Date.now() + RETRY_INTERVAL_MS > deadline) throw err;
        if (!waiting) this.io.err(`switchyard ${this.options.command}: waiting for the gateway at ${this.base} …\n`);
        await sleep(RETRY_INTERVAL_MS);
      }
    }
  }
}

function connectionRefused(err: unknown): boolean {
  return (err as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED';
}

/** `fetch failed` says nothing; its cause does ("connection refused", "getaddrinfo ENOTFOUND host"). */
function networkProblem(err: unknown): string {
  if (connectionRefused(err)) return 'connection refused';
  const cause = (err as { cause?: { message?: string } }).cause;
  return cause?.message ?? (err as Error).message;
}
