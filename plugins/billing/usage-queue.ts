/**
 * The bounded batching queue usage rows go through: process state, so it outlives config versions.
 *
 * - Rows are written about every `intervalMs`, or at once when `batchRows` are waiting, as one
 *   multi-row INSERT; one write runs at a time, in arrival order.
 * - A failed write puts its batch back at the front and waits (200 ms doubling to 30 s) before the
 *   next try; rows keep queueing meanwhile.
 * - Memory is bounded: past `maxQueued` rows (plus the one batch being written) a new row is
 *   dropped — counted and logged as an error, never silently. (Spilling to a local file instead is
 *   a later step.)
 * - `close()` writes everything still queued, retrying for up to `closeTimeoutMs`; what cannot be
 *   written by then is logged as lost, with its count.
 */
import type { Logger } from '../../core/log.js';
import type { UsageRow } from './usage-rows.js';

export interface QueueSettings {
  intervalMs: number;
  batchRows: number;
  maxQueued: number;
}

export interface QueueCounters {
  written(n: number): void;
  dropped(n: number): void;
  failedWrite(): void;
}

const BACKOFF_FIRST_MS = 200;
const BACKOFF_MAX_MS = 30_000;
/** At most one "dropped" or "write failed" line per this interval. */
const LOG_INTERVAL_MS = 10_000;

export class UsageQueue {
  private rows: UsageRow[] = [];
  private writing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private settings: QueueSettings;
  private failures = 0;
  private retryAt = 0;
  private droppedSinceLog = 0;
  private lastDropLog = 0;
  private lastFailureLog = 0;
  private closed = false;

  constructor(
    private readonly write: (rows: UsageRow[]) => Promise<void>,
    private readonly log: Logger,
    private readonly counters: QueueCounters,
    settings: QueueSettings,
    private readonly closeTimeoutMs = 10_000,
  ) {
    this.settings = settings;
    this.schedule();
  }

  /** Rows waiting (not counting a batch being written). */
  get length(): number {
    return this.rows.length;
  }

  /** New settings (a config reload): the interval restarts, the bound applies to the next row. */
  configure(settings: QueueSettings): void {
    const restart = settings.intervalMs !== this.settings.intervalMs;
    this.settings = settings;
    if (restart && !this.closed) this.schedule();
  }

  push(row: UsageRow): void {
    if (this.rows.length >= this.settings.maxQueued) {
      this.counters.dropped(1);
      this.droppedSinceLog++;
      const now = Date.now();
      if (now - this.lastDropLog >= LOG_INTERVAL_MS) {
        this.log.error({ dropped: this.droppedSinceLog, queued: this.rows.length, max_queued: this.settings.maxQueued }, 'billing: usage queue full, usage records DROPPED');
        this.lastDropLog = now;
        this.droppedSinceLog = 0;
      }
      return;
    }
    this.rows.push(row);
    if (this.rows.length >= this.settings.batchRows && this.writing === undefined && Date.now() >= this.retryAt) void this.flush();
  }

  /** Writes what is queued (one batch after another) unless a write fails; resolves when done. */
  flush(): Promise<void> {
    this.writing ??= this.drain().finally(() => (this.writing = undefined));
    return this.writing;
  }

  private async drain(): Promise<void> {
    while (this.rows.length > 0) {
      const batch = this.rows.splice(0, this.settings.batchRows);
      try {
        await this.write(batch);
      } catch (err) {
        this.rows.unshift(...batch);
        this.failed(err);
        return;
      }
      this.failures = 0;
      this.retryAt = 0;
      this.counters.written(batch.length);
    }
  }

  private failed(err: unknown): void {
    this.failures++;
    this.counters.failedWrite();
    const backoff = Math.min(BACKOFF_FIRST_MS * 2 ** (this.failures - 1), BACKOFF_MAX_MS);
    this.retryAt = Date.now() + backoff * (0.75 + Math.random() / 2);
    const now = Date.now();
    if (this.failures === 1 || now - this.lastFailureLog >= LOG_INTERVAL_MS) {
      this.log.warn({ err: (err as Error).message, queued: this.rows.length, failures: this.failures, retry_in_ms: Math.round(this.retryAt - now) }, 'billing: writing usage records failed; retrying');
      this.lastFailureLog = now;
    }
  }

  private schedule(): void {
    clearInterval(this.timer);
    this.timer = setInterval(() => {
      if (this.rows.length > 0 && this.writing === undefined && Date.now() >= this.retryAt) void this.flush();
    }, this.settings.intervalMs).unref();
  }

  /** Stops the timer and writes every queued row, retrying for up to `closeTimeoutMs`. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    const deadline = Date.now() + this.closeTimeoutMs;
    await this.writing;
    while (this.rows.length > 0) {
      await this.flush();
      if (this.rows.length === 0) break;
      const wait = Math.min(this.retryAt, deadline) - Date.now();
      if (Date.now() >= deadline) break;
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    if (this.rows.length > 0) {
      this.counters.dropped(this.rows.length);
      this.log.error({ lost: this.rows.length }, 'billing: usage records could not be written before shutdown and are LOST');
      this.rows = [];
    }
  }
}
