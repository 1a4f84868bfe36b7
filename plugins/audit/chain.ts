/**
 * The hash chain behind `audit_log`: canonical event text, appending a batch under the chain head's
 * row lock, and verifying the whole chain.
 *
 * Row `seq` is `{ event, prev_hash, hash }` with `hash = HMAC-SHA256(key, prev_hash "\n" seq "\n"
 * event)` and `prev_hash` the hash of row `seq - 1` (`GENESIS_HASH` for row 1). The key is derived
 * from the gateway's server secret, so a row forged by someone who can write to the database but
 * does not hold that secret fails its own check; anyone holding it could rebuild the chain, which is
 * why each event also goes to the log, a second copy kept elsewhere.
 */
import { createHmac } from 'node:crypto';
import { newId } from '../../core/ids.js';
import type { SqlExecutor, SqlStore } from '../../core/stores/sql.js';
import { GENESIS_HASH } from './migrations.js';

export type AuditKind = 'admin' | 'config' | 'request';

/** One event, ready to be appended: its canonical text and the columns repeated from it. */
export interface AuditEntry {
  readonly id: string;
  /** Epoch milliseconds. */
  readonly at: number;
  readonly kind: AuditKind;
  readonly action: string;
  readonly actor: string | null;
  readonly requestId: string | null;
  readonly status: number | null;
  /** Canonical JSON of the whole event (the fields above included): the text that is hashed. */
  readonly event: string;
}

/** The columns an entry repeats from its event, by their names in the event. */
export interface AuditHeader {
  kind: AuditKind;
  action: string;
  actor: string | null;
  request_id: string | null;
  status: number | null;
}

/** Makes an entry: a new id and time, and the canonical text of header + detail. */
export function auditEntry(header: AuditHeader, detail: Record<string, unknown>, at = Date.now()): AuditEntry {
  const id = newId();
  const event = canonicalJson({ ...detail, v: 1, id, at: new Date(at).toISOString(), ...header });
  return { id, at, kind: header.kind, action: header.action, actor: header.actor, requestId: header.request_id, status: header.status, event };
}

/**
 * JSON with object keys sorted at every depth, no whitespace, `undefined` fields left out (as
 * `JSON.stringify` does) and bigints as strings: the same value always gives the same text.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    if (value instanceof Date) return value.toISOString();
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/** The chain key: derived from the server secret, never stored. */
export function chainKey(serverSecret: Buffer): Buffer {
  return createHmac('sha256', serverSecret).update('switchyard audit chain v1').digest();
}

export function rowHash(key: Buffer, prevHash: string, seq: bigint | string, event: string): string {
  return createHmac('sha256', key).update(`${prevHash}\n${seq}\n${event}`).digest('hex');
}

const INSERT = `INSERT INTO audit_log (seq, event_id, at, kind, action, actor, request_id, status, event, prev_hash, hash)
SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], $8::smallint[], $9::text[], $10::text[], $11::text[])`;

/**
 * Appends `entries` to the chain in one transaction. The chain head's row is locked first, so
 * writers (two replicas on one PostgreSQL) append one batch after the other and never fork the
 * chain. Entries already in the log (a retried batch whose commit was not acknowledged) are skipped.
 */
export async function appendEntries(sql: SqlStore, key: Buffer, entries: readonly AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await sql.transaction(async (tx) => {
    const head = (await tx.query<{ seq: string; hash: string }>('SELECT seq, hash FROM audit_chain_head WHERE id = 1 FOR UPDATE')).rows[0];
    if (!head) throw new Error('audit_chain_head has no row: the audit migration did not run, or the row was deleted');
    const existing = await tx.query<{ event_id: string }>('SELECT event_id FROM audit_log WHERE event_id = ANY($1::uuid[])', [entries.map((e) => e.id)]);
    const written = new Set(existing.rows.map((r) => r.event_id));
    let seq = BigInt(head.seq);
    let prev = head.hash;
    const cols: unknown[][] = Array.from({ length: 11 }, () => []);
    for (const e of entries) {
      if (written.has(e.id)) continue;
      seq++;
      const hash = rowHash(key, prev, seq, e.event);
      const values = [seq.toString(), e.id, new Date(e.at).toISOString(), e.kind, e.action, e.actor, e.requestId, e.status, e.event, prev, hash];
      values.forEach((v, i) => cols[i]!.push(v));
      prev = hash;
    }
    if (cols[0]!.length === 0) return;
    await tx.query(INSERT, cols);
    await tx.query('UPDATE audit_chain_head SET seq = $1, hash = $2 WHERE id = 1', [seq.toString(), prev]);
  });
}

