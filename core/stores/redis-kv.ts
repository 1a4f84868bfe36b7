/**
 * The Redis `KvStore` (`stores.kv: { redis: url }`), shared by every replica: values with PX TTLs,
 * pub/sub on a second connection (a subscribed connection can run nothing else), and limits as
 * atomic Lua scripts (`redis-scripts.ts`). Commands fail fast in an outage — a short command
 * timeout, one retry, no offline queue — and every failure surfaces as `StoreUnavailableError`, so
 * `fail_open` callers can decide. The first command that times out or finds the connection down
 * marks the store down (`OutageGuard`): later commands fail at once, without waiting for the
 * timeout, until a PING gets an answer. The client reconnects on its own.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../log.js';
import { StoreUnavailableError, type KvStore, type LimitCheck, type LimitDecision, type LimitState, type LimitStore } from './kv.js';
import { ACQUIRE_SCRIPT, ADJUST_SCRIPT, CONSUME_SCRIPT, RELEASE_SCRIPT } from './redis-scripts.js';
import { OutageGuard } from './outage.js';

/** Default key (and channel) prefix, so one Redis can hold several deployments apart. */
export const DEFAULT_REDIS_PREFIX = 'switchyard:';
/** A command that takes longer than this fails (an outage must not hold requests). */
const COMMAND_TIMEOUT_MS = 500;
/** Before the first connection is up, a command waits this long for it instead of failing at once. */
const FIRST_CONNECT_WAIT_MS = 2_000;
const SCAN_BATCH = 500;

export interface RedisKvOptions {
  url: string;
  prefix?: string;
  log: Logger;
}

interface Script {
  text: string;
  sha: string;
}

function script(text: string): Script {
  return { text, sha: createHash('sha1').update(text).digest('hex') };
}

const SCRIPTS = { consume: script(CONSUME_SCRIPT), adjust: script(ADJUST_SCRIPT), acquire: script(ACQUIRE_SCRIPT), release: script(RELEASE_SCRIPT) };

export class RedisKvStore implements KvStore {
  readonly kind = 'redis' as const;
  readonly limits: LimitStore;
  private readonly client: Redis;
  private subscriber: Redis | undefined;
  private readonly listeners = new Map<string, Set<(message: string) => void>>();
  private readonly prefix: string;
  private readonly url: string;
  private readonly options: RedisOptions;
  private readonly log: Logger;
  /** True once the first connection attempt has settled (see `firstConnection`). */
  private firstAttemptSettled = false;
  private firstAttempt: Promise<void> | undefined;
  private readonly guard: OutageGuard;

  constructor(options: RedisKvOptions) {
    this.prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
    this.url = options.url;
    this.log = options.log;
    this.options = {
      commandTimeout: COMMAND_TIMEOUT_MS,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    };
    this.client = this.connect(options.url, 'commands', this.options);
    this.limits = new RedisLimitStore(this);
    this.guard = new OutageGuard({ store: 'kv', server: 'redis', log: this.log, probe: () => this.client.ping() });
  }

  async get(key: string): Promise<Buffer | undefined> {
    const value = await this.run(() => this.client.getBuffer(this.prefix + key));
    return value ?? undefined;
  }

  async set(key: string, value: Buffer | string, ttlMs: number): Promise<void> {
    await this.run(() => this.client.set(this.prefix + key, value, 'PX', Math.max(1, Math.ceil(ttlMs))));
  }

