/**
 * Outage detection for a store on the network (Redis, PostgreSQL). The first call that fails
 * because the server cannot be reached (refused, reset, no answer within the store's timeout)
 * marks the store down; from then on every call fails at once with `StoreUnavailableError`, so no
 * request pays a connect or command timeout during an outage, while a probe asks the server every
 * `probeIntervalMs`. The first probe that succeeds marks the store up again. One warning when an
 * outage starts and one line when it ends, whatever the traffic.
 */
import type { Logger } from '../log.js';
import { StoreUnavailableError } from '../errors.js';

/** How often a store marked down is probed: recovery follows a heal within about this long. */
export const PROBE_INTERVAL_MS = 250;

export interface OutageGuardOptions {
  store: 'kv' | 'sql';
  /** Names the server in logs and errors: `redis`, `postgres`. */
  server: string;
  /** Asks the server once; resolves when it answered. Bounded by the store's own timeouts. */
  probe: () => Promise<unknown>;
  log: Logger;
  probeIntervalMs?: number;
}

export class OutageGuard {
  private downSince: number | undefined;
  private reason = '';
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly probeIntervalMs: number;

  constructor(private readonly options: OutageGuardOptions) {
    this.probeIntervalMs = options.probeIntervalMs ?? PROBE_INTERVAL_MS;
  }

  /** False from the first outage until a probe reaches the server again. */
  get up(): boolean {
    return this.downSince === undefined;
  }

  /** Throws `StoreUnavailableError` while the store is marked down. */
  assertUp(): void {
    if (this.downSince !== undefined) {
      throw new StoreUnavailableError(this.options.store, `${this.options.server} unreachable for ${Date.now() - this.downSince} ms (${this.reason})`);
    }
  }

  /** Records a failure that shows the server cannot be reached; the first one starts the probe. */
  trip(reason: string): void {
    if (this.closed || this.downSince !== undefined) return;
    this.downSince = Date.now();
    this.reason = reason;
    const { store, server, log } = this.options;
    log.warn({ store, err: reason }, `${server} unreachable: calls fail at once until a probe reaches it again`);
    this.scheduleProbe();
  }

  /** Stops probing (the store is closing). */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private scheduleProbe(): void {
    this.timer = setTimeout(() => void this.probe(), this.probeIntervalMs);
    this.timer.unref();
  }

  /** Never rejects: a failed probe schedules the next one. */
  private async probe(): Promise<void> {
    try {
      await this.options.probe();
    } catch {
      if (!this.closed) this.scheduleProbe();
      return;
    }
    if (this.closed || this.downSince === undefined) return;
    const { store, server, log } = this.options;
    log.info({ store, down_ms: Date.now() - this.downSince }, `${server} reachable again`);
    this.downSince = undefined;
  }
}
