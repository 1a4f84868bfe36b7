/**
 * The three load shapes of the benchmark, all run from the bench process:
 * - `saturate`: autocannon, closed loop, N connections — requests per second;
 * - `paced`: an open-loop client at a fixed request rate with sub-millisecond latencies;
 * - `chunkDelays`: how long a stream chunk takes from the upstream's write to the client.
 */
import autocannon from 'autocannon';
import { Agent, request } from 'node:http';

export const CHAT_PATH = '/v1/chat/completions';
const MESSAGES = [{ role: 'user', content: 'Say hello.' }];
export const CHAT_BODY = JSON.stringify({ model: 'gpt-4o-mini', messages: MESSAGES });
export const STREAM_BODY = JSON.stringify({ model: 'gpt-4o-mini', messages: MESSAGES, stream: true, bench_chunks: 20 });
const HEADERS = { 'content-type': 'application/json' };

export interface Saturation {
  rps: number;
  /** 2xx responses in the measured phase (warm-up excluded). */
  requests: number;
  /** Responses during warm-up. */
  warmupRequests: number;
  /** CPU time of the system under test per measured request, µs (when a `cpu` probe was given). */
  cpuUsPerRequest: number;
  /** autocannon's own latency histogram (whole milliseconds). */
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
}

/**
 * Closed-loop load: `warmupS` discarded, then `durationS` measured. `cpu` returns the system under
 * test's cumulative CPU ms; it is read around the measured phase.
 */
export async function saturate(base: string, body: string, connections: number, warmupS: number, durationS: number, cpu?: () => number): Promise<Saturation> {
  const options = { url: `${base}${CHAT_PATH}`, method: 'POST', headers: HEADERS, body, connections, pipelining: 1, timeout: 10 };
  const warm = warmupS > 0 ? await autocannon({ ...options, duration: warmupS }) : undefined;
  const cpuBefore = cpu?.() ?? NaN;
  const r = await autocannon({ ...options, duration: durationS });
  const cpuUsed = (cpu?.() ?? NaN) - cpuBefore;
  return {
    rps: r['2xx'] / r.duration,
    requests: r['2xx'],
    warmupRequests: warm ? warm['2xx'] + warm.non2xx : 0,
    cpuUsPerRequest: (cpuUsed * 1000) / r['2xx'],
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors,
  };
}

/** The least disturbed of several rounds: best throughput, lowest CPU per request, all failures. */
export function bestSaturation(all: Saturation[]): Saturation {
  const top = all.reduce((a, b) => (b.rps > a.rps ? b : a));
  return {
    ...top,
    cpuUsPerRequest: Math.min(...all.map((r) => r.cpuUsPerRequest)),
    non2xx: all.reduce((n, r) => n + r.non2xx, 0),
    errors: all.reduce((n, r) => n + r.errors, 0),
  };
}

export interface Paced {
  /** Requests per second actually completed. */
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  failed: number;
}

/** The least disturbed of several rounds, percentile by percentile. */
export function bestPaced(all: Paced[]): Paced {
  const min = (pick: (p: Paced) => number) => Math.min(...all.map(pick));
  return {
    rps: Math.min(...all.map((p) => p.rps)),
    p50Ms: min((p) => p.p50Ms),
    p90Ms: min((p) => p.p90Ms),
    p99Ms: min((p) => p.p99Ms),
    maxMs: min((p) => p.maxMs),
    failed: all.reduce((n, p) => n + p.failed, 0),
  };
}

/** The middle value (the mean of the two middle ones for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  if (sorted.length === 0) return NaN;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/**
 * Open-loop load at `rate` requests per second, spread evenly (autocannon's `overallRate` sends
 * each second's quota back to back and then idles, and records whole milliseconds, so it cannot
 * resolve a 0.3 ms difference). Latency runs from issuing the request to the response's last byte.
 * `body` may be a function returning a new body for every request.
 */
