/**
 * A bounded batching write queue for rows that go to SQL off the hot path (billing's usage records,
 * audit events). Process state, so it outlives config versions.
 *
 * - Items are written about every `intervalMs`, or at once when `batchRows` are waiting; one write
 *   runs at a time, in arrival order.
 * - A failed write keeps its batch at the front and waits (200 ms doubling to 30 s) before the
 *   next try; items keep queueing meanwhile. The writer must be idempotent per item (a batch whose
 *   acknowledgement was lost is written again, and so is a spill file replayed after a crash).
 * - Memory is bounded: `maxQueued` items, plus a failed batch, plus at most `maxQueued` (at least
 *   10,000) on their way into the spill file (beyond that, while the disk lags, new items are dropped). With a spill file (`spill`), a full queue moves what it holds
 *   to the end of the file (spill-file.ts: append-only, fsync'd in batches, async I/O) and keeps
 *   taking new items; the file is replayed in order, before anything queued after it, once writes
 *   succeed again — and at the next start, when a process stopped with lines in it. Without a spill
 *   file, or when even the file cannot be written, items are dropped: counted
 *   (`switchyard_records_dropped_total{queue}`) and logged as an error, never silently.
 * - `close()` writes everything still queued. When a write fails and there is a spill file, what is
 *   left goes to the file at once (replayed at the next start); without one, writes are retried for
 *   up to `closeTimeoutMs`, and what cannot be written by then is logged as lost, with its count.
 *
 * Order is kept across all of it: a batch that failed, then the file's lines, then memory.
 */
import { join, resolve } from 'node:path';
import type { Logger } from '../log.js';
import type { GatewayMetrics } from '../metrics.js';
import type { GatewayConfig } from '../config/types.js';
import { SpillFile } from './spill-file.js';

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

/** Where a full queue spills, and how an item becomes a JSON value and back. */
export interface SpillOptions<T> {
  /** Directory of the spill file, `<name>.jsonl` (spillDirectory()). */
  dir: string;
  encode(item: T): unknown;
  decode(value: unknown): T;
}

export interface BatchQueueOptions<T> {
  /** Names the queue in metrics (`queue` label) and its spill file: `usage`, `audit`. */
  name: string;
  /** Names the queue in log lines (`audit: events`). */
  label: string;
  write(items: T[]): Promise<void>;
  log: Logger;
  counters?: BatchQueueCounters;
  /** Registers `switchyard_records_*{queue}`: queued (memory, spill), spilled, dropped. */
  metrics?: GatewayMetrics;
  spill?: SpillOptions<T>;
  settings: BatchQueueSettings;
  closeTimeoutMs?: number;
}

const BACKOFF_FIRST_MS = 200;
const BACKOFF_MAX_MS = 30_000;
/** At most one "dropped" or "write failed" line per this interval. */
const LOG_INTERVAL_MS = 10_000;
/** Items that may wait for the disk on their way into the spill file (at least; `maxQueued` when larger). */
const SPILL_BACKLOG = 10_000;
/** Items encoded and appended (one fsync) at a time. */
const SPILL_CHUNK = 2000;

/**
 * The directory queues spill to: `<data dir>/spill`, the data directory being the embedded
 * database's (`stores.sql.pglite`), else `SWITCHYARD_DATA_DIR`. Undefined (no spill file) with
 * neither, e.g. `pglite: memory` or PostgreSQL without `SWITCHYARD_DATA_DIR`.
 */
export function spillDirectory(config: GatewayConfig, configDir: string, processEnv: NodeJS.ProcessEnv): string | undefined {
  const sql = config.stores?.sql;
  if (sql !== undefined && 'pglite' in sql && sql.pglite !== 'memory') return join(resolve(configDir, sql.pglite), 'spill');
  const dataDir = processEnv['SWITCHYARD_DATA_DIR'];
  if (dataDir !== undefined && dataDir !== '' && dataDir !== 'memory') return join(resolve(dataDir), 'spill');
  return undefined;
}

interface QueueGauges {
  dropped: ReturnType<GatewayMetrics['counter']>;
  spilled: ReturnType<GatewayMetrics['counter']>;
}

/** The live queues of each registry's `switchyard_records_queued` gauge (by the gauge object). */
const liveQueues = new WeakMap<object, Set<BatchQueue<unknown>>>();

export class BatchQueue<T> {
  private items: T[] = [];
  /** A batch whose write failed: older than everything else, written first. */
  private head: T[] = [];
  /** Items on their way into the spill file (older than `items`, newer than the file's lines). */
  private toSpill: T[] = [];
  private appendingCount = 0;
  private appending: Promise<void> | undefined;
  private spillFile: SpillFile | undefined;
  /** Resolves true once the spill file is open (with what an earlier process left), false when there is none. */
  private spillReady: Promise<boolean>;
  /** Whether the spill file opened; undefined until it is known. */
  private spillOk: boolean | undefined;
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
  private readonly gauges: QueueGauges | undefined;
  private readonly gauge: object | undefined;