  async setIfAbsent(key: string, value: Buffer | string, ttlMs: number): Promise<boolean> {
    const reply = await this.run(() => this.client.set(this.prefix + key, value, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX'));
    return reply === 'OK';
  }

  async delete(key: string): Promise<boolean> {
    return (await this.run(() => this.client.unlink(this.prefix + key))) > 0;
  }

  async deletePrefix(prefix: string, infix?: string): Promise<number> {
    const match = `${escapeGlob(this.prefix + prefix)}*${infix === undefined ? '' : `${escapeGlob(infix)}*`}`;
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await this.run(() => this.client.scan(cursor, 'MATCH', match, 'COUNT', SCAN_BATCH));
      cursor = next;
      if (keys.length) deleted += await this.run(() => this.client.unlink(...keys));
    } while (cursor !== '0');
    return deleted;
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.run(() => this.client.publish(this.prefix + channel, message));
  }

  async subscribe(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>> {
    const subscriber = this.subscriberConnection();
    const full = this.prefix + channel;
    let set = this.listeners.get(full);
    const listener = (message: string): void => onMessage(message);
    if (!set) {
      this.listeners.set(full, (set = new Set()));
      set.add(listener);
      await this.subscribeOrDefer(subscriber, full);
    } else set.add(listener);
    return async () => {
      set.delete(listener);
      if (set.size || this.listeners.get(full) !== set) return;
      this.listeners.delete(full);
      // Not awaited: in an outage the command waits in the subscriber's queue until Redis is back.
      subscriber.unsubscribe(full).catch(() => {});
    };
  }

  /**
   * Waits for SUBSCRIBE to take effect, but never longer than the first-connection wait: during an
   * outage the command stays queued and ioredis subscribes once Redis is back (and again after every
   * reconnect), so a plugin subscribing at start-up does not hang or fail with Redis down.
   */
  private async subscribeOrDefer(subscriber: Redis, channel: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deferred = new Promise<void>((resolve) => (timer = setTimeout(resolve, FIRST_CONNECT_WAIT_MS)));
    try {
      await Promise.race([subscriber.subscribe(channel), deferred]);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'redis subscribe failed; it is retried on reconnect');
    } finally {
      clearTimeout(timer);
    }
  }

  async ping(): Promise<void> {
    await this.run(() => this.client.ping());
  }

  async close(): Promise<void> {
    this.guard.close();
    await Promise.allSettled([this.client, this.subscriber].map((c) => c && (c.status === 'ready' ? c.quit() : c.disconnect())));
  }

  /** Runs a Lua script: EVALSHA, falling back to EVAL when the server does not have it cached (NOSCRIPT). */
  async evalScript(name: keyof typeof SCRIPTS, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    const { sha, text } = SCRIPTS[name];
    const prefixed = keys.map((k) => this.prefix + k);
    return this.run(async () => {
      try {
        return await this.client.evalsha(sha, prefixed.length, ...prefixed, ...args);
      } catch (err) {
        if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
        return this.client.eval(text, prefixed.length, ...prefixed, ...args);
      }
    });
  }

  /**
   * Every failure — timeout, refused connection, a Redis error reply — becomes `StoreUnavailableError`;
   * all but an error reply (the server answered) also mark the store down.
   */
  private async run<T>(command: () => Promise<T>): Promise<T> {
    if (!this.firstAttemptSettled) await this.firstConnection();
    this.guard.assertUp();
    try {
      return await command();
    } catch (err) {
      const detail = `redis: ${err instanceof Error ? err.message : String(err)}`;
      if (!(err instanceof Error && err.name === 'ReplyError')) this.guard.trip(detail);
      throw new StoreUnavailableError('kv', detail, { cause: err });
    }
  }

  /**
   * Settles once the first connection attempt did: connected, failed, or took too long. Shared, so
   * that only calls made while the gateway starts wait; later calls in an outage fail at once.
   */
  private firstConnection(): Promise<void> {
    this.firstAttempt ??= new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.client.off('ready', done);
        this.client.off('error', done);
        this.firstAttemptSettled = true;
        resolve();
      };
      const timer = setTimeout(done, FIRST_CONNECT_WAIT_MS);
      if (this.client.status === 'ready') done();
      this.client.once('ready', done);
      this.client.once('error', done);
    });
    return this.firstAttempt;
  }

  private subscriberConnection(): Redis {
    if (this.subscriber) return this.subscriber;
    // Subscriptions queue until connected and are renewed by ioredis after every reconnect.
    const subscriber = this.connect(this.url, 'subscriber', { ...this.options, enableOfflineQueue: true, commandTimeout: undefined });
    subscriber.on('message', (channel: string, message: string) => {
      for (const listener of this.listeners.get(channel) ?? []) {
        try {
          listener(message);
        } catch (err) {
          this.log.error({ err, channel: channel.slice(this.prefix.length) }, 'kv subscriber failed');
        }
      }
    });
    return (this.subscriber = subscriber);
  }

  private connect(url: string, role: string, options: RedisOptions): Redis {
    const client = new Redis(url, options);
    let lastLogged = 0;
    client.on('error', (err: Error) => {
      // One line per 10 s at most: a Redis outage must not flood the log.
      const now = Date.now();
      if (now - lastLogged < 10_000) return;
      lastLogged = now;
      this.log.warn({ role, err: err.message }, 'redis connection error');
    });
    return client;
  }
}

class RedisLimitStore implements LimitStore {
  private readonly memberTag = randomBytes(6).toString('base64url');
  private sequence = 0;

  constructor(private readonly store: RedisKvStore) {}

  async consume(checks: readonly LimitCheck[]): Promise<LimitDecision> {
    const args: (string | number)[] = [];
    for (const c of checks) args.push(c.limit, Math.max(1, Math.round(c.windowMs)), Math.round(c.cost));
    const reply = (await this.store.evalScript('consume', checks.map((c) => c.key), args)) as number[];
    const states: LimitState[] = [];
    for (let i = 0; i < checks.length; i++) states.push({ limit: checks[i]!.limit, remaining: reply[2 + 2 * i]!, resetMs: reply[3 + 2 * i]! });
    return { allowed: reply[0] === 1, states, retryAfterMs: reply[1]! };
  }

  async adjust(key: string, windowMs: number, delta: number): Promise<void> {
    const units = Math.round(delta);
    if (units === 0) return;
    await this.store.evalScript('adjust', [key], [Math.max(1, Math.round(windowMs)), units]);
  }

  async acquire(key: string, max: number, ttlMs: number): Promise<{ acquired: boolean; inUse: number }> {
    const member = `${this.memberTag}:${this.sequence++}`;
    const [acquired, inUse] = (await this.store.evalScript('acquire', [key], [max, Math.max(1, Math.round(ttlMs)), member])) as [number, number];
    return { acquired: acquired === 1, inUse };
  }

  async release(key: string): Promise<void> {
    await this.store.evalScript('release', [key], []);
  }
}

/** Escapes Redis glob metacharacters so a prefix matches only itself. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
