/**
 * `audit`'s SQL schema, recorded under the owner `audit`; never edit or reorder an applied
 * migration, add one with the next id.
 *
 * `audit_log` is an append-only hash chain: row `seq` stores the canonical JSON of its event
 * (`event`, the exact text that was hashed) and `hash = HMAC(chain key, prev_hash | seq | event)`,
 * where `prev_hash` is row `seq - 1`'s hash. The other columns repeat fields of the event for
 * queries; `verify` checks they agree with it. `audit_chain_head` is one row, the last `seq` and
 * `hash`: appends lock it (`FOR UPDATE`), so replicas sharing one PostgreSQL append one after the
 * other, and it tells a deleted last row from the end of the chain. `event_id` is made in the
 * gateway, so a batch retried after a lost acknowledgement is appended once.
 */
import type { Migration } from '../../core/stores/migrate.js';

/** The `prev_hash` of row 1. */
export const GENESIS_HASH = '0'.repeat(64);

const AUDIT_LOG = `
CREATE TABLE audit_log (
  seq        bigint PRIMARY KEY,
  event_id   uuid NOT NULL UNIQUE,
  at         timestamptz NOT NULL,
  kind       text NOT NULL,
  action     text NOT NULL,
  actor      text,
  request_id text,
  status     smallint,
  event      text NOT NULL,
  prev_hash  text NOT NULL,
  hash       text NOT NULL
);
CREATE INDEX audit_log_at ON audit_log USING brin (at);
CREATE INDEX audit_log_kind_seq ON audit_log (kind, seq);
CREATE TABLE audit_chain_head (
  id   smallint PRIMARY KEY CHECK (id = 1),
  seq  bigint NOT NULL,
  hash text NOT NULL
);
INSERT INTO audit_chain_head (id, seq, hash) VALUES (1, 0, '${GENESIS_HASH}');
`;

export const AUDIT_MIGRATIONS: readonly Migration[] = [{ id: 1, name: 'hash-chained audit log (audit_log, audit_chain_head)', sql: AUDIT_LOG }];
