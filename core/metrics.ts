/**
 * One Prometheus registry per gateway (not prom-client's global one, so several gateways can live in
 * one process, as they do in tests). Label values are route templates, model ids, provider names and
 * status codes only — never anything a client could use to smuggle a secret into a label.
 */
import { readFileSync } from 'node:fs';
import { Registry, Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';
import type { RequestRecord } from './record.js';

/** Set when the gateway runs on Deno (its Node.js compatibility layer), which lacks some process metrics; see docs/deno.md. */
const DENO_VERSION = process.versions['deno'];
/** prom-client's process metrics that read /proc/self on Linux. */
const PROC_SELF_METRICS = ['resident_memory_bytes', 'virtual_memory_bytes', 'heap_bytes', 'open_fds'].map((m) => `switchyard_process_${m}`);

function procSelfReadable(): boolean {
  try {
    readFileSync('/proc/self/status');
    return true;
  } catch {
    return false;
  }
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'switchyard_requests_total',
    help: 'Requests answered, by route template, model and HTTP status.',
    labelNames: ['route', 'model', 'status'] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'switchyard_request_duration_seconds',
    help: 'Time from request arrival to the last byte of the response.',
    labelNames: ['route', 'model'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly upstreamDuration = new Histogram({
    name: 'switchyard_upstream_duration_seconds',
    help: 'Time from sending the upstream request to its response headers.',
    labelNames: ['provider'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly timeToFirstToken = new Histogram({
    name: 'switchyard_time_to_first_token_seconds',
    help: 'Time from request arrival to the first streamed chunk written to the client.',
    labelNames: ['model'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly tokens = new Counter({
    name: 'switchyard_tokens_total',
    help: 'Tokens reported by providers, by direction (input|output) and model.',
    labelNames: ['direction', 'model', 'provider'] as const,
    registers: [this.registry],
  });
  readonly configReloads = new Counter({
    name: 'switchyard_config_reloads_total',
    help: 'Configuration reloads, by result (ok|failed).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly upstreamErrors = new Counter({
    name: 'switchyard_upstream_errors_total',
    help: 'Failed upstream attempts, by provider and error code.',
    labelNames: ['provider', 'code'] as const,
    registers: [this.registry],
  });

  /** Label-bound children per (route, model, status): prom-client hashes label objects on every call otherwise. */
  private readonly bound = new Map<string, { count: { inc(): void }; duration: { observe(v: number): void } }>();

  /** Counts one answered request and its duration. Label values are bounded (templates, config keys, statuses). */
  observeRequest(route: string, model: string, status: number, seconds: number): void {
    const key = `${route}\u0000${model}\u0000${status}`;
    let children = this.bound.get(key);
    if (!children) {
      children = { count: this.requests.labels(route, model, String(status)), duration: this.duration.labels(route, model) };
      this.bound.set(key, children);
    }
    children.count.inc();
    children.duration.observe(seconds);
  }

  /** The metrics subscriber of the request records: everything per request is counted from the record. */
  readonly observe = (r: RequestRecord): void => {
    const model = r.modelKey ?? 'none';
    this.observeRequest(r.route, model, r.status, r.ms / 1000);
    if (r.ttftMs !== undefined) this.timeToFirstToken.observe({ model }, r.ttftMs / 1000);
    for (const attempt of r.attempts) {
      if (attempt.ttfbMs !== undefined) this.upstreamDuration.observe({ provider: attempt.provider }, attempt.ttfbMs / 1000);
      if (attempt.errorCode !== undefined) this.upstreamErrors.inc({ provider: attempt.provider, code: attempt.errorCode });
    }
    if (r.usage && r.provider) {
      this.tokens.inc({ direction: 'input', model, provider: r.provider }, r.usage.prompt_tokens);
      this.tokens.inc({ direction: 'output', model, provider: r.provider }, r.usage.completion_tokens);
    }
  };

  /**
   * A plugin's own counter, created on first use and shared by later config versions (a plugin's
   * `create()` runs on every reload; registering the same name twice would throw). Name it
   * `switchyard_<plugin>_…`; label values must be bounded and never carry a secret. A hot path can
   * count in plain numbers and hand them over in `collect`, which runs at scrape time (an `inc` on
   * a bound child still hashes its labels).
   */
  counter<L extends string>(name: string, help: string, labelNames: readonly L[] = [], collect?: (this: Counter<L>) => void | Promise<void>): Counter<L> {
    const existing = this.registry.getSingleMetric(name);
    if (existing) return existing as Counter<L>;
    return new Counter({ name, help, labelNames, registers: [this.registry], ...(collect ? { collect } : {}) });
  }

  /** A plugin's own gauge; see `counter`. `collect` runs at scrape time (e.g. to read a store's size). */
  gauge<L extends string>(name: string, help: string, labelNames: readonly L[] = [], collect?: (this: Gauge<L>) => void | Promise<void>): Gauge<L> {
    const existing = this.registry.getSingleMetric(name);
    if (existing) return existing as Gauge<L>;
    return new Gauge({ name, help, labelNames, registers: [this.registry], ...(collect ? { collect } : {}) });
  }

  constructor(options: { processMetrics?: boolean } = {}) {
    if (!(options.processMetrics ?? true)) return;
    collectDefaultMetrics({ register: this.registry, prefix: 'switchyard_' });
    // Deno's node:perf_hooks emits no `gc` entries: the histogram would be declared and stay empty forever.
    if (DENO_VERSION) this.registry.removeSingleMetric('switchyard_nodejs_gc_duration_seconds');
    // Deno lets a program read /proc/self only with --allow-all; without it prom-client would report zeros.
    if (DENO_VERSION && process.platform === 'linux' && !procSelfReadable()) {
      for (const name of PROC_SELF_METRICS) this.registry.removeSingleMetric(name);
      this.gauge('switchyard_process_resident_memory_bytes', 'Resident memory size in bytes.', [], function () {
        this.set(process.memoryUsage.rss());
      });
    }
    new Gauge({
      name: 'switchyard_runtime_info',
      help: 'The JavaScript runtime running the gateway (node|deno) and its version; always 1. Under Deno, nodejs_version_info is the Node.js version it emulates.',
      labelNames: ['runtime', 'version'] as const,
      registers: [this.registry],
    }).set(DENO_VERSION ? { runtime: 'deno', version: DENO_VERSION } : { runtime: 'node', version: process.versions.node }, 1);
  }
}
