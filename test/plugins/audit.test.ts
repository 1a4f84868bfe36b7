/**
 * `audit` through real in-process gateways (PGlite): admin actions become chained rows with their
 * actor and before/after and a JSON log line; config reloads are recorded; request events only when
 * enabled, with redacted bodies that never hold the gateway's secrets; and `verify` (function, admin
 * route and CLI) passes on an intact chain and names the first bad row after one row is edited,
 * one deleted, one inserted.
 */
import t, { type Test } from 'tap';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { chatCompletion, chunk, sse, startMockOpenAI, type MockOpenAI } from '../helpers/mock-openai.js';
import type { SqlStore } from '../../core/stores/sql.js';
import { appendEntries, auditEntry, chainKey, rowHash, verifyChain } from '../../plugins/audit/chain.js';
import { runAuditCli } from '../../plugins/audit/cli.js';

const ADMIN_KEY = 'audit-test-admin-secret-0123456789';
const PROVIDER_KEY = 'sk-upstream-provider-secret-abcdef123456';

interface AuditRow {
  seq: string;
  kind: string;
  action: string;
  actor: string | null;
  request_id: string | null;
  status: number | null;
  event: Record<string, unknown>;
}

let upstream: MockOpenAI;
t.before(async () => {
  upstream = await startMockOpenAI();
  upstream.on('/v1/chat/completions', (_req, res, body) => {
    const model = String(body?.['model']);
    if (body?.['stream'] !== true) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(chatCompletion(model, 'write to jane.doe@example.com', { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 })));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    sse(res, chunk(model, { role: 'assistant', content: 'mail bob@' }));
    sse(res, chunk(model, { content: 'example.org now' }, 'stop'));
    sse(res, '[DONE]');
    res.end();
  });
});
t.teardown(() => upstream.close());

function config(audit: string): string {
  return `version: 1
stores: { kv: memory, sql: { pglite: memory } }
providers:
  up: { adapter: openai, base_url: "${upstream.baseUrl}", api_key: ${PROVIDER_KEY} }
models:
  gpt-4o-mini: { targets: [{ provider: up }] }
pipeline:
  - audit: ${audit}
  - route
`;
}

async function admin(gw: TestGateway, method: string, path: string, body?: unknown, key = ADMIN_KEY): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Verifies (which writes what is queued first), then lists the rows oldest first. */
async function auditRows(gw: TestGateway, query = ''): Promise<AuditRow[]> {
  const verified = await admin(gw, 'GET', '/admin/audit/verify');
  if (verified.body['ok'] !== true) throw new Error(`chain broken: ${JSON.stringify(verified.body)}`);
  const listed = await admin(gw, 'GET', `/admin/audit?limit=1000${query}`);
  return [...(listed.body['data'] as AuditRow[])].reverse();
}

/** The admin-actions gateway; the CLI test at the end tampers with its database. */
let adminGw: TestGateway;

