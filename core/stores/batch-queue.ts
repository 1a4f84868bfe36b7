/**
 * A bounded batching write queue for rows that go to SQL off the hot path (billing's usage records,
 * audit events). Process state, so it outlives config versions.
 *
 * - Items are written about every `intervalMs`, or at once when `batchRows` are waiting; one write
 *   runs at a time, in arrival order.
 * - A failed write puts its batch back at the front and waits (200 ms doubling to 30 s) before the
 *   next try; items keep queueing meanwhile. The writer must be idempotent per item (a batch whose
 *   acknowledgement was lost is written again).
 * - Memory is bounded: past `maxQueued` items (plus the batch being written) a new item is dropped —
 *   counted and logged as an error, never silently.
 * - `close()` writes everything still queued, retrying for up to `closeTimeoutMs`; what cannot be
 *   written by then is logged as lost, with its count.
 */
import type { Logger } from '../log.js';

export interface BatchQueueSettings {
  intervalMs: number;
  batchRows: number;
  maxQueued: number;
}

export interface BatchQueueCounters {
  written(n: number): void;
  dropped(n: number): void;
  failedWrite(): void;
}

export interface BatchQueueOptions<T> {
  /** Names the queue in log lines (`audit: events`). */
  label: string;
  write(items: T[]): Promise<void>;
  log: Logger;
  counters?: BatchQueueCounters;
  settings: BatchQueueSettings;
  closeTimeoutMs?: number;
}

const BACKOFF_FIRST_MS = 200;
const BACKOFF_MAX_MS = 30_000;
/** At most one "dropped" or "write failed" line per this interval. */
const LOG_INTERVAL_MS = 10_000;

export class BatchQueue<T> {
  private items: T[] = [];
  private writing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private settings: BatchQueueSettings;
  private failures = 0;
  private retryAt = 0;
  private droppedSinceLog = 0;
  private lastDropLog = 0;
  private lastFailureLog = 0;
  private closed = false;
  private readonly closeTimeoutMs: number;

  constructor(private readonly options: BatchQueueOptions<T>) {
    this.settings = options.settings;
    this.closeTimeoutMs = options.closeTimeoutMs ?? 10_000;
    this.schedule();
  }

  /** Items waiting (not counting a batch being written). */
  get length(): number {
    return this.items.length;
  }

  /** New settings (a config reload): the interval restarts, the bound applies to the next item. */
  configure(settings: BatchQueueSettings): void {
    const restart = settings.intervalMs !== this.settings.intervalMs;
    this.settings = settings;
    if (restart && !this.closed) this.schedule();
  }

  push(item: T): void {
    if (this.items.length >= this.settings.maxQueued) {
      this.options.counters?.dropped(1);
      this.droppedSinceLog++;
      const now = Date.now();
      if (now - this.lastDropLog >= LOG_INTERVAL_MS) {
        this.options.log.error({ dropped: this.droppedSinceLog, queued: this.items.length, max_queued: this.settings.maxQueued }, `${this.options.label}: queue full, rows DROPPED`);
        this.lastDropLog = now;
        this.droppedSinceLog = 0;
      }
      return;
    }
    this.items.push(item);
    if (this.items.length >= this.settings.batchRows && this.writing === undefined && Date.now() >= this.retryAt) void this.flush();
  }

  /** Writes what is queued (one batch after another) unless a write fails; resolves when done. */
  flush(): Promise<void> {
    this.writing ??= this.drain().finally(() => (this.writing = undefined));
    return this.writing;
  }

  private async drain(): Promise<void> {
    while (this.items.length > 0) {
      const batch = this.items.splice(0, this.settings.batchRows);
      try {
        await this.options.write(batch);
      } catch (err) {
        this.items.unshift(...batch);
        this.failed(err);
        return;
      }
      this.failures = 0;
      this.retryAt = 0;
      this.options.counters?.written(batch.length);
    }
  }

  private failed(err: unknown): void {
    this.failures++;
    this.options.counters?.failedWrite();
    const backoff = Math.min(BACKOFF_FIRST_MS * 2 ** (this.failures - 1), BACKOFF_MAX_MS);
    const now = Date.now();
    this.retryAt = now + backoff * (0.75 + Math.random() / 2);
    if (this.failures === 1 || now - this.lastFailureLog >= LOG_INTERVAL_MS) {
      this.options.log.warn({ err: (err as Error).message, queued: this.items.length, failures: this.failures, retry_in_ms: Math.round(this.retryAt - now) }, `${this.options.label}: write failed; retrying`);
      this.lastFailureLog = now;
    }
  }

  private schedule(): void {
    clearInterval(this.timer);
    this.timer = setInterval(() => {
      if (this.items.length > 0 && this.writing === undefined && Date.now() >= this.retryAt) void this.flush();
    }, this.settings.intervalMs).unref();
  }

  /** Stops the timer and writes every queued item, retrying for up to `closeTimeoutMs`. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    const deadline = Date.now() + this.closeTimeoutMs;
    await this.writing;
    while (this.items.length > 0) {
      await this.flush();
      if (this.items.length === 0 || Date.now() >= deadline) break;
      const wait = Math.min(this.retryAt, deadline) - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    if (this.items.length > 0) {
      this.options.counters?.dropped(this.items.length);
      this.options.log.error({ lost: this.items.length }, `${this.options.label}: rows could not be written before shutdown and are LOST`);
      this.items = [];
    }
  }
}
