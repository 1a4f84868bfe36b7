/**
 * The usage table over time: `billing_usage` is partitioned by UTC day (migration 3), so before a
 * batch is written the partitions of its days must exist, and retention is dropping the partitions
 * of days past `records.retention`. Daily sums (`billing_usage_daily`) are kept for
 * `records.aggregate_retention` (default: forever).
 *
 * Process state (one per process, across config versions): the days known to have a partition, and
 * an hourly job — create today's and tomorrow's partitions, drop what is past retention. The job
 * runs on any replica; every step is idempotent.
 */
import type { GatewayEnv } from '../../core/env.js';
import type { SqlExecutor } from '../../core/stores/sql.js';
import { insertUsageRows, type UsageRow } from './usage-rows.js';

const DAY_MS = 86_400_000;
const MAINTENANCE_INTERVAL_MS = 3_600_000;

export interface RetentionSettings {
  /** Days of raw rows kept (today included); undefined: forever. */
  rawDays: number | undefined;
  /** Days of daily sums kept; undefined: forever. */
  aggregateDays: number | undefined;
}

/** `90d` → 90; undefined stays undefined (forever). */
export function retentionDays(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^\s*(\d+)\s*d\s*$/.exec(value);
  if (!m) throw new TypeError(`a retention is a whole number of days, such as 90d, not '${value}'`);
  return Number(m[1]);
}

/** The UTC day of epoch ms, `YYYY-MM-DD`. */
export function utcDay(ms: number): string {
  return new Date(Math.floor(ms / DAY_MS) * DAY_MS).toISOString().slice(0, 10);
}

/** What a retention run removed. */
export interface RetentionResult {
  droppedPartitions: string[];
  deletedAggregates: number;
}

/** Drops the raw partitions and deletes the daily sums older than `settings` allow, as of `now`. */
export async function applyRetention(sql: SqlExecutor, settings: RetentionSettings, now: number): Promise<RetentionResult> {
  const result: RetentionResult = { droppedPartitions: [], deletedAggregates: 0 };
  if (settings.rawDays !== undefined) {
    const before = utcDay(now - (settings.rawDays - 1) * DAY_MS);
    const { rows } = await sql.query<{ name: string }>('SELECT billing_usage_drop_partitions($1::date) AS name', [before]);
    result.droppedPartitions = rows.map((r) => r.name);
  }
  if (settings.aggregateDays !== undefined) {
    const before = utcDay(now - (settings.aggregateDays - 1) * DAY_MS);
    result.deletedAggregates = (await sql.query('DELETE FROM billing_usage_daily WHERE day < $1::date', [before])).rowCount;
  }
  return result;
}

export class UsageTable {
  /** Days whose partition exists (as far as this process knows). */
  private readonly partitions = new Set<string>();
  private settings: RetentionSettings = { rawDays: undefined, aggregateDays: undefined };
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly env: Pick<GatewayEnv, 'sql' | 'log'>,
    /** The clock; tests set it. */
    public now: () => number = Date.now,
  ) {}

  /** Writes a batch (usage-rows.ts), first creating the partitions of its days. */
  async write(rows: readonly UsageRow[]): Promise<void> {
    const sql = await this.env.sql();
    const days = new Set(rows.map((r) => utcDay(r.at)));
    days.add(utcDay(this.now()));
    days.add(utcDay(this.now() + DAY_MS));
    try {
      await this.ensurePartitions(sql, days);
      await insertUsageRows(sql, rows);
    } catch (err) {
      // Retention elsewhere (another replica) may have dropped a partition this process knew.
      this.partitions.clear();
      throw err;
    }
  }

  /** New retention settings (a config reload); the first call starts the hourly job. */
  configure(settings: RetentionSettings): void {
    this.settings = settings;
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.maintain(), MAINTENANCE_INTERVAL_MS).unref();
    void this.maintain();
  }

  /** One run of the job: partitions ahead, then retention. Errors are logged, the next run tries again. */
  maintain(): Promise<void> {
    this.running ??= (async () => {
      try {
        const sql = await this.env.sql();
        await this.ensurePartitions(sql, new Set([utcDay(this.now()), utcDay(this.now() + DAY_MS)]));
        const result = await applyRetention(sql, this.settings, this.now());
        for (const name of result.droppedPartitions) this.partitions.delete(`${name.slice(15, 19)}-${name.slice(19, 21)}-${name.slice(21, 23)}`);
        if (result.droppedPartitions.length > 0 || result.deletedAggregates > 0) {
          this.env.log.info({ dropped_partitions: result.droppedPartitions, deleted_daily_rows: result.deletedAggregates }, 'billing: usage past retention removed');
        }
      } catch (err) {
        this.env.log.warn({ err: (err as Error).message }, 'billing: usage partition maintenance failed; retrying in an hour');
      }
    })().finally(() => (this.running = undefined));
    return this.running;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private async ensurePartitions(sql: SqlExecutor, days: ReadonlySet<string>): Promise<void> {
    const missing = [...days].filter((d) => !this.partitions.has(d)).sort();
    if (missing.length === 0) return;
    await sql.query('SELECT billing_usage_partition(d) FROM unnest($1::date[]) AS d', [missing]);
    for (const d of missing) this.partitions.add(d);
  }
}