t.test('admin actions become chained rows with actor and before/after, and JSON log lines', async (t) => {
  const gw = (adminGw = await startGateway(config('{ queue: { flush_interval: 20ms } }'), { env: { ...process.env, SWITCHYARD_ADMIN_KEY: ADMIN_KEY } }));

  const org = await admin(gw, 'POST', '/admin/organizations', { slug: 'acme', name: 'Acme' });
  t.equal(org.status, 201);
  const orgId = org.body['id'] as string;
  const key = await admin(gw, 'POST', `/admin/organizations/${orgId}/keys`, { name: 'ops', scopes: ['admin'] });
  t.equal(key.status, 201);
  const keyId = key.body['id'] as string;
  const secret = key.body['key'] as string;
  t.equal((await admin(gw, 'PATCH', `/admin/keys/${keyId}`, { name: 'ops-renamed' })).status, 200);
  // The admin-scope key acts as the actor for this one.
  t.equal((await admin(gw, 'PATCH', `/admin/organizations/${orgId}`, { name: 'Acme Inc' }, secret)).status, 200);
  const rotated = await admin(gw, 'POST', `/admin/keys/${keyId}/rotate`, { grace_period: '1h' });
  t.equal(rotated.status, 200);
  t.equal((await admin(gw, 'POST', `/admin/keys/${rotated.body['id'] as string}/revoke`, {})).status, 200);
  t.equal((await admin(gw, 'POST', '/admin/plans', { name: 'gold' })).status, 201);
  t.equal((await admin(gw, 'PATCH', '/admin/plans/gold', { name: 'platinum' })).status, 200);
  t.equal((await admin(gw, 'DELETE', '/admin/cache?org=acme')).status, 200);
  t.equal((await admin(gw, 'PATCH', '/admin/keys/key_missing', { name: 'x' })).status, 404);
  t.equal((await admin(gw, 'GET', `/admin/keys/${keyId}`)).status, 200, 'a read is not an admin action');

  const rows = await auditRows(gw);
  t.same(rows.map((r) => r.seq), rows.map((_, i) => String(i + 1)), 'one chain, seq 1, 2, …');
  t.same(
    rows.map((r) => r.action),
    ['organization.create', 'key.create', 'key.update', 'organization.update', 'key.rotate', 'key.revoke', 'plan.create', 'plan.update', 'cache.purge', 'PATCH /admin/keys/:id'],
  );
  t.ok(rows.every((r) => r.kind === 'admin'));
  const byAction = new Map(rows.map((r) => [r.action, r]));
  t.equal(byAction.get('key.update')!.actor, 'admin_secret');
  t.equal(byAction.get('organization.update')!.actor, `api_key:${keyId}`, 'an admin-scope key is named by its id');
  t.equal(byAction.get('organization.update')!.event['actor_org'], orgId);
  t.match(byAction.get('key.update')!.event, { target: { type: 'api_key', id: keyId }, before: { name: 'ops' }, after: { name: 'ops-renamed' }, route: '/admin/keys/:id', method: 'PATCH' });
  t.match(byAction.get('organization.update')!.event, { before: { name: 'Acme' }, after: { name: 'Acme Inc' } });
  t.match(byAction.get('plan.update')!.event, { before: { name: 'gold' }, after: { name: 'platinum' } });
  t.match(byAction.get('key.revoke')!.event, { before: { revoked_at: null }, after: { revoked_at: String } });
  t.match(byAction.get('key.rotate')!.event, { before: { id: keyId, expires_at: null }, after: { previous: { id: keyId, expires_at: String }, issued: { id: rotated.body['id'] } } });
  t.match(byAction.get('cache.purge')!.event, { after: { org: 'acme', model: null, deleted: 0 } });
  const failed = byAction.get('PATCH /admin/keys/:id')!;
  t.equal(failed.status, 404);
  t.equal(failed.event['error_code'], 'key_not_found', 'a failed action is audited with its error');
  t.equal(byAction.get('key.create')!.status, 201);
  t.equal(byAction.get('key.create')!.request_id, byAction.get('key.create')!.event['request_id']);

  const logLines = gw.logs.filter((l) => l['msg'] === 'audit');
  t.same(logLines.map((l) => (l['audit'] as AuditRow).action), rows.map((r) => r.action), 'one JSON log line per event, same order');
  t.match(logLines[2]!['audit'], { kind: 'admin', action: 'key.update', actor: 'admin_secret', before: { name: 'ops' } });
  const stored = JSON.stringify(rows);
  t.notOk(stored.includes(secret) || stored.includes(rotated.body['key'] as string), 'no issued key secret in the audit log');
  t.notOk(gw.logText().includes(ADMIN_KEY) || stored.includes(ADMIN_KEY), 'the admin secret appears nowhere');

  // A config reload (through the admin API) is two events: the admin action and the reload itself.
  await gw.write(config('{ queue: { flush_interval: 20ms }, log: true }'));
  t.equal((await admin(gw, 'POST', '/admin/config/reload', {})).status, 200);
  await gw.write(config('{ queue: { flush_interval: 20ms }, bogus: 1 }'));
  await admin(gw, 'POST', '/admin/config/reload', {});
  const config_ = await auditRows(gw, '&kind=config');
  t.same(config_.map((r) => [r.action, r.actor]), [['config.reload', 'system'], ['config.reload_rejected', 'system']]);
  t.match(config_[0]!.event, { ok: true, before: { version: 0, hash: String }, after: { version: 1, hash: String } });
  t.match(config_[1]!.event, { ok: false, errors: [/bogus/] });
  t.notOk(JSON.stringify(config_).includes(PROVIDER_KEY), 'the config itself (with its secrets) is never recorded');
  t.equal((await auditRows(gw, '&action=POST%20/admin/config/reload')).length, 2);
  t.equal((await auditRows(gw, '&kind=request')).length, 0, 'no request events unless enabled');
});

/** The request-events gateway; the tamper cases reuse its database afterwards. */
let requestGw: TestGateway;

