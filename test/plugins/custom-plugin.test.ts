/**
 * Custom plugins loaded by path (`- use: ./plugin.ts` with `config:`), through the example
 * `examples/plugins/pii-redact.ts`: what reaches the upstream, how its config is checked, and how a
 * bad `use:` is reported.
 */
import t from 'tap';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Gateway } from '../../core/gateway.js';
import { ConfigLoadError } from '../../core/config/load.js';
import { createLogger } from '../../core/log.js';
import { builtinPlugins } from '../../plugins/index.js';
import { startGateway, openaiConfig, type TestGateway } from '../helpers/gateway.js';
import { startMockOpenAI, type MockOpenAI } from '../helpers/mock-openai.js';

const pluginFile = fileURLToPath(new URL('../../examples/plugins/pii-redact.ts', import.meta.url));
const exampleConfig = fileURLToPath(new URL('../../examples/pii-redact.yaml', import.meta.url));

let upstream: MockOpenAI;
t.before(async () => {
  upstream = await startMockOpenAI();
});
t.afterEach(() => upstream.reset());
t.teardown(() => upstream.close());

const withPlugin = (config: string) => openaiConfig(upstream.baseUrl, `pipeline:\n  - use: "${pluginFile}"\n${config}  - route\n`);

async function chat(gw: { url: string }, messages: unknown[]): Promise<Response> {
  return fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o-mini', messages }) });
}

/** The load error of a config (its formatted message), or a failure if it loads. */
async function loadError(yaml: string): Promise<string> {
  let gw: TestGateway | undefined;
  try {
    gw = await startGateway(yaml, { level: 'silent' });
  } catch (err) {
    if (err instanceof ConfigLoadError) return err.message;
    throw err;
  }
  await gw.close();
  throw new Error('the config loaded');
}

t.test('the upstream receives user messages with emails and phone numbers redacted', async (t) => {
  const gw = await startGateway(withPlugin('    config: { replacement: "<pii>" }\n'));
  t.teardown(() => gw.close());
  const res = await chat(gw, [
    { role: 'system', content: 'Support desk. Escalations: boss@corp.example' },
    { role: 'user', content: 'I am ana.lima+work@mail.example.com, call me at +1 (555) 123-4567 or 555.987.6543.' },
    { role: 'user', content: [{ type: 'text', text: 'Backup: +44 20 7946 0958' }, { type: 'image_url', image_url: { url: 'https://example.invalid/a.png' } }] },
  ]);
  t.equal(res.status, 200);
  const sent = upstream.requests[0]!.body!['messages'] as { role: string; content: unknown }[];
  t.equal(sent[0]!.content, 'Support desk. Escalations: boss@corp.example', 'roles default to user only');
  t.equal(sent[1]!.content, 'I am <pii>, call me at <pii> or <pii>.');
  t.same(sent[2]!.content, [{ type: 'text', text: 'Backup: <pii>' }, { type: 'image_url', image_url: { url: 'https://example.invalid/a.png' } }]);
  t.notMatch(upstream.requests[0]!.raw, /ana\.lima|555|7946/, 'nothing personal reached the upstream');
  t.equal(res.headers.get('x-pii-redacted'), '4', 'the client learns how many values were replaced');
});

t.test('text without personal data passes unchanged and gets no header', async (t) => {
  const gw = await startGateway(withPlugin(''));
  t.teardown(() => gw.close());
  const text = 'Ship 3 boxes on 2024-01-15 at 10:30, order 12345, version 1.2.3.';
  const res = await chat(gw, [{ role: 'user', content: text }]);
  t.equal((upstream.requests[0]!.body!['messages'] as { content: string }[])[0]!.content, text);
  t.equal(res.headers.get('x-pii-redacted'), null);
});

t.test('config: custom patterns, replacement and roles', async (t) => {
  const gw = await startGateway(withPlugin(`    config:\n      patterns: ['\\bACCT-\\d+\\b']\n      replacement: "#"\n      roles: [system, user]\n`));
  t.teardown(() => gw.close());
  await chat(gw, [
    { role: 'system', content: 'Account ACCT-991 is VIP' },
    { role: 'user', content: 'ana@example.com owns ACCT-12' },
  ]);
  const sent = upstream.requests[0]!.body!['messages'] as { content: string }[];
  t.equal(sent[0]!.content, 'Account # is VIP');
  t.equal(sent[1]!.content, 'ana@example.com owns #', 'custom patterns replace the defaults');
});

