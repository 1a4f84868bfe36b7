/**
 * A throw-away PostgreSQL schema per test file, so suites sharing the `test` database neither see
 * nor break each other's tables, and reruns start clean. Connecting fails the test (never skips)
 * when PostgreSQL is unreachable.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const DATABASE_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface ScratchSchema {
  name: string;
  /** DATABASE_URL with `search_path` set to the scratch schema. */
  url: string;
  drop(): Promise<void>;
}

export async function createScratchSchema(label: string): Promise<ScratchSchema> {
  const name = `sy_${label}_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`CREATE SCHEMA ${name}`));
  const url = new URL(DATABASE_URL);
  url.searchParams.set('options', `-c search_path=${name}`);
  return { name, url: url.toString(), drop: () => admin((c) => c.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`)).then(() => undefined) };
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