t.test('request events when enabled, with redacted bodies that never hold a gateway secret', async (t) => {
  const audit = `{ queue: { flush_interval: 20ms }, requests: { enabled: true }, bodies: { enabled: true, redact: { patterns: ['project-[a-z]+'] } } }`;
  const gw = (requestGw = await startGateway(config(audit), { env: { ...process.env, SWITCHYARD_ADMIN_KEY: ADMIN_KEY } }));
  const prompt = `my key is ${PROVIDER_KEY}, admin ${ADMIN_KEY}, token sk-proj-ABCDEFGHIJKLMNOPQRSTUV, mail a.b@corp.example, card 4111 1111 1111 1111, not a card 1234 5678 9012 3456, code project-falcon`;
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': 'req-audit-1' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: prompt }], metadata: { api_key: 'short' } }),
  });
  t.equal(res.status, 200);
  await res.text();
  const streamed = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': 'req-audit-2' },
    body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
  });
  t.match(await streamed.text(), /example\.org now/, 'the client gets the stream untouched');
  await fetch(`${gw.url}/health`).then((r) => r.text());

  const rows = await auditRows(gw, '&kind=request');
  const [first, second] = [rows.find((r) => r.request_id === 'req-audit-1')!, rows.find((r) => r.request_id === 'req-audit-2')!];
  t.ok(first && second, 'one event per request');
  t.notOk(rows.some((r) => r.action === 'GET /health'), 'probes are excluded by default');
  t.match(first.event, { org: undefined, model_requested: 'gpt-4o-mini', provider: 'up', status: 200, usage: { prompt_tokens: 5, completion_tokens: 3 } });
  t.equal(first.action, 'POST /v1/chat/completions');
  const sent = (first.event['request_body'] as { messages: { content: string }[] }).messages[0]!.content;
  t.equal(
    sent,
    'my key is [REDACTED:secret], admin [REDACTED:secret], token [REDACTED:api_key], mail [REDACTED:email], card [REDACTED:card], not a card 1234 5678 9012 3456, code [REDACTED]',
  );
  t.match(first.event['request_body'], { metadata: { api_key: '[REDACTED]' } }, 'a field named like a credential is replaced whole');
  t.match(first.event['response_body'], { choices: [{ message: { content: 'write to [REDACTED:email]' } }] });
  t.match(second.event['response_body'], { stream: true, content: 'mail [REDACTED:email] now' });
  const everything = JSON.stringify(await auditRows(gw)) + gw.logText();
  t.notOk(everything.includes(PROVIDER_KEY), 'the provider key never lands in SQL or the log');
  t.notOk(everything.includes(ADMIN_KEY), 'nor the admin secret');
  t.notOk(everything.includes('4111 1111 1111 1111') || everything.includes('a.b@corp.example'));
});

t.test('a bad redaction pattern is a load error at its line', async (t) => {
  await t.rejects(startGateway(config(`{ requests: { enabled: true }, bodies: { enabled: true, redact: { patterns: ['(unclosed'] } } }`)), /bodies\.redact\.patterns\[0\].*not a valid regular expression/s);
});

/** A chain of five events in a fresh table, on one PGlite shared by the tamper cases. */
let db: SqlStore;
const KEY = chainKey(Buffer.from('test server secret'));
async function freshChain(t: Test): Promise<void> {
  await db.query('TRUNCATE audit_log');
  await db.query(`UPDATE audit_chain_head SET seq = 0, hash = '${'0'.repeat(64)}'`);
  const entries = [1, 2, 3, 4, 5].map((i) =>
    auditEntry({ kind: 'admin', action: 'key.update', actor: 'admin_secret', request_id: `r${i}`, status: 200 }, { target: { type: 'api_key', id: `key_${i}` }, before: { name: `old${i}` }, after: { name: `new${i}` } }),
  );
  await appendEntries(db, KEY, entries.slice(0, 2));
  await appendEntries(db, KEY, entries.slice(2));
  await appendEntries(db, KEY, entries.slice(3)); // a retried batch adds nothing
  t.same(await verifyChain(db, KEY), { ok: true, rows: 5, headSeq: '5' });
}