  constructor(private readonly options: BatchQueueOptions<T>) {
    this.settings = options.settings;
    this.closeTimeoutMs = options.closeTimeoutMs ?? 10_000;
    if (options.metrics) {
      const m = options.metrics;
      this.gauges = {
        dropped: m.counter('switchyard_records_dropped_total', 'Records (usage rows, audit events) dropped: queue full with no spill file, the spill file unwritable, or unwritten at shutdown.', ['queue']),
        spilled: m.counter('switchyard_records_spilled_total', 'Records moved from a full queue to its spill file (replayed to SQL in order).', ['queue']),
      };
      const gauge = m.gauge('switchyard_records_queued', 'Records waiting to be written to SQL, in memory or in the spill file.', ['queue', 'where'], function () {
        this.reset();
        for (const q of liveQueues.get(this) ?? []) {
          this.set({ queue: q.options.name, where: 'memory' }, q.length);
          this.set({ queue: q.options.name, where: 'spill' }, q.spilled);
        }
      });
      this.gauge = gauge;
      if (!liveQueues.has(gauge)) liveQueues.set(gauge, new Set());
      liveQueues.get(gauge)!.add(this as BatchQueue<unknown>);
    }
    this.spillReady = options.spill ? this.openSpill(options.spill) : Promise.resolve(false);
    this.schedule();
  }

  /** Items waiting in memory (a failed batch included). */
  get length(): number {
    return this.head.length + this.items.length;
  }

  /** Items in the spill file or on their way to it. */
  get spilled(): number {
    return (this.spillFile?.rows ?? 0) + this.toSpill.length + this.appendingCount;
  }

  /** New settings (a config reload): the interval restarts, the bound applies to the next item. */
  configure(settings: BatchQueueSettings): void {
    const restart = settings.intervalMs !== this.settings.intervalMs;
    this.settings = settings;
    if (restart && !this.closed) this.schedule();
  }

  push(item: T): void {
    if (this.items.length >= this.settings.maxQueued) {
      if (!this.options.spill || this.spillOk === false || this.toSpill.length >= Math.max(this.settings.maxQueued, SPILL_BACKLOG)) return this.drop(1, 'queue full, rows DROPPED');
      // Everything in memory goes to the file, so the file stays older than memory.
      this.gauges?.spilled.inc({ queue: this.options.name }, this.items.length);
      this.toSpill = this.toSpill.length === 0 ? this.items : this.toSpill.concat(this.items);
      this.items = [];
      void this.appendSpill();
    }
    this.items.push(item);
    if (this.items.length >= this.settings.batchRows && this.writing === undefined && Date.now() >= this.retryAt) void this.flush();
  }

  /** Writes what is queued and spilled (one batch after another) unless a write fails; resolves when done. */
  flush(): Promise<void> {
    this.writing ??= this.drain().finally(() => (this.writing = undefined));
    return this.writing;
  }

  private get pending(): number {
    return this.length + this.spilled;
  }

  private async openSpill(spill: SpillOptions<T>): Promise<boolean> {
    const file = new SpillFile(join(spill.dir, `${this.options.name}.jsonl`));
    try {
      const opened = await file.open();
      this.spillFile = file;
      this.spillOk = true;
      if (opened.tornBytes > 0) this.drop(1, `spill file ${file.path} ended in a torn line (a crash while appending); it is cut off`);
      if (opened.leftoverRows > 0) {
        this.options.log.warn({ rows: opened.leftoverRows, file: file.path }, `${this.options.label}: replaying rows an earlier process spilled`);
        if (!this.closed) void this.flush();
      }
      return true;
    } catch (err) {
      this.spillOk = false;
      this.options.log.error({ err: (err as Error).message, dir: spill.dir }, `${this.options.label}: cannot open the spill file; a full queue drops rows`);
      return false;
    }
  }

  /** Appends `toSpill` to the file, a chunk (one fsync) at a time; what cannot be written is dropped, counted. */
  private appendSpill(): Promise<void> {
    this.appending ??= (async () => {
      const ready = await this.spillReady;
      while (this.toSpill.length > 0) {
        const chunk = this.toSpill.splice(0, SPILL_CHUNK);
        this.appendingCount = chunk.length;
        try {
          if (!ready) throw new Error('no spill file');
          const encode = this.options.spill!.encode;
          await this.spillFile!.append(chunk.map((item) => JSON.stringify(encode(item))));
        } catch (err) {
          this.drop(chunk.length, `queue full and the spill file cannot be written (${(err as Error).message}): rows DROPPED`);
        } finally {
          this.appendingCount = 0;
        }
      }
    })().finally(() => (this.appending = undefined));
    return this.appending;
  }

  /** Resolves when nothing is on its way into the spill file (every row spilled so far is fsync'd, or counted as dropped). */
  async settleSpill(): Promise<void> {
    while (this.toSpill.length > 0 || this.appending !== undefined) await this.appendSpill();
  }

