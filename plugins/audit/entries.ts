/**
 * What each audited event becomes: an admin action, a config reload, a request (from its record,
 * with the captured bodies if any). Only ids, names, numbers and what handlers attached as
 * `before`/`after` go in — never a header, a credential or the config itself.
 */
import type { AdminActionEvent, AdminActor, ConfigReloadEvent } from '../../core/events.js';
import type { RequestRecord } from '../../core/record.js';
import { auditEntry, type AuditEntry, type AuditHeader } from './chain.js';

/** Request and response bodies as captured and redacted. */
export interface CapturedBodies {
  request?: unknown;
  response?: unknown;
  /** Completes the capture (a stream's text is redacted once, at the end). */
  finish?: () => void;
}

/** An entry and the fields its log line carries. */
export interface MadeEntry {
  entry: AuditEntry;
  fields: Record<string, unknown>;
}

function made(header: AuditHeader, detail: Record<string, unknown>, at: number): MadeEntry {
  const entry = auditEntry(header, detail, at);
  return { entry, fields: { ...detail, id: entry.id, ...header } };
}

/** `admin_secret`, or `api_key:<key id>` / `jwt:<key id>`: who, never the credential. */
export function actorName(actor: AdminActor): string {
  return actor.kind === 'admin_secret' ? 'admin_secret' : `${actor.kind}:${actor.keyId}`;
}

export function adminEntry(e: AdminActionEvent): MadeEntry {
  const change = e.change ?? {};
  return made(
    { kind: 'admin', action: change.action ?? `${e.method} ${e.route}`, actor: actorName(e.actor), request_id: e.requestId, status: e.status },
    {
      method: e.method,
      route: e.route,
      path: e.path,
      params: e.params,
      actor_org: e.actor.kind === 'admin_secret' ? undefined : e.actor.orgId,
      error_code: e.errorCode,
      target: change.target,
      before: change.before,
      after: change.after,
    },
    e.time,
  );
}

export function configEntry(e: ConfigReloadEvent): MadeEntry {
  return made(
    { kind: 'config', action: e.ok ? 'config.reload' : 'config.reload_rejected', actor: 'system', request_id: null, status: null },
    { file: e.file, ok: e.ok, before: { version: e.fromVersion, hash: e.fromHash }, after: e.ok ? { version: e.toVersion, hash: e.toHash } : undefined, errors: e.errors },
    e.time,
  );
}

export function requestEntry(r: RequestRecord, bodies: CapturedBodies | undefined): MadeEntry {
  return made(
    { kind: 'request', action: `${r.method} ${r.route}`, actor: r.keyId !== undefined ? `key:${r.keyId}` : null, request_id: r.id, status: r.status },
    {
      path: r.path,
      org: r.org,
      key_id: r.keyId,
      model_requested: r.modelRequested,
      model_key: r.modelKey,
      model_served: r.modelServed,
      provider: r.provider,
      attempts: r.attempts.length,
      usage: r.usage,
      cache: r.cache,
      ms: Math.round(r.ms * 10) / 10,
      ttft_ms: r.ttftMs !== undefined ? Math.round(r.ttftMs * 10) / 10 : undefined,
      client_ip: r.clientIp,
      error_code: r.errorCode,
      body_state: r.body,
      bytes_in: r.bytesIn,
      bytes_out: r.bytesOut,
      request_body: bodies?.request,
      response_body: bodies?.response,
    },
    r.time,
  );
}