t.test('verify against PGlite', async (t) => {
  // The request-events gateway's database, its queue idle: the cases write the table directly.
  db = await requestGw.gateway.stores.sql();
  t.teardown(() => requestGw.close());

  t.test('one row edited: names it', async (t) => {
    await freshChain(t);
    await db.query(`UPDATE audit_log SET event = replace(event, 'new3', 'evil') WHERE seq = 3`);
    t.match(await verifyChain(db, KEY), { ok: false, rows: 2, firstBad: { seq: '3', problem: 'hash_mismatch' } });
    await freshChain(t);
    await db.query(`UPDATE audit_log SET actor = 'api_key:key_x' WHERE seq = 2`);
    t.match(await verifyChain(db, KEY), { ok: false, firstBad: { seq: '2', problem: 'column_mismatch', detail: /actor/ } }, 'a column edited apart from its event');
  });

  t.test('one row deleted: names the missing seq', async (t) => {
    await freshChain(t);
    await db.query('DELETE FROM audit_log WHERE seq = 2');
    t.match(await verifyChain(db, KEY), { ok: false, rows: 1, firstBad: { seq: '2', problem: 'missing' } });
    await freshChain(t);
    await db.query('DELETE FROM audit_log WHERE seq = 5');
    t.match(await verifyChain(db, KEY), { ok: false, rows: 4, firstBad: { seq: '5', problem: 'missing' } }, 'the last row too (the head remembers it)');
  });

  t.test('one row inserted: names it', async (t) => {
    await freshChain(t);
    // Make room at 3 and forge a row that links to row 2, hashed without the chain key.
    await db.query('UPDATE audit_log SET seq = seq + 100 WHERE seq >= 3');
    await db.query('UPDATE audit_log SET seq = seq - 99 WHERE seq >= 103');
    const row2 = (await db.query<{ hash: string }>('SELECT hash FROM audit_log WHERE seq = 2')).rows[0]!;
    const forged = auditEntry({ kind: 'admin', action: 'key.create', actor: 'admin_secret', request_id: 'forged', status: 201 }, {});
    const hash = rowHash(chainKey(Buffer.from('a guess')), row2.hash, 3n, forged.event);
    await db.query(
      `INSERT INTO audit_log (seq, event_id, at, kind, action, actor, request_id, status, event, prev_hash, hash) VALUES (3, $1, $2, 'admin', 'key.create', 'admin_secret', 'forged', 201, $3, $4, $5)`,
      [forged.id, new Date(forged.at).toISOString(), forged.event, row2.hash, hash],
    );
    t.match(await verifyChain(db, KEY), { ok: false, rows: 2, firstBad: { seq: '3', problem: 'hash_mismatch' } });
    await freshChain(t);
    const row5 = (await db.query<{ hash: string }>('SELECT hash FROM audit_log WHERE seq = 5')).rows[0]!;
    await db.query(
      `INSERT INTO audit_log (seq, event_id, at, kind, action, actor, request_id, status, event, prev_hash, hash) VALUES (6, $1, $2, 'admin', 'key.create', 'admin_secret', 'forged', 201, $3, $4, $5)`,
      [forged.id, new Date(forged.at).toISOString(), forged.event, row5.hash, rowHash(KEY, row5.hash, 6n, forged.event)],
    );
    t.match(await verifyChain(db, KEY), { ok: false, rows: 5, firstBad: { seq: '6', problem: 'past_head' } }, 'even a correctly hashed row appended behind the writers\' back');
  });
});

t.test('switchyard audit verify: exit 0, then 1 naming the row edited in the gateway database', async (t) => {
  const gw = adminGw;
  t.teardown(() => gw.close());
  const sql = await gw.gateway.stores.sql();
  await sql.query('TRUNCATE audit_log');
  await sql.query(`UPDATE audit_chain_head SET seq = 0, hash = '${'0'.repeat(64)}'`);
  for (const name of ['a', 'b', 'c']) t.equal((await admin(gw, 'POST', '/admin/plans', { name })).status, 201);
  const out: string[] = [];
  const io = { env: { SWITCHYARD_URL: gw.url, SWITCHYARD_ADMIN_KEY: ADMIN_KEY }, out: (s: string) => out.push(s), err: (s: string) => out.push(s) };
  t.equal(await runAuditCli(['verify'], io), 0, 'the queued events are written, then verified');
  t.match(out.join(''), /audit chain intact: 3 rows \(head 3\)/);
  await sql.query(`UPDATE audit_log SET event = replace(event, '"name":"b"', '"name":"z"') WHERE seq = 2`);
  out.length = 0;
  t.equal(await runAuditCli(['verify'], io), 1);
  t.match(out.join(''), /BROKEN at row 2 \(hash_mismatch\)/);
  out.length = 0;
  t.equal(await runAuditCli(['tail', '--limit', '2'], io), 0);
  t.same(out.map((l) => (JSON.parse(l) as AuditRow).seq), ['2', '3'], 'tail: the latest rows, oldest first');
  t.equal(await runAuditCli(['bogus'], io), 2);
});
