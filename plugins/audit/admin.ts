/**
 * The audit admin API: `GET /admin/audit` (query the log, newest first, or follow it with
 * `after_seq`) and `GET /admin/audit/verify` (walk the hash chain; names the first bad row). Both
 * read SQL only; verification first writes what this process still has queued.
 */
import { defineAdminModule, type AdminRoute, type AdminServices } from '../../core/admin/contract.js';
import { errors } from '../../core/errors.js';
import { chainKey, verifyChain, type StoredRow } from './chain.js';
import type { AuditProcess } from './index.js';

const MAX_LIMIT = 1000;

const entrySchema = {
  type: 'object',
  required: ['seq', 'at', 'kind', 'action', 'event', 'hash'],
  properties: {
    seq: { type: 'string', description: 'Position in the chain (1, 2, …), as a string (bigint).' },
    at: { type: 'string', format: 'date-time' },
    kind: { enum: ['admin', 'config', 'request'] },
    action: { type: 'string', description: '`key.rotate`, `credits.topup`, `config.reload`, `POST /admin/...`, `POST /v1/chat/completions`…' },
    actor: { type: ['string', 'null'], description: '`admin_secret`, `api_key:<key id>`, `system`, `key:<key id>`; never a credential.' },
    request_id: { type: ['string', 'null'] },
    status: { type: ['integer', 'null'] },
    event: { type: 'object', description: 'The whole event, as hashed.' },
    hash: { type: 'string' },
  },
};

const verifySchema = {
  type: 'object',
  required: ['object', 'ok', 'rows', 'head_seq'],
  properties: {
    object: { const: 'audit.verification' },
    ok: { type: 'boolean' },
    rows: { type: 'integer', description: 'Rows checked before the first bad one (all of them when ok).' },
    head_seq: { type: 'string', description: 'The last seq the writers appended.' },
    first_bad: {
      type: 'object',
      required: ['seq', 'problem', 'detail'],
      properties: {
        seq: { type: 'string' },
        problem: { enum: ['hash_mismatch', 'column_mismatch', 'missing', 'broken_link', 'past_head', 'head_mismatch'] },
        detail: { type: 'string' },
      },
    },
  },
};

/** A row as the query route shows it: the stored row without the chain's own columns. */
type Row = Omit<StoredRow, 'event_id' | 'prev_hash'>;

export default defineAdminModule({
  name: 'audit',
  create(services) {
    return { routes: auditRoutes(services) };
  },
});

function auditRoutes(services: AdminServices): AdminRoute[] {
  return [
    {
      method: 'GET', path: '/admin/audit', tag: 'audit', summary: 'Audit events, newest first; with `after_seq`, oldest first from there (to follow the log).',
      queryParams: [
        { name: 'kind', description: '`admin`, `config` or `request`.', schema: { enum: ['admin', 'config', 'request'] } },
        { name: 'action', description: 'Exact action (`key.rotate`).', schema: { type: 'string' } },
        { name: 'actor', description: 'Exact actor (`api_key:key_…`, `admin_secret`).', schema: { type: 'string' } },
        { name: 'request_id', description: 'The request id of the call.', schema: { type: 'string' } },
        { name: 'since', description: 'Events at or after this time (ISO 8601).', schema: { type: 'string', format: 'date-time' } },
        { name: 'until', description: 'Events before this time (ISO 8601).', schema: { type: 'string', format: 'date-time' } },
        { name: 'after_seq', description: 'Events after this seq, oldest first.', schema: { type: 'string' } },
        { name: 'before_seq', description: 'Events before this seq, newest first (the next page).', schema: { type: 'string' } },
        { name: 'limit', description: `At most this many (1–${MAX_LIMIT}, default 100).`, schema: { type: 'integer' } },
      ],
      responseSchema: { type: 'object', required: ['object', 'data', 'has_more'], properties: { object: { const: 'list' }, data: { type: 'array', items: entrySchema }, has_more: { type: 'boolean' } } },
      handle: async (req) => {
        const q = req.query;
        const where: string[] = [];
        const params: unknown[] = [];
        const add = (sql: string, value: unknown) => {
          params.push(value);
          where.push(sql.replace('?', `$${params.length}`));
        };
        for (const field of ['kind', 'action', 'actor', 'request_id'] as const) {
          const v = q.get(field);
          if (v !== null) add(`${field} = ?`, v);
        }
        for (const [name, op] of [['since', '>='], ['until', '<']] as const) {
          const v = q.get(name);
          if (v === null) continue;
          if (Number.isNaN(Date.parse(v))) throw errors.badRequest('invalid_time', `${name} must be an ISO 8601 time.`, name);
          add(`at ${op} ?`, new Date(v).toISOString());
        }
        const afterSeq = seqParam(q.get('after_seq'), 'after_seq');
        const beforeSeq = seqParam(q.get('before_seq'), 'before_seq');
        if (afterSeq !== undefined) add('seq > ?', afterSeq);
        if (beforeSeq !== undefined) add('seq < ?', beforeSeq);
        const limitText = q.get('limit');
        const limit = limitText === null ? 100 : Number(limitText);
        if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw errors.badRequest('invalid_limit', `limit must be an integer from 1 to ${MAX_LIMIT}.`, 'limit');
        params.push(limit + 1);
        const order = afterSeq !== undefined ? 'ASC' : 'DESC';
        const sql = await services.sql();
        const { rows } = await sql.query<Row>(
          `SELECT seq, at, kind, action, actor, request_id, status, event, hash FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq ${order} LIMIT $${params.length}`,
          params,
        );
        const page = rows.slice(0, limit);
        return {
          status: 200,
          body: {
            object: 'list',
            data: page.map((r) => ({ seq: r.seq, at: new Date(r.at).toISOString(), kind: r.kind, action: r.action, actor: r.actor, request_id: r.request_id, status: r.status, event: JSON.parse(r.event) as unknown, hash: r.hash })),
            has_more: rows.length > limit,
          },
        };
      },
    },
    {
      method: 'GET', path: '/admin/audit/verify', tag: 'audit', summary: 'Verify the audit hash chain: ok, or the first edited, deleted or inserted row.',
      responseSchema: verifySchema,
      handle: async () => {
        // What this process still has queued is written first, so the answer covers it.
        await (services.processState('audit') as AuditProcess | undefined)?.queue.flush();
        const result = await verifyChain(await services.sql(), chainKey(await services.serverSecret()));
        return {
          status: 200,
          body: { object: 'audit.verification', ok: result.ok, rows: result.rows, head_seq: result.headSeq, ...(result.firstBad ? { first_bad: result.firstBad } : {}) },
        };
      },
    },
  ];
}

function seqParam(value: string | null, name: string): string | undefined {
  if (value === null) return undefined;
  if (!/^\d{1,18}$/.test(value)) throw errors.badRequest('invalid_seq', `${name} must be a non-negative integer.`, name);
  return value;
}