t.test('examples/pii-redact.yaml loads its plugin by a path relative to the file and serves offline', async (t) => {
  const gateway = await Gateway.start({ configFile: exampleConfig, plugins: builtinPlugins, listen: '127.0.0.1:0', logger: createLogger({ level: 'silent' }), processMetrics: false, watch: false });
  t.teardown(() => gateway.close(2000));
  const res = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'mail ana@example.com or call +1 555-123-4567' }] }),
  });
  const body = (await res.json()) as { choices: { message: { content: string } }[] };
  t.equal(body.choices[0]!.message.content, 'mail [redacted] or call [redacted]', 'the demo provider echoes what it received');
  t.equal(res.headers.get('x-pii-redacted'), '2');
});

t.test('an invalid pattern is a load error at its line', async (t) => {
  const message = await loadError(withPlugin(`    config:\n      patterns:\n        - ok\n        - "(unclosed"\n`));
  t.match(message, /gateway\.yaml:16:11: pipeline\[0\]\.config\.patterns\[1\]: is not a valid regular expression: /);
});

t.test('a config field the plugin does not know is a load error at its line', async (t) => {
  const message = await loadError(withPlugin(`    config:\n      replace_with: x\n`));
  t.match(message, /gateway\.yaml:14:7: pipeline\[0\]\.config\.replace_with: unknown field 'replace_with'/);
});

t.test('a use: path with no file is a load error naming the file and line', async (t) => {
  const message = await loadError(openaiConfig(upstream.baseUrl, 'pipeline:\n  - use: ./plugins/missing.ts\n  - route\n'));
  t.match(message, /gateway\.yaml:12:5: pipeline\[0\]\.use: cannot load plugin module '\.\/plugins\/missing\.ts': there is no file at \S+\/plugins\/missing\.ts/);
});

t.test('a module whose default export is not a plugin is rejected', async (t) => {
  const dir = t.testdir({
    'not-a-plugin.mjs': 'export default { hello: "world" };\n',
    'no-create.mjs': 'export default { name: "half", schema: {} };\n',
    'throws.mjs': 'throw new Error("boom at import");\n',
  });
  for (const [file, reason] of [
    ['not-a-plugin.mjs', /its default export is not a plugin definition \(need name, schema and create\)/],
    ['no-create.mjs', /its default export is not a plugin definition/],
    ['throws.mjs', /boom at import/],
  ] as const) {
    const message = await loadError(openaiConfig(upstream.baseUrl, `pipeline:\n  - use: "${dir}/${file}"\n  - route\n`));
    t.match(message, /gateway\.yaml:12:5: pipeline\[0\]\.use: cannot load plugin module /, file);
    t.match(message, reason, file);
  }
});

t.test('a plugin loaded with use: that declares migrations, admin routes or commands is a load error naming them', async (t) => {
  const dir = t.testdir({
    'tables.mjs': 'export default { name: "tables", schema: {}, create: () => ({ handle: (ctx, next) => next() }), migrations: [{ id: 1, name: "t", sql: "CREATE TABLE t (x int)" }], commands: { names: ["t"], usage: "", run: async () => 0 } };\n',
  });
  const message = await loadError(openaiConfig(upstream.baseUrl, `pipeline:\n  - use: "${dir}/tables.mjs"\n  - route\n`));
  t.match(message, /gateway\.yaml:12:5: pipeline\[0\]\.use: plugin 'tables' declares migrations, commands, which only a plugin registered in the composition root/);
});

t.test('a config reload gives the plugin its new config', async (t) => {
  const gw = await startGateway(withPlugin('    config: { replacement: one }\n'));
  t.teardown(() => gw.close());
  await chat(gw, [{ role: 'user', content: 'a@b.example' }]);
  await writeFile(gw.file, withPlugin('    config: { replacement: two }\n'));
  const result = await gw.gateway.reload();
  t.ok(result.ok);
  await chat(gw, [{ role: 'user', content: 'a@b.example' }]);
  t.same(upstream.requests.map((r) => (r.body!['messages'] as { content: string }[])[0]!.content), ['one', 'two']);
});
