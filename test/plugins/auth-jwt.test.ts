/**
 * `auth` with JWT bearer tokens: HS256 with a shared secret and RS256/ES256 from a JWKS endpoint
 * (a real HTTP server on loopback). Tokens are made with `jose`; the forged ones by hand.
 */
import t from 'tap';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose';
import { startGateway, openaiConfig, type TestGateway } from '../helpers/gateway.js';
import { startMockOpenAI, type MockOpenAI } from '../helpers/mock-openai.js';

const SECRET = 'a-test-hs256-secret-of-at-least-32-chars';
const ISSUER = 'https://idp.test/';
const AUDIENCE = 'switchyard';

let upstream: MockOpenAI;
let jwksServer: Server;
let jwksUrl: string;
let jwks: { keys: JWK[] } = { keys: [] };
let jwksFetches = 0;

t.before(async () => {
  upstream = await startMockOpenAI();
  jwksServer = createServer((_req, res) => {
    jwksFetches++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks));
  });
  await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', () => r()));
  jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
});
t.teardown(async () => {
  await upstream.close();
  jwksServer.closeAllConnections();
  await new Promise((r) => jwksServer.close(r));
});

const claims = { org_id: 'acme', scope: 'read write' };
const secretKey = new TextEncoder().encode(SECRET);

function hs256(payload: Record<string, unknown> = claims, opts: { iss?: string; aud?: string; exp?: string | number; sub?: string } = {}) {
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setIssuer(opts.iss ?? ISSUER)
    .setAudience(opts.aud ?? AUDIENCE)
    .setSubject(opts.sub ?? 'svc-reporting')
    .setExpirationTime(opts.exp ?? '5m')
    .sign(secretKey);
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

async function chat(gw: TestGateway, token: string) {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hi' }] }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

function gatewayWith(jwt: string): Promise<TestGateway> {
  return startGateway(openaiConfig(upstream.baseUrl, `pipeline:\n  - auth:\n      keys: [static]\n      jwt: ${jwt}\n  - route\n`));
}

t.test('HS256: a valid token passes; its claims become ctx.auth scopes', async (t) => {
  const gw = await gatewayWith(`{ secret: "${SECRET}", issuer: "${ISSUER}", audience: ${AUDIENCE} }`);
  t.teardown(() => gw.close());
  t.equal((await chat(gw, await hs256())).status, 200);
  const readOnly = await chat(gw, await hs256({ org_id: 'acme', scope: 'read' }));
  t.equal(readOnly.status, 403, 'a token with only the read scope cannot call a model');
  t.equal(readOnly.json.error.code, 'insufficient_scope');
});

t.test('HS256: wrong signature, alg none, expired, wrong issuer or audience, missing org → 401', async (t) => {
  const gw = await gatewayWith(`{ secret: "${SECRET}", issuer: "${ISSUER}", audience: ${AUDIENCE}, clock_tolerance: 0s }`);
  t.teardown(() => gw.close());
  const valid = await hs256();
  const [header, payload] = valid.split('.');
  const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime('5m').sign(new TextEncoder().encode('another-secret-of-at-least-32-characters'));
  const cases: [string, string][] = [
    ['wrong signature', forged],
    ['tampered payload', `${header}.${b64({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), org_id: 'victim' })}.${valid.split('.')[2]}`],
    ['alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`],
    ['expired', await hs256(claims, { exp: Math.floor(Date.now() / 1000) - 60 })],
    ['wrong issuer', await hs256(claims, { iss: 'https://evil.test/' })],
    ['wrong audience', await hs256(claims, { aud: 'someone-else' })],
    ['no org claim', await hs256({ scope: 'write' })],
  ];
  for (const [name, token] of cases) {
    const { status, json } = await chat(gw, token);
    t.equal(status, 401, name);
    t.equal(json.error.code, 'invalid_token', name);
  }
  t.equal(upstream.requests.length, 0, 'no forged request reached the upstream');
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  t.match(metrics, /switchyard_auth_failures_total\{reason="invalid_token"\} 7/);
});

t.test('claim names are configurable', async (t) => {
  const gw = await gatewayWith(`{ secret: "${SECRET}", claims: { org: tenant, scopes: perms } }`);
  t.teardown(() => gw.close());
  t.equal((await chat(gw, await hs256({ tenant: 't1', perms: ['write'] }))).status, 200);
  t.equal((await chat(gw, await hs256({ org_id: 't1', scope: 'write' }))).status, 401, 'the default claim names no longer count');
});

t.test('JWKS: RS256 and ES256 tokens verify, keys are cached, an unknown kid refetches the set', async (t) => {
  const rsa = await generateKeyPair('RS256');
  const ec = await generateKeyPair('ES256');
  jwks = { keys: [{ ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256' }] };
  jwksFetches = 0;
  const gw = await gatewayWith(`{ jwks_url: "${jwksUrl}", issuer: "${ISSUER}", audience: ${AUDIENCE}, jwks_cooldown: 0s }`);
  t.teardown(() => gw.close());
  const sign = (alg: string, kid: string, key: Parameters<SignJWT["sign"]>[0]) =>
    new SignJWT(claims).setProtectedHeader({ alg, kid }).setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime('5m').sign(key);
  t.equal((await chat(gw, await sign('RS256', 'rsa-1', rsa.privateKey))).status, 200);
  t.equal((await chat(gw, await sign('RS256', 'rsa-1', rsa.privateKey))).status, 200);
  t.equal(jwksFetches, 1, 'the key set is fetched once and cached');
  jwks = { keys: [...jwks.keys, { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256' }] };
  t.equal((await chat(gw, await sign('ES256', 'ec-1', ec.privateKey))).status, 200, 'a new kid is found by refetching');
  t.equal(jwksFetches, 2);
  const stranger = await generateKeyPair('RS256');
  t.equal((await chat(gw, await sign('RS256', 'rsa-1', stranger.privateKey))).status, 401, 'a known kid with the wrong key fails');
  t.equal((await chat(gw, await sign('HS256', 'rsa-1', secretKey))).status, 401, 'an HS256 token against a JWKS set fails (no algorithm confusion)');
});

t.test('JWKS: refetching for unknown kids is rate-limited by the cooldown', async (t) => {
  const rsa = await generateKeyPair('RS256');
  jwks = { keys: [{ ...(await exportJWK(rsa.publicKey)), kid: 'rsa-2', alg: 'RS256' }] };
  jwksFetches = 0;
  const gw = await gatewayWith(`{ jwks_url: "${jwksUrl}", jwks_cooldown: 1m }`);
  t.teardown(() => gw.close());
  const signed = (kid: string) => new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).setExpirationTime('5m').sign(rsa.privateKey);
  t.equal((await chat(gw, await signed('rsa-2'))).status, 200);
  for (let i = 0; i < 5; i++) t.equal((await chat(gw, await signed(`unknown-${i}`))).status, 401);
  t.equal(jwksFetches, 1, 'made-up kids do not make the gateway hammer the identity provider');
});

t.test('a jwt section with both or neither of secret and jwks_url is a start-up error', async (t) => {
  await t.rejects(gatewayWith(`{ secret: "${SECRET}", jwks_url: "${jwksUrl}" }`), /jwt.*exactly one of `secret` and `jwks_url`/);
  await t.rejects(gatewayWith(`{ issuer: x }`), /jwt.*exactly one of `secret` and `jwks_url`/);
});
