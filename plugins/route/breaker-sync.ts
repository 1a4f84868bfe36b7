/**
 * Circuit breakers shared by every replica through a Redis key-value store. A replica whose breaker
 * opens (or closes) says so on one pub/sub channel; the others open (close) theirs at once, so a
 * failing target stops getting traffic from every replica within a Redis round trip rather than
 * after each replica has paid `failures` calls of its own. Half-open probes are claimed with a
 * short-lived key per probe slot, so `half_open_probes` bounds the probes of all replicas together.
 *
 * Only openings, closings and probe claims touch Redis; a call to a closed target does not.
 * With the memory store there is nothing to share and none of this runs.
 */
import { randomUUID } from 'node:crypto';
import type { KvStore } from '../../core/stores/kv.js';
import type { Logger } from '../../core/log.js';
import type { Transition } from './breaker.js';
import type { TargetRegistry, TargetState } from './targets.js';

const CHANNEL = 'route:breakers';
const PROBE_PREFIX = 'route:probe:';

/** A breaker event on the channel. */
interface BreakerEvent {
  /** Replica that sent it (a replica ignores its own). */
  r: string;
  e: 'open' | 'close';
  p: string;
  m: string;
  /** `open`: milliseconds the breaker stays open. */
  ms?: number;
}

export class BreakerSync {
  private readonly replica = randomUUID();
  private readonly subscribed: Promise<() => Promise<void>>;
  /** Whether the serving config shares breakers (`breaker.shared`); set by each config version. */
  enabled = true;

  constructor(
    private readonly kv: KvStore,
    private readonly targets: TargetRegistry,
    private readonly log: Logger,
  ) {
    this.subscribed = kv.subscribe(CHANNEL, (message) => this.receive(message)).catch((err: Error) => {
      log.error({ err: err.message }, 'route: cannot subscribe to breaker events; breakers stay per replica');
      return async () => undefined;
    });
  }

  /** Resolves once the subscription is in place (tests, start-up). */
  async ready(): Promise<void> {
    await this.subscribed;
  }

  /** Tells the other replicas that `target`'s breaker changed state here. */
  announce(target: TargetState, transition: Transition, now: number): void {
    if (!this.enabled || transition === undefined) return;
    const event: BreakerEvent =
      transition === 'opened'
        ? { r: this.replica, e: 'open', p: target.provider, m: target.model, ms: Math.max(0, Math.round(target.breaker.openUntil - now)) }
        : { r: this.replica, e: 'close', p: target.provider, m: target.model };
    this.kv.publish(CHANNEL, JSON.stringify(event)).catch((err: Error) => this.log.warn({ err: err.message, target: target.id }, 'route: breaker event not published'));
  }

  /**
   * Claims one of `slots` probe slots of `target` for this replica, for at most `ttlMs`; resolves to
   * the slot's key, or undefined when every slot is taken. A store that cannot be reached lets the
   * probe go (each replica's own limit still holds).
   */
  async claimProbe(target: TargetState, slots: number, ttlMs: number): Promise<string | undefined> {
    try {
      for (let i = 0; i < slots; i++) {
        const key = `${PROBE_PREFIX}${target.id}:${i}`;
        if (await this.kv.setIfAbsent(key, this.replica, Math.max(1, ttlMs))) return key;
      }
      return undefined;
    } catch (err) {
      this.log.warn({ err: (err as Error).message, target: target.id }, 'route: probe slot not claimed (store unreachable); probing anyway');
      return '';
    }
  }

  releaseProbe(key: string | undefined): void {
    if (key) this.kv.delete(key).catch(() => undefined);
  }

  private receive(message: string): void {
    if (!this.enabled) return;
    let event: BreakerEvent;
    try {
      event = JSON.parse(message) as BreakerEvent;
    } catch {
      return;
    }
    if (event.r === this.replica || typeof event.p !== 'string' || typeof event.m !== 'string') return;
    const target = this.targets.get(event.p, event.m);
    if (event.e === 'open' && typeof event.ms === 'number' && event.ms > 0) target.breaker.openedElsewhere(performance.now(), event.ms);
    else if (event.e === 'close') target.breaker.closedElsewhere();
  }

  async close(): Promise<void> {
    await (await this.subscribed)();
  }
}
