/**
 * The Grafana dashboard (examples/grafana/dashboards/switchyard-dashboard.json) queries only what a
 * gateway exports: a gateway with every metric-bearing plugin on serves a few requests of every
 * kind (success, stream, cache hit, refusals, an upstream failure, a priced and an unpriced request,
 * a reload; a second gateway adds a store failure, a third a credit refusal), its `/metrics` is
 * scraped, and every metric name and label in every PromQL expression of the dashboard (panels and
 * template variables) must be in that scrape. The selectors are read by a small parser, tested here
 * too.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startGateway } from '../helpers/gateway.js';
import type { RequestRecord } from '../../core/record.js';

const dashboardFile = fileURLToPath(new URL('../../examples/grafana/dashboards/switchyard-dashboard.json', import.meta.url));
const dashboard = JSON.parse(readFileSync(dashboardFile, 'utf8')) as Dashboard;

interface Target {
  expr: string;
}
interface Panel {
  type: string;
  title: string;
  datasource?: { uid: string };
  targets?: Target[];
}
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; definition?: string }[] };
}

/** Labels Prometheus attaches to every scraped series (the target's), which `/metrics` itself never shows. */
const TARGET_LABELS = new Set(['job', 'instance']);

/** A series selector: `metric{label="…", …}`, with the label names it matches on. */
interface Selector {
  metric: string;
  labels: string[];
}

/** What a PromQL expression refers to: its series selectors, and the labels it groups or joins on. */
interface References {
  selectors: Selector[];
  grouping: string[];
}

const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);
/** Aggregation operators: their grouping clause may come between the name and the parenthesis (`sum by (x) (…)`). */
const AGGREGATIONS = new Set(['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio']);

/**
 * Reads the selectors of a PromQL expression — enough of PromQL for dashboards: strings, range
 * and subquery brackets, Grafana variables (`$x`, `${x}`), functions, aggregations with
 * `by`/`without`, vector matching with `on`/`ignoring`/`group_left`/`group_right`, `offset`.
 * Throws on a selector without a metric name, which this check could not judge.
 */
