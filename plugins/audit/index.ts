/**
 * `audit` — a tamper-evident record of who changed what, and optionally of every request.
 *
 * Per process: subscriptions to the gateway's events (admin actions, config reloads: `env.events`)
 * and, when `requests.enabled`, to the request records. Each event becomes one JSON log line at
 * once and one row of the hash-chained `audit_log`, appended in batches through a bounded queue
 * (chain.ts); the queue is flushed at shutdown. Admin actions are recorded whenever a config
 * version with `audit` is serving — the setting is the plugin's presence, not a flag.
 *
 * Per request (only with `bodies.enabled`): captures the request body as the client sent it and the
 * response (a JSON answer, or a stream's assembled text), redacted (redact.ts), for the request's
 * event.
 */
import { definePlugin } from '../../core/plugin.js';
import { readSchema } from '../../core/config/schema.js';
import { parseDuration } from '../../core/config/units.js';
import { BatchQueue, spillDirectory, type BatchQueueSettings } from '../../core/stores/batch-queue.js';
import { ChunkStream, type Attempt, type Context } from '../../core/context.js';
import type { GatewayEnv } from '../../core/env.js';
import type { Logger } from '../../core/log.js';
import type { AuditConfig } from '../../schemas/types/plugins/audit.js';
import { AUDIT_MIGRATIONS } from './migrations.js';
import { appendEntries, chainKey, type AuditEntry } from './chain.js';
import { adminEntry, configEntry, requestEntry, type CapturedBodies, type MadeEntry } from './entries.js';
import { compileRedaction, gatewaySecrets, type Redactor } from './redact.js';
import auditAdmin from './admin.js';
import { auditCommands } from './cli.js';

export type { AuditConfig };

/** What the serving config asks for, compiled. */
interface AuditSettings {
  log: boolean;
  requests: boolean;
  excludeRoutes: ReadonlySet<string>;
}

/** What outlives config versions. */
export interface AuditProcess {
  queue: BatchQueue<AuditEntry>;
  log: Logger;
  /**
   * The settings of live instances, oldest first: the newest applies. Empty while no serving config
   * has `audit` (a reload that drops it stops the recording once the old version retires).
   */
  live: AuditSettings[];
  /** Captured bodies by request (the record carries `ctx.attempts` itself); weak, so nothing lingers. */
  bodies: WeakMap<readonly Attempt[], CapturedBodies>;
  unsubscribe: () => void;
}

function queueSettings(config: AuditConfig): BatchQueueSettings {
  return { intervalMs: parseDuration(config.queue.flush_interval) ?? 1000, batchRows: config.queue.batch_rows, maxQueued: config.queue.max_queued };
}

function openProcess(env: GatewayEnv): AuditProcess {
  const events = env.metrics.counter('switchyard_audit_events_total', 'Audit events by what became of them: written to audit_log, or dropped (queue full, or unwritten at shutdown).', ['result']);
  const failures = env.metrics.counter('switchyard_audit_write_failures_total', 'Failed audit_log appends (each is retried).');
  let key: Buffer | undefined;
  const spillDir = spillDirectory(env.config, env.configDir, env.processEnv);
  const queue = new BatchQueue<AuditEntry>({
    name: 'audit',
    label: 'audit: events',
    metrics: env.metrics,
    // Entries are plain JSON; appending one twice (a replay after a crash) adds nothing (chain.ts).
    spill: spillDir === undefined ? undefined : { dir: spillDir, encode: (entry) => entry, decode: (value) => value as AuditEntry },
    log: env.log,
    settings: { intervalMs: 1000, batchRows: 200, maxQueued: 20_000 },
    counters: { written: (n) => events.inc({ result: 'written' }, n), dropped: (n) => events.inc({ result: 'dropped' }, n), failedWrite: () => failures.inc() },
    async write(entries) {
      key ??= chainKey(await env.serverSecret());
      await appendEntries(await env.sql(), key, entries);
    },
  });
  env.metrics.gauge('switchyard_audit_events_queued', 'Audit events waiting to be written.', [], function () {
    this.set(queue.length);
  });
  const state: AuditProcess = { queue, log: env.log, live: [], bodies: new WeakMap(), unsubscribe: () => {} };
  const settings = (): AuditSettings | undefined => state.live[state.live.length - 1];
  const record = (made: MadeEntry, s: AuditSettings) => {
    if (s.log) state.log.info({ audit: made.fields }, 'audit');
    queue.push(made.entry);
  };
  const offEvents = env.events.subscribe((event) => {
    const s = settings();
    if (s) record(event.type === 'admin.action' ? adminEntry(event) : configEntry(event), s);
  });
  const offRecords = env.records.subscribe((r) => {
    const s = settings();
    if (!s?.requests || s.excludeRoutes.has(r.route)) return;
    const bodies = state.bodies.get(r.attempts);
    bodies?.finish?.();
    record(requestEntry(r, bodies), s);
  });
  state.unsubscribe = () => {
    offEvents();
    offRecords();
  };
  return state;
}