/** The first row that breaks the chain, and why. */
export interface ChainProblem {
  /** The `seq` of the first bad (or missing) row. */
  seq: string;
  /**
   * `hash_mismatch`: the row's content is not what was hashed (edited, or inserted without the
   * chain key); `column_mismatch`: a column disagrees with the hashed event (edited); `missing`: a
   * gap, or rows gone from the end (deleted); `broken_link`: the row does not link to the one before
   * (rows reordered or replaced); `past_head`: rows after the last one appended (inserted);
   * `head_mismatch`: the chain head was changed.
   */
  problem: 'hash_mismatch' | 'column_mismatch' | 'missing' | 'broken_link' | 'past_head' | 'head_mismatch';
  detail: string;
}

export interface VerifyResult {
  ok: boolean;
  /** Rows checked. */
  rows: number;
  /** The head's `seq` (the chain's length as the writers left it). */
  headSeq: string;
  firstBad?: ChainProblem;
}

export interface StoredRow {
  seq: string;
  event_id: string;
  at: Date;
  kind: string;
  action: string;
  actor: string | null;
  request_id: string | null;
  status: number | null;
  event: string;
  prev_hash: string;
  hash: string;
}

const PAGE_ROWS = 2000;

/**
 * Walks the chain from row 1 in `seq` order and stops at the first row that is not what the
 * writers appended: an edited row (its hash, or a column that disagrees with its event), a missing
 * one (a gap in `seq`, or rows gone from the end: the head says more), an inserted one (a hash that
 * does not verify, or rows past the head).
 */
export async function verifyChain(sql: SqlExecutor, key: Buffer): Promise<VerifyResult> {
  const head = (await sql.query<{ seq: string; hash: string }>('SELECT seq, hash FROM audit_chain_head WHERE id = 1')).rows[0];
  if (!head) return { ok: false, rows: 0, headSeq: '0', firstBad: { seq: '1', problem: 'head_mismatch', detail: 'the chain head row (audit_chain_head) is missing' } };
  const headSeq = BigInt(head.seq);
  let expectedSeq = 1n;
  let prev = GENESIS_HASH;
  let rows = 0;
  const fail = (problem: ChainProblem): VerifyResult => ({ ok: false, rows, headSeq: head.seq, firstBad: problem });
  for (;;) {
    const page = await sql.query<StoredRow>(
      'SELECT seq, event_id, at, kind, action, actor, request_id, status, event, prev_hash, hash FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2',
      [expectedSeq.toString(), PAGE_ROWS],
    );
    for (const row of page.rows) {
      const seq = BigInt(row.seq);
      if (seq > headSeq) return fail({ seq: row.seq, problem: 'past_head', detail: `row ${row.seq} is past the chain head (${head.seq}): it was not appended by the gateway` });
      if (seq !== expectedSeq) return fail({ seq: expectedSeq.toString(), problem: 'missing', detail: `row ${expectedSeq} is missing: row ${row.seq} follows row ${expectedSeq - 1n}` });
      if (row.prev_hash !== prev) {
        return fail({ seq: row.seq, problem: 'broken_link', detail: `row ${row.seq} does not link to row ${seq - 1n} (its prev_hash differs from that row's hash)` });
      }
      if (rowHash(key, row.prev_hash, row.seq, row.event) !== row.hash) {
        return fail({ seq: row.seq, problem: 'hash_mismatch', detail: `row ${row.seq}'s content does not match its hash: edited, or inserted without the chain key` });
      }
      const disagrees = columnMismatch(row);
      if (disagrees) return fail({ seq: row.seq, problem: 'column_mismatch', detail: `row ${row.seq}'s ${disagrees} column disagrees with its hashed event` });
      prev = row.hash;
      expectedSeq++;
      rows++;
    }
    if (page.rows.length < PAGE_ROWS) break;
  }
  if (expectedSeq - 1n < headSeq) return fail({ seq: expectedSeq.toString(), problem: 'missing', detail: `rows ${expectedSeq}–${head.seq} are missing from the end of the chain` });
  if (prev !== head.hash) return fail({ seq: head.seq, problem: 'head_mismatch', detail: `the chain head's hash does not match row ${head.seq}` });
  return { ok: true, rows, headSeq: head.seq };
}

/** The name of the first column that disagrees with the row's event, or undefined. */
function columnMismatch(row: StoredRow): string | undefined {
  let event: Record<string, unknown>;
  try {
    event = JSON.parse(row.event) as Record<string, unknown>;
  } catch {
    return 'event';
  }
  if (event['id'] !== row.event_id) return 'event_id';
  if (typeof event['at'] !== 'string' || Date.parse(event['at']) !== new Date(row.at).getTime()) return 'at';
  if (event['kind'] !== row.kind) return 'kind';
  if (event['action'] !== row.action) return 'action';
  if ((event['actor'] ?? null) !== row.actor) return 'actor';
  if ((event['request_id'] ?? null) !== row.request_id) return 'request_id';
  if ((event['status'] ?? null) !== (row.status === null ? null : Number(row.status))) return 'status';
  return undefined;
}
