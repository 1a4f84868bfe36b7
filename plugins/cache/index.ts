/**
 * `cache` — exact-match response cache in the gateway's key-value store. On the miss path a
 * request costs one hash of its canonical body and one `kv.get`; the store write is not awaited.
 *
 * - Entries are `cache:<org>:<modelKey>:<hash>` → `<meta JSON>\n<response JSON text>`: one
 *   canonical non-streamed answer, whose bytes a non-streamed hit sends back unchanged and which a
 *   streaming hit replays as chunks (`replay.ts`). A streamed miss is forwarded chunk by chunk and
 *   assembled on the way (`stream-assembly.ts`); it is stored only if it ended cleanly.
 * - Concurrent identical non-streaming misses in this process share one upstream call (the
 *   followers answer `x-switchyard-cache: COALESCED`); if the leader gets no storable answer, each
 *   follower makes its own call. Replicas do not coalesce with each other.
 * - A hit calls nothing upstream: `ctx.usage` stays empty (no tokens were spent) and
 *   `ctx.cache.cachedUsage` carries the usage in the cached body, for billing to charge nothing.
 * - Keys are per organization and per resolved model (`ctx.model`: an alias and the id it names
 *   share entries).
 */
import { definePlugin } from '../../core/plugin.js';
import { readSchema } from '../../core/config/schema.js';
import { parseBytes } from '../../core/config/units.js';
import { ChunkStream, JsonResponse, type Context, type Endpoint, type Usage } from '../../core/context.js';
import type { Next } from '../../core/plugin.js';
import { keyPrefixes, requestHash } from './request-key.js';
import { compileRules, isCacheable, readControls, type CacheConfig } from './policy.js';
import { replayStream } from './replay.js';
import { StreamAssembly } from './stream-assembly.js';
import { cacheRequestTally, registerStoreGauges, type CacheTally } from './cache-metrics.js';
import { StoreUnavailableError } from '../../core/errors.js';
import cacheAdmin from './admin.js';

/** Least time between two warnings about the store failing. */
const STORE_WARNING_INTERVAL_MS = 10_000;

export type { CacheConfig } from './policy.js';

/** The response header naming what the cache did. */
export const CACHE_HEADER = 'x-switchyard-cache';

/** What the cache did with a request, for the plugins that run after it (billing, audit). */
export interface CacheState {
  status: 'HIT' | 'MISS' | 'BYPASS' | 'COALESCED';
  /** On HIT / COALESCED: the usage in the cached answer. No tokens were spent upstream for this request. */
  cachedUsage?: Usage;
}

declare module '../../core/context.js' {
  interface ContextState {
    cache?: CacheState;
  }
}

/** Endpoints whose requests may ask for a stream. */
const STREAMING: ReadonlySet<Endpoint> = new Set(['chat.completions', 'completions']);

interface EntryMeta {
  /** Milliseconds since the epoch when the answer was stored. */
  at: number;
}

/** `<meta JSON>\n<response text>`; the meta is written by hand (`{"at":…}`, what JSON.stringify gives) as it is one integer. */
const encodeEntry = (text: string): string => `{"at":${Date.now()}}\n${text}`;

/** What the cache did, for requests whose state carries nothing else (shared: never changed after). */
const MISS: CacheState = Object.freeze({ status: 'MISS' });
const BYPASS: CacheState = Object.freeze({ status: 'BYPASS' });

/**
 * A miss in progress for one cache key, once an identical request waits for it: the leader hands
 * its entry (or undefined) to `answer`'s waiters. Until then the in-flight map holds `LEADING`, so
 * a miss nobody waits for costs no promise.
 */
class Flight {
  share!: (entry: string | undefined) => void;
  readonly answer = new Promise<string | undefined>((resolve) => (this.share = resolve));
}
const LEADING = 'leading';