export default definePlugin<AuditConfig, AuditProcess>({
  name: 'audit',
  schema: readSchema('plugins/audit'),
  migrations: AUDIT_MIGRATIONS,
  admin: auditAdmin,
  commands: auditCommands,
  process: {
    create: openProcess,
    async close(state) {
      state.unsubscribe();
      await state.queue.close();
    },
  },
  create(config, env, state) {
    const settings: AuditSettings = { log: config.log, requests: config.requests.enabled, excludeRoutes: new Set(config.requests.exclude_routes) };
    const capture = config.requests.enabled && config.bodies.enabled;
    const redact = capture ? compileRedaction(config.bodies.redact, gatewaySecrets(env.config, env.processEnv)) : undefined;
    const maxBytes = config.bodies.max_bytes;
    state.queue.configure(queueSettings(config));
    state.live.push(settings);
    return {
      async handle(ctx, next) {
        if (!redact) return next();
        const bodies: CapturedBodies = {};
        state.bodies.set(ctx.attempts, bodies);
        // The client's own body: on another API's route (`/v1/messages`) what it sent, not the translation.
        const sent = ctx.inbound?.body ?? ctx.body;
        if (sent !== undefined) bodies.request = bounded(redact(sent), maxBytes);
        await next();
        captureResponse(ctx, bodies, redact, maxBytes);
      },
      close() {
        state.live = state.live.filter((s) => s !== settings);
      },
    };
  },
});

/** Captures a JSON answer now, or a stream's text as it goes out (without stopping its pass-through). */
function captureResponse(ctx: Context, bodies: CapturedBodies, redact: Redactor, maxBytes: number): void {
  const response = ctx.response;
  if (!response) return;
  if (response.stream === undefined) {
    bodies.response = bounded(redact(response.body), maxBytes);
    return;
  }
  let text = '';
  let chunks = 0;
  const collect = (chunk: unknown) => {
    chunks++;
    if (text.length > maxBytes) return;
    const choices = (chunk as { choices?: { delta?: { content?: unknown } }[] } | null)?.choices;
    if (Array.isArray(choices)) for (const c of choices) if (typeof c?.delta?.content === 'string') text += c.delta.content;
  };
  if (response instanceof ChunkStream) response.observe(collect);
  else {
    const inner = response.stream;
    ctx.response = {
      status: response.status,
      headers: response.headers,
      stream: (async function* () {
        for await (const chunk of inner) {
          collect(chunk);
          yield chunk;
        }
      })(),
    };
  }
  // Redacted once, when the request's record arrives (the stream is over by then).
  bodies.finish = () => {
    bodies.response = bounded(redact({ stream: true, chunks, content: text }), maxBytes);
  };
}

/** The value, or its first `maxBytes` characters of JSON marked truncated. */
function bounded(value: unknown, maxBytes: number): unknown {
  const json = JSON.stringify(value) ?? 'null';
  if (Buffer.byteLength(json) <= maxBytes) return value;
  return { truncated: true, bytes: Buffer.byteLength(json), text: json.slice(0, maxBytes) };
}
