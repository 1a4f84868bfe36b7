/**
 * The stored responses table (`responses_stored`, migrations.ts) behind four calls. Every read and
 * delete names the organization: a row of another organization is indistinguishable from no row.
 * Expiry is decided by the database clock (`now()`), so replicas agree on it.
 */
import type { SqlExecutor } from '../../core/stores/sql.js';

/** A stored response as `previous_response_id`, retrieve and `input_items` use it. */
export interface StoredResponse {
  /** Chat-form messages of the whole chain, this answer included. */
  conversation: Record<string, unknown>[];
  /** This turn's input items, as the client sent them (with ids). */
  input: Record<string, unknown>[];
  /** The Response object. */
  response: Record<string, unknown>;
}

/** A row to write. */
export interface NewStoredResponse extends StoredResponse {
  orgId: string;
  id: string;
  keyId: string | undefined;
  model: string | undefined;
  previousId: string | undefined;
  /** Seconds from now until it expires. */
  retentionSeconds: number;
}

/** Rows deleted per statement when purging, so one purge never holds a long lock. */
const PURGE_BATCH = 1000;

export class ResponseStore {
  constructor(private readonly sql: () => Promise<SqlExecutor>) {}

  /** The unexpired response `id` of `orgId`, or undefined. */
  async load(orgId: string, id: string): Promise<StoredResponse | undefined> {
    const db = await this.sql();
    const { rows } = await db.query<StoredResponse>(
      'SELECT conversation, input, response FROM responses_stored WHERE org_id = $1 AND id = $2 AND expires_at > now()',
      [orgId, id],
    );
    return rows[0];
  }

  /** Writes a response; the same id again in the same organization (a client reusing a request id) replaces it. */
  async save(row: NewStoredResponse): Promise<void> {
    const db = await this.sql();
    await db.query(
      `INSERT INTO responses_stored (org_id, id, key_id, created_at, expires_at, model, previous_id, conversation, input, response)
       VALUES ($1, $2, $3, now(), now() + make_interval(secs => $4), $5, $6, $7::jsonb, $8::jsonb, $9::jsonb)
       ON CONFLICT (org_id, id) DO UPDATE SET key_id = EXCLUDED.key_id, created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at,
         model = EXCLUDED.model, previous_id = EXCLUDED.previous_id, conversation = EXCLUDED.conversation, input = EXCLUDED.input, response = EXCLUDED.response`,
      [
        row.orgId,
        row.id,
        row.keyId ?? null,
        row.retentionSeconds,
        row.model ?? null,
        row.previousId ?? null,
        JSON.stringify(row.conversation),
        JSON.stringify(row.input),
        JSON.stringify(row.response),
      ],
    );
  }

  /** Deletes the unexpired response `id` of `orgId`; false when there was none. */
  async remove(orgId: string, id: string): Promise<boolean> {
    const db = await this.sql();
    const { rowCount } = await db.query('DELETE FROM responses_stored WHERE org_id = $1 AND id = $2 AND expires_at > now()', [orgId, id]);
    return rowCount > 0;
  }

  /** Deletes every expired row, in batches; resolves to how many. */
  async purgeExpired(): Promise<number> {
    const db = await this.sql();
    let total = 0;
    for (;;) {
      const { rowCount } = await db.query(
        `DELETE FROM responses_stored WHERE (org_id, id) IN (SELECT org_id, id FROM responses_stored WHERE expires_at <= now() LIMIT ${PURGE_BATCH})`,
      );
      total += rowCount;
      if (rowCount < PURGE_BATCH) return total;
    }
  }
}