export async function paced(base: string, body: string | (() => string), rate: number, durationS: number, headers: Record<string, string> = {}): Promise<Paced> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const next = typeof body === 'string' ? () => body : body;
  const url = `${base}${CHAT_PATH}`;
  const total = Math.round(rate * durationS);
  const interval = 1000 / rate;
  const latencies: number[] = [];
  let failed = 0;
  let sent = 0;
  let finished = 0;
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const complete = (ok: boolean, ms: number) => {
      if (ok) latencies.push(ms);
      else failed++;
      if (++finished === total) resolve();
    };
    const fire = () => {
      const text = next();
      const t0 = performance.now();
      const req = request(url, { method: 'POST', agent, headers: { ...HEADERS, ...headers, 'content-length': Buffer.byteLength(text) }, timeout: 10_000 }, (res) => {
        res.on('data', () => {});
        res.on('end', () => complete(res.statusCode === 200, performance.now() - t0));
        res.on('error', () => complete(false, 0));
      });
      req.on('error', () => complete(false, 0));
      req.on('timeout', () => req.destroy());
      req.end(text);
    };
    const tick = () => {
      const due = Math.min(total, Math.floor((performance.now() - started) / interval) + 1);
      while (sent < due) {
        fire();
        sent++;
      }
      if (sent < total) setTimeout(tick, Math.max(0, started + sent * interval - performance.now()));
    };
    tick();
  });
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    rps: latencies.length / elapsed,
    p50Ms: percentile(latencies, 50),
    p90Ms: percentile(latencies, 90),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies[latencies.length - 1] ?? NaN,
    failed,
  };
}

export interface ChunkDelays {
  /** Upstream write of chunk 1 → client receipt, ms, sorted. */
  first: number[];
  /** Same for chunk 2, written `gapMs` after chunk 1 (an idle stream forwarding one event). */
  second: number[];
  failed: number;
}

/**
 * `streams` two-chunk streams whose chunks the upstream stamps with the shared monotonic clock,
 * `concurrency` at a time (staggered so chunks of different streams rarely coincide).
 */
export async function chunkDelays(base: string, streams: number, concurrency: number, gapMs = 50): Promise<ChunkDelays> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: MESSAGES, stream: true, bench_chunks: 2, bench_gap_ms: gapMs, bench_stamp: true });
  const result: ChunkDelays = { first: [], second: [], failed: 0 };
  const one = () =>
    new Promise<void>((resolve) => {
      const req = request(`${base}${CHAT_PATH}`, { method: 'POST', agent, headers: { ...HEADERS, 'content-length': Buffer.byteLength(body) }, timeout: 10_000 }, (res) => {
        let text = '';
        let stamped = 0;
        res.setEncoding('utf8');
        res.on('data', (data: string) => {
          const now = process.hrtime.bigint();
          text += data;
          let end: number;
          while ((end = text.indexOf('\n\n')) !== -1) {
            const event = text.slice(0, end);
            text = text.slice(end + 2);
            if (!event.startsWith('data: {')) continue;
            const stamp = (JSON.parse(event.slice(6)) as { bench_t?: string }).bench_t;
            if (stamp === undefined) continue;
            const ms = Number(now - BigInt(stamp)) / 1e6;
            (stamped++ === 0 ? result.first : result.second).push(ms);
          }
        });
        res.on('end', () => {
          if (res.statusCode !== 200 || stamped !== 2) result.failed++;
          resolve();
        });
        res.on('error', () => (result.failed++, resolve()));
      });
      req.on('error', () => (result.failed++, resolve()));
      req.on('timeout', () => req.destroy());
      req.end(body);
    });
  let next = 0;
  const worker = async (i: number) => {
    await new Promise((r) => setTimeout(r, (i * gapMs) / concurrency));
    while (next < streams) {
      next++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i)));
  agent.destroy();
  result.first.sort((a, b) => a - b);
  result.second.sort((a, b) => a - b);
  return result;
}