  private async drain(): Promise<void> {
    await this.spillReady;
    for (;;) {
      let batch: T[];
      let fromFile: { end: number; lines: number } | undefined;
      if (this.head.length > 0) {
        batch = this.head;
        this.head = [];
      } else if (this.spilled > 0) {
        await this.settleSpill();
        if (this.spillFile === undefined || this.spillFile.rows === 0) continue;
        const read = await this.spillFile.read(this.settings.batchRows);
        if (read.lines.length === 0) return;
        batch = this.decode(read.lines);
        fromFile = { end: read.end, lines: read.lines.length };
      } else if (this.items.length > 0) {
        batch = this.items.splice(0, this.settings.batchRows);
      } else {
        return;
      }
      try {
        if (batch.length > 0) await this.options.write(batch);
      } catch (err) {
        if (!fromFile) this.head = batch;
        this.failed(err);
        return;
      }
      if (fromFile) await this.spillFile!.commit(fromFile.end, fromFile.lines);
      this.failures = 0;
      this.retryAt = 0;
      this.options.counters?.written(batch.length);
    }
  }

  private decode(lines: readonly string[]): T[] {
    const decode = this.options.spill!.decode;
    const out: T[] = [];
    let bad = 0;
    for (const line of lines) {
      try {
        out.push(decode(JSON.parse(line)));
      } catch {
        bad++;
      }
    }
    if (bad > 0) this.drop(bad, `unreadable lines in the spill file ${this.spillFile!.path}: rows DROPPED`);
    return out;
  }

  private drop(n: number, message: string): void {
    this.options.counters?.dropped(n);
    this.gauges?.dropped.inc({ queue: this.options.name }, n);
    this.droppedSinceLog += n;
    const now = Date.now();
    if (now - this.lastDropLog >= LOG_INTERVAL_MS) {
      this.options.log.error({ dropped: this.droppedSinceLog, queued: this.items.length, max_queued: this.settings.maxQueued }, `${this.options.label}: ${message}`);
      this.lastDropLog = now;
      this.droppedSinceLog = 0;
    }
  }

  private failed(err: unknown): void {
    this.failures++;
    this.options.counters?.failedWrite();
    const backoff = Math.min(BACKOFF_FIRST_MS * 2 ** (this.failures - 1), BACKOFF_MAX_MS);
    const now = Date.now();
    this.retryAt = now + backoff * (0.75 + Math.random() / 2);
    if (this.failures === 1 || now - this.lastFailureLog >= LOG_INTERVAL_MS) {
      this.options.log.warn({ err: (err as Error).message, queued: this.length, spilled: this.spilled, failures: this.failures, retry_in_ms: Math.round(this.retryAt - now) }, `${this.options.label}: write failed; retrying`);
      this.lastFailureLog = now;
    }
  }

  private schedule(): void {
    clearInterval(this.timer);
    this.timer = setInterval(() => {
      if (this.pending > 0 && this.writing === undefined && Date.now() >= this.retryAt) void this.flush();
    }, this.settings.intervalMs).unref();
  }

  /**
   * Stops the timer and writes every queued item. After a failed write, with a spill file, the rest
   * goes to the file for the next start; without one, writes are retried for up to `closeTimeoutMs`.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    const deadline = Date.now() + this.closeTimeoutMs;
    await this.writing;
    const spill = await this.spillReady;
    while (this.pending > 0) {
      await this.flush();
      if (this.pending === 0 || Date.now() >= deadline || spill) break;
      const wait = Math.min(this.retryAt, deadline) - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    if (this.pending > 0 && spill) await this.spillRest();
    const lost = this.pending - (this.spillFile?.rows ?? 0);
    if (lost > 0) {
      this.options.counters?.dropped(lost);
      this.gauges?.dropped.inc({ queue: this.options.name }, lost);
      this.options.log.error({ lost }, `${this.options.label}: rows could not be written before shutdown and are LOST`);
    }
    this.head = [];
    this.items = [];
    await this.spillFile?.close();
    if (this.gauge) liveQueues.get(this.gauge)?.delete(this as BatchQueue<unknown>);
  }

  /** At shutdown: memory to the end of the file, a failed batch to its front. */
  private async spillRest(): Promise<void> {
    this.gauges?.spilled.inc({ queue: this.options.name }, this.items.length + this.head.length);
    this.toSpill = this.toSpill.concat(this.items);
    this.items = [];
    await this.settleSpill();
    if (this.head.length === 0) return;
    const encode = this.options.spill!.encode;
    try {
      await this.spillFile!.prepend(this.head.map((item) => JSON.stringify(encode(item))));
      this.head = [];
    } catch (err) {
      this.options.log.error({ err: (err as Error).message }, `${this.options.label}: cannot put a failed batch in the spill file`);
    }
  }
}
