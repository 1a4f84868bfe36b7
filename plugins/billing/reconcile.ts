/**
 * Releases the credit reservations of requests that never settled (a gateway that stopped between
 * reserve and settle): once when a config version first enforces credits or budgets, then every
 * minute. Each reservation's expiry lies past any request's life, so a peer's requests in flight
 * are never touched.
 */
import type { GatewayEnv } from '../../core/env.js';
import { releaseExpired } from './credits.js';

/** How often expired reservations are looked for, besides at start. */
const RECONCILE_INTERVAL_MS = 60_000;

export class Reconciler {
  private readonly timer: NodeJS.Timeout;
  private running: Promise<void> | undefined;

  constructor(private readonly env: GatewayEnv, private readonly counter: { inc(n?: number): void }) {
    this.run();
    this.timer = setInterval(() => this.run(), RECONCILE_INTERVAL_MS).unref();
  }

  /** Releases what expired; never throws (a failure is logged and tried again next time). */
  run(): Promise<void> {
    this.running ??= (async () => {
      try {
        const released = await releaseExpired(await this.env.sql(), new Date());
        if (released.length > 0) {
          this.counter.inc(released.length);
          const credit = released.reduce((sum, r) => sum + BigInt(r.credit_micros), 0n);
          this.env.log.warn(
            { released: released.length, credit_micros: credit.toString(), request_ids: released.slice(0, 20).map((r) => r.request_id) },
            'billing: released expired credit reservations (a gateway stopped between reserve and settle; those requests were not charged)',
          );
        }
      } catch (err) {
        this.env.log.error({ err: (err as Error).message }, 'billing: releasing expired reservations failed; will retry');
      }
    })().finally(() => (this.running = undefined));
    return this.running;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
