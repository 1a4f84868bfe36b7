/**
 * `ip-allowlist` through a real gateway: global allow and deny lists (deny wins), IPv4, IPv6 and
 * IPv4-mapped addresses, the configurable refusal, per-route lists on raw proxy routes, per-key and
 * per-org lists from `auth`, and which `X-Forwarded-For` hops are believed.
 */
import t from 'tap';
import { request } from 'node:http';
import { startGateway, openaiConfig, type TestGateway } from '../helpers/gateway.js';
import { startMockOpenAI, type MockOpenAI } from '../helpers/mock-openai.js';

let upstream: MockOpenAI;
t.before(async () => {
  upstream = await startMockOpenAI();
});
t.afterEach(() => upstream.reset());
t.teardown(() => upstream.close());

const KEY = 'sk-test-ip-0123456789abcdef';
const OFFICE_KEY = 'sk-test-office-0123456789abcdef';

function gatewayWith(pipeline: string, server = '', extra = ''): Promise<TestGateway> {
  return startGateway(openaiConfig(upstream.baseUrl, `${server}pipeline:\n${pipeline}  - route\n${extra}`));
}

/** POSTs a chat request, optionally through an IPv6 socket or with X-Forwarded-For. */
async function chat(gw: TestGateway, headers: Record<string, string> = {}, host = '127.0.0.1') {
  const port = new URL(gw.url).port;
  const body = JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hi' }] });
  return new Promise<{ status: number; json: Record<string, any> }>((resolve, reject) => {
    const req = request({ host, port, path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(text) as Record<string, any> }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

t.test('an address outside allow gets 403 ip_not_allowed without echoing the address', async (t) => {
  const gw = await gatewayWith('  - ip-allowlist: { allow: [10.0.0.0/8] }\n');
  t.teardown(() => gw.close());
  const { status, json } = await chat(gw);
  t.equal(status, 403);
  t.equal(json.error.type, 'permission_error');
  t.equal(json.error.code, 'ip_not_allowed');
  t.notMatch(json.error.message, /127\.0\.0\.1/);
});

t.test('an allowed address passes; deny wins over allow', async (t) => {
  const allowed = await gatewayWith('  - ip-allowlist: { allow: [127.0.0.0/8] }\n');
  t.teardown(() => allowed.close());
  t.equal((await chat(allowed)).status, 200);
  const denied = await gatewayWith('  - ip-allowlist: { allow: [127.0.0.0/8], deny: [127.0.0.1] }\n');
  t.teardown(() => denied.close());
  t.equal((await chat(denied)).status, 403);
});

t.test('status and message are configurable', async (t) => {
  const gw = await gatewayWith('  - ip-allowlist: { deny: [0.0.0.0/0], status: 404, message: Nothing here. }\n');
  t.teardown(() => gw.close());
  const { status, json } = await chat(gw);
  t.equal(status, 404);
  t.equal(json.error.message, 'Nothing here.');
});

t.test('IPv6 clients match IPv6 lists, and IPv4 lists do not admit them', async (t) => {
  const v6 = await startGateway(openaiConfig(upstream.baseUrl, 'pipeline:\n  - ip-allowlist: { allow: ["::1/128"] }\n  - route\n'), { listen: '[::1]:0' });
  t.teardown(() => v6.close());
  t.equal((await chat(v6, {}, '::1')).status, 200);
  const v4only = await startGateway(openaiConfig(upstream.baseUrl, 'pipeline:\n  - ip-allowlist: { allow: [127.0.0.0/8] }\n  - route\n'), { listen: '[::1]:0' });
  t.teardown(() => v4only.close());
  t.equal((await chat(v4only, {}, '::1')).status, 403);
});

t.test('an IPv4-mapped IPv6 peer counts as its IPv4 address', async (t) => {
  // Listening on `::` makes IPv4 clients appear as ::ffff:127.0.0.1 on the socket.
  const gw = await startGateway(openaiConfig(upstream.baseUrl, 'pipeline:\n  - ip-allowlist: { allow: [127.0.0.1/32] }\n  - route\n'), { listen: '[::]:0' });
  t.teardown(() => gw.close());
  t.equal((await chat(gw, {}, '127.0.0.1')).status, 200);
});

t.test('X-Forwarded-For is ignored unless the hop is a trusted proxy', async (t) => {
  const untrusted = await gatewayWith('  - ip-allowlist: { allow: [203.0.113.0/24] }\n');
  t.teardown(() => untrusted.close());
  t.equal((await chat(untrusted, { 'x-forwarded-for': '203.0.113.9' })).status, 403, 'a spoofed XFF from an untrusted peer does not get in');
  const spoofDeny = await gatewayWith('  - ip-allowlist: { deny: [127.0.0.1] }\n');
  t.teardown(() => spoofDeny.close());
  t.equal((await chat(spoofDeny, { 'x-forwarded-for': '198.51.100.1' })).status, 403, 'nor can it dodge a deny');
  const trusted = await gatewayWith('  - ip-allowlist: { allow: [203.0.113.0/24] }\n', 'server: { trusted_proxies: [127.0.0.1/32] }\n');
  t.teardown(() => trusted.close());
  t.equal((await chat(trusted, { 'x-forwarded-for': '203.0.113.9' })).status, 200, 'behind a trusted proxy XFF is honoured');
  t.equal((await chat(trusted, { 'x-forwarded-for': '203.0.113.9, 198.51.100.7' })).status, 403, 'the right-most untrusted hop is the client');
});

t.test("a key's own allowed_ips are enforced by auth, with or without ip-allowlist in the pipeline", async (t) => {
  for (const extra of ['  - ip-allowlist\n', '']) {
    const gw = await gatewayWith(`  - auth:
      keys: [static]
      static:
        - { name: anywhere, key: ${KEY}, org: acme }
        - { name: office, key: ${OFFICE_KEY}, org: acme, allowed_ips: [10.1.0.0/16] }
        - { name: loopback, key: ${KEY}-lo, org: acme, allowed_ips: ["127.0.0.0/8", "::1/128"] }
${extra}`);
    const label = extra ? 'with ip-allowlist' : 'auth alone';
    t.equal((await chat(gw, { authorization: `Bearer ${KEY}` })).status, 200, `${label}: a key without a list is not limited`);
    const office = await chat(gw, { authorization: `Bearer ${OFFICE_KEY}` });
    t.equal(office.status, 403, `${label}: a key limited to 10.1.0.0/16 is refused from 127.0.0.1`);
    t.equal(office.json.error.code, 'ip_not_allowed');
    t.equal((await chat(gw, { authorization: `Bearer ${KEY}-lo` })).status, 200, `${label}: a key limited to loopback works from loopback`);
    await gw.close();
  }
});

t.test('per-route lists: the plugin in a raw proxy route pipeline guards that route only', async (t) => {
  const gw = await gatewayWith('', '', `routes:\n  - { path: /internal/*, upstream: "${upstream.url}", pipeline: [{ ip-allowlist: { allow: [10.0.0.0/8] } }] }\n  - { path: /open/*, upstream: "${upstream.url}" }\n`);
  t.teardown(() => gw.close());
  t.equal((await fetch(`${gw.url}/internal/x`)).status, 403);
  const open = await fetch(`${gw.url}/open/x`);
  await open.text();
  t.equal(upstream.requests.at(-1)?.url, '/open/x', 'the other route forwards');
  t.equal((await chat(gw)).status, 200, 'model endpoints are not limited');
});

t.test('a bad CIDR is a start-up error naming the entry', async (t) => {
  await t.rejects(gatewayWith('  - ip-allowlist: { allow: [10.0.0.0/8, 10.0.0.0/40] }\n'), /ip-allowlist\.allow\[1\].*10\.0\.0\.0\/40/);
  await t.rejects(gatewayWith('  - ip-allowlist: { deny: [not-an-ip] }\n'), /ip-allowlist\.deny\[0\].*not-an-ip/);
});