export default definePlugin<CacheConfig, CacheTally>({
  name: 'cache',
  schema: readSchema('plugins/cache'),
  admin: cacheAdmin,
  kinds: ['model'],
  // Entries are per organization: with `auth` in the pipeline, it runs first.
  after: ['auth'],
  process: { create: (env) => cacheRequestTally(env.metrics) },
  create(config, env, count) {
    const kv = env.kv;
    // The memory store answers synchronously: no promise or microtask hop per lookup or write.
    const memory = kv.sync;
    const log = env.log;
    const endpoints: ReadonlySet<Endpoint> = new Set(config.endpoints);
    const ruleFor = compileRules(config);
    const prefixFor = keyPrefixes();
    const maxEntryBytes = parseBytes(config.max_entry_bytes)!;
    registerStoreGauges(env.metrics, kv);
    /** Misses in progress by cache key: `LEADING` until a follower arrives and makes it a `Flight`. */
    const inFlight = new Map<string, Flight | typeof LEADING>();

    // A store outage fails every lookup and write: say so at most every 10 s, not once per request.
    let lastStoreWarning = 0;
    const storeWarning = (err: unknown, message: string): void => {
      const now = Date.now();
      if (now - lastStoreWarning < STORE_WARNING_INTERVAL_MS) return;
      lastStoreWarning = now;
      log.warn({ err: err instanceof StoreUnavailableError ? err.detail : (err as Error).message, store: kv.kind }, message);
    };
    const storeFailed = (err: Error): void => storeWarning(err, 'cache: storing an answer failed');
    /** Stores an entry; resolves once the write landed (at once for the memory store). */
    function store(key: string, entry: string, ttlMs: number): Promise<void> | undefined {
      // UTF-8 takes at most 3 bytes per UTF-16 unit: only an entry that might be too big is measured.
      if (entry.length * 3 > maxEntryBytes && Buffer.byteLength(entry) > maxEntryBytes) return undefined;
      if (memory) {
        memory.setSync(key, entry, ttlMs);
        return undefined;
      }
      return kv.set(key, entry, ttlMs).catch(storeFailed);
    }

    async function lookup(key: string): Promise<string | undefined> {
      try {
        return (await kv.get(key))?.toString('utf8');
      } catch (err) {
        storeWarning(err, 'cache: lookup failed; calling upstream');
        return undefined;
      }
    }

    /**
     * Answers from an entry: the stored bytes, or a replayed stream when the client asked for one.
     * Returns false for an entry that does not parse (written by something else), which then counts as a miss.
     */
    function serve(ctx: Context, entry: string, status: 'HIT' | 'COALESCED', stream: boolean): boolean {
      const newline = entry.indexOf('\n');
      let meta: EntryMeta;
      let value: Record<string, unknown>;
      const text = entry.slice(newline + 1);
      try {
        meta = JSON.parse(entry.slice(0, newline)) as EntryMeta;
        value = JSON.parse(text) as Record<string, unknown>;
      } catch {
        log.warn({ request_id: ctx.id }, 'cache: an entry did not parse; calling upstream');
        return false;
      }
      const headers = { [CACHE_HEADER]: status, age: String(Math.max(0, Math.floor((Date.now() - meta.at) / 1000))) };
      const usage = value['usage'] as Usage | undefined;
      ctx.cache = { status, ...(usage ? { cachedUsage: usage } : {}) };
      ctx.report.cache = status;
      if (stream) {
        const includeUsage = (ctx.body?.['stream_options'] as { include_usage?: unknown } | undefined)?.include_usage === true;
        ctx.response = { status: 200, headers, stream: replayStream(value, includeUsage) };
      } else {
        ctx.response = new JsonResponse(200, headers, value, text);
      }
      return true;
    }

    /** Wraps a streamed miss: forwards every chunk as it comes and stores the assembled answer if the stream ended cleanly. */
    async function* teeStream(ctx: Context, source: AsyncIterable<unknown>, key: string, ttlMs: number): AsyncGenerator<unknown> {
      const assembly = new StreamAssembly(maxEntryBytes);
      for await (const chunk of source) {
        assembly.add(chunk);
        yield chunk;
      }
      storeStreamed(ctx, assembly, key, ttlMs);
    }

    /**
     * A stream ended complete (before the client gets its end, so an identical request right
     * after hits): stores the answer, with the usage the stream reported.
     */
    function storeStreamed(ctx: Context, assembly: StreamAssembly, key: string, ttlMs: number): void {
      if (ctx.signal.aborted || ctx.report.streamError) return;
      const answer = assembly.result(ctx.usage);
      if (answer) void store(key, encodeEntry(JSON.stringify(answer)), ttlMs);
    }

    async function bypass(ctx: Context, next: Next): Promise<void> {
      count.bypass++;
      ctx.cache = BYPASS;
      ctx.report.cache = 'BYPASS';
      await next();
      if (ctx.response) ctx.response.headers[CACHE_HEADER] = 'BYPASS';
    }

    /** Waits for the leader of `key`; false when it got no answer to share (the caller then misses on its own). */
    async function follow(ctx: Context, key: string, flight: Flight | typeof LEADING, stream: boolean): Promise<boolean> {
      if (flight === LEADING) inFlight.set(key, (flight = new Flight()));
      const shared = await flight.answer;
      if (shared === undefined || !serve(ctx, shared, 'COALESCED', stream)) return false;
      count.coalesced++;
      return true;
    }

    /** A lookup through the store's promise API (Redis), then a follow or a miss. */
    async function lookupThenMiss(ctx: Context, next: Next, key: string, ttlMs: number, stream: boolean): Promise<void> {
      const stored = await lookup(key);
      if (stored !== undefined && serve(ctx, stored, 'HIT', stream)) {
        count.hit++;
        return;
      }
      const flight = inFlight.get(key);
      if (flight !== undefined && (await follow(ctx, key, flight, stream))) return;
      return miss(ctx, next, key, ttlMs, stream, true);
    }

    async function followThenMiss(ctx: Context, next: Next, key: string, flight: Flight | typeof LEADING, ttlMs: number, stream: boolean): Promise<void> {
      if (await follow(ctx, key, flight, stream)) return;
      return miss(ctx, next, key, ttlMs, stream, true);
    }

    /** Calls upstream and stores a 200 answer; a non-streamed lookup miss leads any identical request that arrives meanwhile. */
    async function miss(ctx: Context, next: Next, key: string, ttlMs: number, stream: boolean, looked: boolean): Promise<void> {
      count.miss++;
      ctx.cache = MISS;
      ctx.report.cache = 'MISS';
      const leads = !stream && looked && !inFlight.has(key);
      if (leads) inFlight.set(key, LEADING);
      let entry: string | undefined;
      let stored: Promise<void> | undefined;
      try {
        await next();
        const response = ctx.response;
        if (!response || response.status !== 200) return;
        response.headers[CACHE_HEADER] = 'MISS';
        if (response instanceof ChunkStream) {
          // Read along without iterating the stream, so that its chunks still pass through as they came.
          const assembly = new StreamAssembly(maxEntryBytes);
          response.observe(
            (chunk) => assembly.add(chunk),
            () => storeStreamed(ctx, assembly, key, ttlMs),
          );
          return;
        }
        if (response.stream) {
          ctx.response = { ...response, stream: teeStream(ctx, response.stream, key, ttlMs) };
          return;
        }
        // The bytes this client gets are the bytes stored: later plugins that touch the body make
        // the core re-serialise it, so the response is rebuilt around the text kept here.
        const text = response instanceof JsonResponse ? response.serialize() : JSON.stringify(response.body);
        ctx.response = new JsonResponse(200, response.headers, response.body, text);
        entry = encodeEntry(text);
        stored = store(key, entry, ttlMs);
      } finally {
        if (leads) settle(key, entry, stored);
      }
    }

    /** The leader is done: hands `entry` to any follower; the key stays in flight until the write landed. */
    function settle(key: string, entry: string | undefined, stored: Promise<void> | undefined): void {
      const flight = inFlight.get(key);
      if (flight instanceof Flight) flight.share(entry);
      if (!stored || entry === undefined) {
        inFlight.delete(key);
        return;
      }
      // Followers arriving before the write lands still find the leader's answer here.
      const landed = flight instanceof Flight ? flight : new Flight();
      if (landed !== flight) {
        landed.share(entry);
        inFlight.set(key, landed);
      }
      void stored.then(() => inFlight.delete(key));
    }

    return {
      handle(ctx, next) {
        const endpoint = ctx.endpoint;
        const body = ctx.body;
        if (!endpoint || !body || !endpoints.has(endpoint)) return next();
        const resolved = ctx.model!;
        const rule = ruleFor(endpoint, resolved.id);
        const controls = readControls(ctx.headers);
        if (controls.noStore || !isCacheable(rule, endpoint, body, controls.force)) return bypass(ctx, next);

        const key = prefixFor(ctx.auth?.orgId, resolved.key) + requestHash(endpoint, resolved.id, body);
        const stream = body['stream'] === true && STREAMING.has(endpoint);
        if (controls.noCache) return miss(ctx, next, key, rule.ttlMs, stream, false);
        if (!memory) return lookupThenMiss(ctx, next, key, rule.ttlMs, stream);
        const stored = memory.getTextSync(key);
        if (stored !== undefined && serve(ctx, stored, 'HIT', stream)) {
          count.hit++;
          return Promise.resolve();
        }
        const flight = inFlight.get(key);
        if (flight !== undefined) return followThenMiss(ctx, next, key, flight, rule.ttlMs, stream);
        return miss(ctx, next, key, rule.ttlMs, stream, true);
      },
    };
  },
});