export function parsePromQL(expr: string): References {
  const selectors: Selector[] = [];
  const grouping: string[] = [];
  let i = 0;
  const skipSpace = () => {
    while (i < expr.length && /\s/.test(expr[i]!)) i++;
  };
  const readString = (): string => {
    const quote = expr[i]!;
    let out = '';
    i++;
    while (i < expr.length && expr[i] !== quote) {
      if (expr[i] === '\\' && quote !== '`') i++;
      out += expr[i];
      i++;
    }
    if (i >= expr.length) throw new Error(`unterminated string in ${expr}`);
    i++;
    return out;
  };
  const readIdent = (): string => {
    const m = /^[a-zA-Z_:][\w:]*/.exec(expr.slice(i));
    if (!m) throw new Error(`expected a name at ${i} in ${expr}`);
    i += m[0].length;
    return m[0];
  };
  /** `{a="x", b=~"y"}` → ['a', 'b'] */
  const readMatchers = (): string[] => {
    const labels: string[] = [];
    i++; // {
    for (;;) {
      skipSpace();
      if (expr[i] === '}') break;
      labels.push(readIdent());
      skipSpace();
      const op = /^(=~|!~|!=|=)/.exec(expr.slice(i));
      if (!op) throw new Error(`expected a matcher operator at ${i} in ${expr}`);
      i += op[0].length;
      skipSpace();
      readString();
      skipSpace();
      if (expr[i] === ',') i++;
      else if (expr[i] !== '}') throw new Error(`expected , or } at ${i} in ${expr}`);
    }
    i++; // }
    return labels;
  };
  /** `(a, b)` → ['a', 'b'] */
  const readLabelList = (): string[] => {
    const labels: string[] = [];
    i++; // (
    for (;;) {
      skipSpace();
      if (expr[i] === ')') break;
      labels.push(readIdent());
      skipSpace();
      if (expr[i] === ',') i++;
    }
    i++; // )
    return labels;
  };

  while (i < expr.length) {
    const c = expr[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"' || c === "'" || c === '`') {
      readString();
    } else if (c === '[') {
      i = expr.indexOf(']', i) + 1; // a range or subquery: durations and variables only
      if (i === 0) throw new Error(`unterminated [ in ${expr}`);
    } else if (c === '$') {
      i++;
      if (expr[i] === '{') i = expr.indexOf('}', i) + 1;
      else readIdent();
    } else if (/[0-9.]/.test(c)) {
      i += /^[0-9.][\w.]*/.exec(expr.slice(i))![0].length; // numbers, and durations after `offset`
    } else if (c === '{') {
      throw new Error(`a selector without a metric name in ${expr}`);
    } else if (/[a-zA-Z_:]/.test(c)) {
      const name = readIdent();
      skipSpace();
      if (GROUPING.has(name)) {
        if (expr[i] === '(') grouping.push(...readLabelList());
      } else if (expr[i] === '(' || KEYWORDS.has(name.toLowerCase()) || AGGREGATIONS.has(name)) {
        // a function or an aggregation; its arguments are read as the loop goes on
      } else {
        selectors.push({ metric: name, labels: expr[i] === '{' ? readMatchers() : [] });
      }
    } else {
      i++;
    }
  }
  return { selectors, grouping };
}

/** `label_values(selector, label)` or `label_values(label)`, Grafana's variable query, as references. */
function parseVariableQuery(query: string): References {
  const m = /^label_values\((.*?)(?:,\s*([a-zA-Z_]\w*))?\)$/.exec(query.trim());
  if (!m) return parsePromQL(query);
  if (m[2] === undefined) return { selectors: [], grouping: [m[1]!.trim()] };
  return { selectors: parsePromQL(m[1]!).selectors, grouping: [m[2]] };
}

/** Sample name → label names seen on it, from Prometheus text exposition. */
function scrapedSeries(text: string): Map<string, Set<string>> {
  const series = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+\S+/.exec(line);
    if (!m) continue;
    const labels = series.get(m[1]!) ?? new Set<string>();
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="(?:[^"\\]|\\.)*"/g)) labels.add(l[1]!);
    series.set(m[1]!, labels);
  }
  return series;
}

/** Every metric or label `refs` needs that `series` lacks, worded for a failure message. */
function missing(refs: References, series: Map<string, Set<string>>): string[] {
  const problems: string[] = [];
  const known = new Set(TARGET_LABELS);
  for (const s of refs.selectors) {
    const labels = series.get(s.metric);
    if (!labels) {
      problems.push(`metric ${s.metric}`);
      continue;
    }
    for (const l of labels) known.add(l);
    for (const l of s.labels) if (!labels.has(l) && !TARGET_LABELS.has(l)) problems.push(`label ${l} on ${s.metric}`);
  }
  for (const l of refs.grouping) if (!known.has(l)) problems.push(`label ${l} (grouped on) on ${refs.selectors.map((s) => s.metric).join(', ') || 'no metric'}`);
  return problems;
}

/** Every PromQL expression of the dashboard, with where it is. */
function expressions(d: Dashboard): { where: string; refs: References }[] {
  const out: { where: string; refs: References }[] = [];
  for (const p of d.panels) for (const target of p.targets ?? []) out.push({ where: `panel "${p.title}"`, refs: parsePromQL(target.expr) });
  for (const v of d.templating.list) if (v.type === 'query') out.push({ where: `variable $${v.name}`, refs: parseVariableQuery(v.definition ?? '') });
  return out;
}

t.test('the selector parser reads metrics, matchers and grouping labels, and nothing else', async (t) => {
  t.same(
    parsePromQL('histogram_quantile(0.95, sum by (le, model) (rate(x_bucket{job=~"$job", route=~"/v1/.*", a!="}{"}[$__rate_interval])))'),
    { selectors: [{ metric: 'x_bucket', labels: ['job', 'route', 'a'] }], grouping: ['le', 'model'] },
  );
  t.same(
    parsePromQL('sum(rate(a_total{s=~"5.."}[5m] offset 1h)) / ignoring(s) sum without (x) (rate(b_total[${__range}])) > bool 0.5 and on(i) count by (j) (c)'),
    { selectors: [{ metric: 'a_total', labels: ['s'] }, { metric: 'b_total', labels: [] }, { metric: 'c', labels: [] }], grouping: ['s', 'x', 'i', 'j'] },
  );
  t.same(parseVariableQuery('label_values(m{job=~"$job"}, instance)'), { selectors: [{ metric: 'm', labels: ['job'] }], grouping: ['instance'] });
  t.throws(() => parsePromQL('{__name__="x"}'), /without a metric name/);

  const series = scrapedSeries('# HELP m x\n# TYPE m counter\nm{route="/v1",model="a,b=\\"c\\""} 1\nm_other 2\n');
  t.same([...series.get('m')!].sort(), ['model', 'route']);
  t.same(missing(parsePromQL('sum by (model, job) (m{route="x", instance="y"})'), series), [], 'known labels and target labels pass');
  t.same(missing(parsePromQL('sum by (org) (m{org="x"}) + nope_total'), series), ['label org on m', 'metric nope_total', 'label org (grouped on) on m, nope_total']);
});

t.test('the dashboard is provisioning-ready: a stable uid, every panel on the $datasource variable, every variable defined', async (t) => {
  t.equal(dashboard.uid, 'switchyard-gateway');
  const defined = new Set(dashboard.templating.list.map((v) => v.name));
  const text = readFileSync(dashboardFile, 'utf8');
  for (const [, name] of text.matchAll(/\$\{?([a-zA-Z]\w*)/g)) t.ok(defined.has(name!), `$${name} is a dashboard variable`);
  for (const p of dashboard.panels.filter((p) => p.type !== 'row')) {
    t.equal(p.datasource?.uid, '${datasource}', `panel "${p.title}" uses the datasource variable`);
    t.ok((p.targets ?? []).length > 0, `panel "${p.title}" has a query`);
  }
});

t.test("every metric and label the dashboard queries is in a gateway's /metrics", async (t) => {
  const gw = await startGateway(
    `version: 1
server: { drain_delay: 0s }
stores: { sql: { pglite: memory } }
providers:
  demo: { adapter: mock }
  down: { adapter: openai, base_url: "http://127.0.0.1:1/v1", api_key: sk-unused }
models:
  demo: { targets: [{ provider: demo }] }
  limited: { targets: [{ provider: demo }] }
  broken: { targets: [{ provider: down }] }
  unpriced: { targets: [{ provider: demo, model: no-price }] }
pipeline:
  - auth:
      keys: [static]
      static: [{ name: dash, key: sk-dashboard-test-key, org: acme }]
  - billing:
      models: { "demo/demo": { input_per_1m: 1, output_per_1m: 2 } }
  - rate-limit:
      limits: [{ per: [key, model], rpm: 1, models: [limited] }]
  - cache: { ttl: 10m }
  - route
`,
    { processMetrics: true, level: 'silent' },
  );
  t.teardown(() => gw.close());

  // Metrics are counted when a request's record is emitted, which may follow its response by a moment.
  const expected = 8;
  let recorded = 0;
  const allRecorded = new Promise<void>((resolve) => {
    const unsubscribe = gw.gateway.records.subscribe((_: RequestRecord) => {
      if (++recorded === expected) {
        unsubscribe();
        resolve();
      }
    });
  });
  const headers = { authorization: 'Bearer sk-dashboard-test-key', 'content-type': 'application/json' };
  const chat = async (model: string, extra: Record<string, unknown> = {}, h: Record<string, string> = headers) => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: h, body: JSON.stringify({ model, temperature: 0, messages: [{ role: 'user', content: 'hello' }], ...extra }) });
    await res.arrayBuffer();
    return res.status;
  };
  const statuses = [
    await chat('demo', {}, { 'content-type': 'application/json' }), // auth failure
    await chat('demo'), // cache miss, tokens
    await chat('demo'), // cache hit
    await chat('demo', { stream: true, stream_options: { include_usage: true } }), // time to first token
    await chat('limited'),
    await chat('limited'), // rate-limited
    await chat('broken'), // upstream error
    await chat('unpriced'), // served, no price
  ];
  t.same(statuses, [401, 200, 200, 200, 200, 429, 502, 200], 'each kind of request got the answer it should');
  t.equal(statuses.length, expected);
  await allRecorded;
  await gw.write(`${readFileSync(gw.file, 'utf8')}# changed\n`);
  t.equal((await gw.gateway.reload()).ok, true, 'a reload, for the reload counter');

  const scrape = await fetch(`${gw.url}/metrics`);
  t.equal(scrape.status, 200);
  const series = scrapedSeries(await scrape.text());

  // The rate-limit store's error counter needs a store that fails: a second gateway whose Redis is unreachable.
  const storeDown = await startGateway(
    `version: 1
server: { drain_delay: 0s }
stores: { kv: { redis: "redis://127.0.0.1:1" } }
providers: { demo: { adapter: mock } }
models: { demo: { targets: [{ provider: demo }] } }
pipeline:
  - rate-limit: { limits: [{ per: ip, rpm: 100 }], fail_open: true }
  - route
`,
    { level: 'silent' },
  );
  t.teardown(() => storeDown.close());
  t.equal(await fetch(`${storeDown.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hi' }] }) }).then((r) => r.status), 200, 'let through by the backstop');
  for (const [name, labels] of scrapedSeries(await (await fetch(`${storeDown.url}/metrics`)).text())) {
    if (!series.has(name)) series.set(name, labels);
  }

  // Credit refusals need credits enforced: a third gateway, whose organization has no balance.
  const noCredit = await startGateway(
    `version: 1
server: { drain_delay: 0s }
stores: { sql: { pglite: memory } }
providers: { demo: { adapter: mock } }
models: { demo: { targets: [{ provider: demo }] } }
pipeline:
  - auth: { keys: [static], static: [{ name: broke, key: sk-dashboard-broke-key, org: broke }] }
  - billing: { models: { "demo/demo": { input_per_1m: 1, output_per_1m: 2 } }, credits: { enabled: true } }
  - route
`,
    { level: 'silent' },
  );
  t.teardown(() => noCredit.close());
  const refused = await fetch(`${noCredit.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: 'Bearer sk-dashboard-broke-key', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'demo', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
  });
  t.equal(refused.status, 402, 'refused for want of credit');
  await refused.arrayBuffer();
  for (const [name, labels] of scrapedSeries(await (await fetch(`${noCredit.url}/metrics`)).text())) {
    if (!series.has(name)) series.set(name, labels);
  }

  const all = expressions(dashboard);
  t.ok(all.length >= 30, `${all.length} expressions read`);
  const queried = new Set(all.flatMap((e) => e.refs.selectors.map((s) => s.metric)));
  for (const metric of queried) t.ok(series.has(metric), `${metric} is exported`);
  for (const { where, refs } of all) {
    t.ok(refs.selectors.length > 0, `${where} queries a metric`);
    t.same(missing(refs, series), [], `${where}: everything it queries is in /metrics`);
  }
});
