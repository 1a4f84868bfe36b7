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
 * - A hit calls nothing upstream: `ctx.report.usage` stays empty (no tokens were spent) and
 *   `ctx.cache.usage` carries the usage in the cached body, for billing to charge nothing.
 */
import { definePlugin } from '../../core/plugin.js';
import { readSchema } from '../../core/config/schema.js';
import { parseBytes } from '../../core/config/units.js';
import { JsonResponse, type Context, type Endpoint, type Usage } from '../../core/context.js';
import { cacheKey, requestHash } from './request-key.js';
import { compileModelResolver, compileRules, isCacheable, readControls, type CacheConfig } from './policy.js';
import { replayStream } from './replay.js';
import { StreamAssembly } from './stream-assembly.js';
import { cacheRequestCounter, registerStoreGauges } from './cache-metrics.js';

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

export default definePlugin<CacheConfig>({
  name: 'cache',
  schema: readSchema('plugins/cache'),
  kinds: ['model'],
  create(config, env) {
    const kv = env.kv;
    const log = env.log;
    const endpoints = new Set(config.endpoints);
    const ruleFor = compileRules(config);
    const resolveModel = compileModelResolver(env);
    const maxEntryBytes = parseBytes(config.max_entry_bytes)!;
    const counter = cacheRequestCounter(env.metrics);
    const count = { hit: counter.labels('hit'), miss: counter.labels('miss'), bypass: counter.labels('bypass'), coalesced: counter.labels('coalesced') };
    registerStoreGauges(env.metrics, kv);
    /** Leaders' answers (encoded entries), by cache key; undefined when the leader got none to share. */
    const inFlight = new Map<string, Promise<string | undefined>>();

    const storeFailed = (err: Error): void => log.warn({ err: err.message, store: kv.kind }, 'cache: storing an answer failed');
    function store(key: string, entry: string, ttlMs: number): Promise<void> {
      // UTF-8 takes at most 3 bytes per UTF-16 unit: only an entry that might be too big is measured.
      if (entry.length * 3 > maxEntryBytes && Buffer.byteLength(entry) > maxEntryBytes) return Promise.resolve();
      return kv.set(key, entry, ttlMs).catch(storeFailed);
    }

    async function lookup(key: string): Promise<string | undefined> {
      try {
        return (await kv.get(key))?.toString('utf8');
      } catch (err) {
        log.warn({ err: (err as Error).message, store: kv.kind }, 'cache: lookup failed; calling upstream');
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
      if (ctx.signal.aborted || ctx.report.streamError) return;
      const answer = assembly.result(ctx.report.usage);
      if (answer) void store(key, encodeEntry(JSON.stringify(answer)), ttlMs);
    }

    return {
      async handle(ctx, next) {
        const endpoint = ctx.endpoint;
        const body = ctx.body;
        const requested = body?.['model'];
        if (!endpoint || !body || !endpoints.has(endpoint) || typeof requested !== 'string') return next();
        const resolved = resolveModel(requested);
        // Unknown models go on to `route`, which answers 404.
        if (!resolved) return next();
        ctx.report.model = requested;
        ctx.report.modelKey = resolved.key;
        const rule = ruleFor(endpoint, resolved.model);
        const controls = readControls(ctx.headers);
        if (controls.noStore || !isCacheable(rule, endpoint, body, controls.force)) {
          count.bypass.inc();
          ctx.cache = { status: 'BYPASS' };
          await next();
          if (ctx.response) ctx.response.headers[CACHE_HEADER] = 'BYPASS';
          return;
        }

        const org = ctx.auth?.orgId;
        const key = cacheKey(org, resolved.key, requestHash(endpoint, resolved.model, body));
        const stream = body['stream'] === true && STREAMING.has(endpoint);
        if (!controls.noCache) {
          const stored = await lookup(key);
          if (stored !== undefined && serve(ctx, stored, 'HIT', stream)) {
            count.hit.inc();
            return;
          }
          const leader = inFlight.get(key);
          if (leader) {
            const shared = await leader;
            if (shared !== undefined && serve(ctx, shared, 'COALESCED', stream)) {
              count.coalesced.inc();
              return;
            }
          }
        }

        count.miss.inc();
        ctx.cache = { status: 'MISS' };
        let share: ((entry: string | undefined) => void) | undefined;
        if (!stream && !controls.noCache && !inFlight.has(key)) {
          inFlight.set(key, new Promise((resolve) => (share = resolve)));
        }
        let stored: Promise<void> | undefined;
        try {
          await next();
          const response = ctx.response;
          if (!response || response.status !== 200) return;
          response.headers[CACHE_HEADER] = 'MISS';
          if (response.stream) {
            ctx.response = { ...response, stream: teeStream(ctx, response.stream, key, rule.ttlMs) };
            return;
          }
          // The bytes this client gets are the bytes stored: later plugins that touch the body make
          // the core re-serialise it, so the response is rebuilt around the text kept here.
          const text = response instanceof JsonResponse ? response.serialize() : JSON.stringify(response.body);
          ctx.response = new JsonResponse(200, response.headers, response.body, text);
          const entry = encodeEntry(text);
          share?.(entry);
          stored = store(key, entry, rule.ttlMs);
        } finally {
          if (share) {
            share(undefined);
            // Followers arriving before the write lands still find the leader's answer here.
            void (stored ?? Promise.resolve()).then(() => inFlight.delete(key));
          }
        }
      },
    };
  },
});
