/**
 * The built-in model catalog (`config/catalog/*.yaml`): every file loads through the schema, says
 * where its facts come from, and gives every chat model a context window; and a running gateway
 * shows those facts in `GET /v1/models` for the catalog each provider names.
 */
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { builtinCatalogDir, loadCatalog, type Catalog } from '../../core/config/catalog.js';
import { startGateway, openaiConfig } from '../helpers/gateway.js';

interface RawCatalogFile {
  provider: string;
  source?: string;
  prices_read?: string;
  models: Record<string, { mode?: string; pricing?: unknown }>;
}

const dir = builtinCatalogDir();
const files = readdirSync(dir)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();
const raw = new Map(files.map((f) => [f, parse(readFileSync(join(dir, f), 'utf8')) as RawCatalogFile]));
/** Catalogs whose facts were read from a provider's published pages (all but the offline mock). */
const published = files.filter((f) => raw.get(f)!.provider !== 'mock');

let catalog: Catalog;
t.before(async () => {
  catalog = await loadCatalog([], {});
});

t.test('the catalog directory has the OpenAI, Mistral and Groq catalogs', async (t) => {
  for (const name of ['openai.yaml', 'mistral.yaml', 'groq.yaml']) t.ok(files.includes(name), name);
});

t.test('every catalog file is named after the catalog it defines', async (t) => {
  for (const f of files) t.equal(`${raw.get(f)!.provider}.yaml`, f, f);
});

t.test('every published catalog cites an https source, and one with prices says when they were read', async (t) => {
  for (const f of published) {
    const file = raw.get(f)!;
    t.match(file.source, /^https:\/\/\S+$/, `${f}: source`);
    const priced = Object.values(file.models).some((m) => m.pricing !== undefined);
    if (priced) t.match(file.prices_read, /^\d{4}-\d{2}-\d{2}$/, `${f}: prices_read`);
  }
});

t.test('the OpenAI, Mistral and Groq catalogs record prices for every model, read on a given date', async (t) => {
  for (const f of ['openai.yaml', 'mistral.yaml', 'groq.yaml']) {
    const file = raw.get(f)!;
    t.ok(file.prices_read, `${f}: prices_read`);
    for (const [id, model] of Object.entries(file.models)) t.ok(model.pricing, `${f}: ${id} has pricing`);
  }
});

t.test('every chat model in every catalog has a context window; embedding models have dimensions', async (t) => {
  for (const f of files) {
    const name = raw.get(f)!.provider;
    for (const id of catalog.models(name)) {
      const entry = catalog.get(name, id)!;
      if (entry.mode === 'chat') t.ok(entry.context_window, `${name}/${id}: context_window`);
      if (entry.mode === 'embedding' && (name === 'openai' || name === 'mistral')) t.ok(entry.dimensions, `${name}/${id}: dimensions`);
      if (entry.context_window && entry.max_output_tokens) t.ok(entry.max_output_tokens <= entry.context_window, `${name}/${id}: output fits the window`);
    }
  }
});

t.test('the loader applies the schema defaults to entries that leave them out', async (t) => {
  const luna = catalog.get('openai', 'gpt-6-luna');
  t.equal(luna?.mode, 'chat');
  t.same(luna?.output_modalities, ['text']);
  t.equal(luna?.deprecated, false);
  t.equal(luna?.prices_read, raw.get('openai.yaml')!.prices_read);
  t.equal(catalog.get('openai', 'gpt-4o-mini')?.deprecated, true, 'retirement announced');
  t.equal(catalog.get('openai', 'dall-e-3'), undefined, 'shut-down models are not listed');
});

t.test('GET /v1/models shows catalog facts for the catalog each provider reads', async (t) => {
  const extraProviders = `  groq: { adapter: openai, base_url: "http://127.0.0.1:9/v1", api_key: k, catalog: groq }
  nocat: { adapter: openai, base_url: "http://127.0.0.1:9/v1", api_key: k, catalog: nothing-here }
`;
  // The upstream is never called: listing models is answered from the compiled config.
  const yaml = openaiConfig('http://127.0.0.1:9/v1').replace('  demo: { adapter: mock }\n', `  demo: { adapter: mock }\n${extraProviders}`);
  const extraModels = `  openai/gpt-oss-120b: { targets: [{ provider: groq }] }
  unlisted-gpt-6-luna: { targets: [{ provider: nocat, model: gpt-6-luna }] }
`;
  const gw = await startGateway(yaml.replace('  demo: { targets: [{ provider: demo }] }\n', `  demo: { targets: [{ provider: demo }] }\n${extraModels}`));
  t.teardown(() => gw.close());

  const res = await fetch(`${gw.url}/v1/models`);
  t.equal(res.status, 200);
  const body = (await res.json()) as { object: string; data: Record<string, unknown>[] };
  const card = (id: string) => body.data.find((m) => m.id === id);

  const mini = catalog.get('openai', 'gpt-4o-mini')!;
  t.match(card('gpt-4o-mini'), {
    owned_by: 'up',
    mode: 'chat',
    context_window: mini.context_window,
    max_output_tokens: mini.max_output_tokens,
    capabilities: { tools: true, input_modalities: ['text', 'image'] },
    pricing: { currency: 'USD', input_per_1m: mini.pricing!.input_per_1m, output_per_1m: mini.pricing!.output_per_1m, cached_input_per_1m: mini.pricing!.cached_input_per_1m, prices_read: mini.prices_read },
    deprecated: true,
  });
  t.type(card('gpt-4o-mini')?.context_window, 'number');

  const embed = catalog.get('openai', 'text-embedding-3-small')!;
  t.match(card('text-embedding-3-small'), { mode: 'embedding', dimensions: embed.dimensions, pricing: { input_per_1m: embed.pricing!.input_per_1m } });

  const oss = catalog.get('groq', 'openai/gpt-oss-120b')!;
  t.match(card('openai/gpt-oss-120b'), { owned_by: 'groq', context_window: oss.context_window, pricing: { input_per_1m: oss.pricing!.input_per_1m } });

  for (const id of ['dall-e-3', 'gpt-3.5-turbo-instruct', 'unlisted-gpt-6-luna']) {
    const c = card(id);
    t.ok(c, `${id} is listed`);
    t.notOk(c && 'pricing' in c, `${id} has no catalog facts`);
    t.notOk(c && 'context_window' in c, `${id} has no context window`);
  }

  const one = await fetch(`${gw.url}/v1/models/gpt-4o-mini`);
  t.match(await one.json(), { id: 'gpt-4o-mini', context_window: mini.context_window, pricing: { currency: 'USD' } });
});
