/**
 * Two gateways on one PostgreSQL scratch schema with the credits config of
 * test/plugins/billing-credits-fixture.ts, a loopback upstream and a direct `pg` client on the same
 * schema: what the credits, leases and plans service suites share. Everything is closed at teardown.
 */
import type { Test } from 'tap';
import pg from 'pg';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { createScratchSchema } from './scratch-schema.js';
import { ADMIN_KEY, creditsConfig, startUpstream, type Upstream } from '../plugins/billing-credits-fixture.js';

export interface CreditReplicas {
  one: TestGateway;
  two: TestGateway;
  /** Straight to the scratch schema. */
  client: pg.Client;
  upstream: Upstream;
}

export interface CreditReplicasOptions {
  /** The `stores.sql.postgres` entry's settings besides its url (YAML flow mapping fields). */
  postgres?: string;
  /** Extra billing YAML, as creditsConfig takes it. */
  billing?: string;
  level?: string;
}

export async function startCreditReplicas(t: Test, name: string, orgs: readonly string[], options: CreditReplicasOptions = {}): Promise<CreditReplicas> {
  const schema = await createScratchSchema(name);
  const upstream = await startUpstream();
  const sql = options.postgres === undefined ? `{ postgres: "${schema.url}" }` : `{ postgres: { url: "${schema.url}", ${options.postgres} } }`;
  const yaml = creditsConfig(upstream.baseUrl, sql, orgs, options.billing === undefined ? {} : { billing: options.billing });
  const gatewayOptions = { level: options.level ?? 'silent', env: { ...process.env, SWITCHYARD_ADMIN_KEY: ADMIN_KEY } };
  const one = await startGateway(yaml, gatewayOptions);
  const two = await startGateway(yaml, gatewayOptions);
  const client = new pg.Client({ connectionString: schema.url });
  await client.connect();
  t.teardown(async () => {
    await client.end();
    await one.close();
    await two.close();
    await upstream.close();
    await schema.drop();
  });
  return { one, two, client, upstream };
}
