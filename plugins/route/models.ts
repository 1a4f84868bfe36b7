/**
 * `GET /v1/models` and `GET /v1/models/{id}`: the ids this gateway serves, in OpenAI's list format,
 * with `owned_by` = provider and catalog metadata (context window, prices, capabilities) where known.
 * Built once per config version, and again when a discovered listing changed (`discovery.ts`).
 */
import type { Catalog, CatalogEntry } from '../../core/config/catalog.js';
import type { ModelTable, Provider, Resolution } from './resolve.js';
import type { ListedModel } from './adapter.js';

export interface ModelCard {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  [metadata: string]: unknown;
}

export function modelCard(id: string, resolution: Resolution, catalog: Catalog, created: number): ModelCard {
  const first = resolution.targets[0]!;
  const entry = catalog.get(first.provider.catalog, first.model);
  return { id, object: 'model', created, owned_by: first.provider.name, ...metadata(entry) };
}

function metadata(entry: (CatalogEntry & { prices_read?: string }) | undefined): Record<string, unknown> {
  if (!entry) return {};
  const out: Record<string, unknown> = {
    mode: entry.mode,
    capabilities: { tools: entry.tools, input_modalities: entry.input_modalities, output_modalities: entry.output_modalities },
  };
  if (entry.context_window) out['context_window'] = entry.context_window;
  if (entry.max_output_tokens) out['max_output_tokens'] = entry.max_output_tokens;
  if (entry.dimensions) out['dimensions'] = entry.dimensions;
  if (entry.pricing) out['pricing'] = { currency: 'USD', ...entry.pricing, ...(entry.prices_read ? { prices_read: entry.prices_read } : {}) };
  if (entry.deprecated) out['deprecated'] = true;
  return out;
}

/** Every listable id: exact keys, their aliases, and for `prefix/*` keys every catalog model of the target's provider. */
export function buildModelList(table: ModelTable, catalog: Catalog, created: number): ModelCard[] {
  const cards: ModelCard[] = [];
  const seen = new Set<string>();
  const add = (id: string) => {
    if (seen.has(id)) return;
    const resolution = table.resolve(id);
    if (!resolution) return;
    seen.add(id);
    cards.push(modelCard(id, resolution, catalog, created));
  };
  for (const { key, config, glob } of table.keys()) {
    if (!glob) {
      add(key);
      for (const alias of config.aliases) add(alias);
    } else if (key.endsWith('/*') && key.indexOf('*') === key.length - 1) {
      const provider = table.providerOf(config.targets[0]!.provider);
      if (provider) for (const model of catalog.models(provider.catalog)) add(`${key.slice(0, -1)}${model}`);
    }
  }
  return cards;
}

/**
 * The card of a discovered `<provider>/<model>`: the catalog's metadata where it knows the model,
 * else the window sizes the provider's list named.
 */
export function discoveredCard(id: string, provider: Provider, listed: ListedModel, catalog: Catalog, created: number): ModelCard {
  const entry = catalog.get(provider.catalog, listed.id);
  const card: ModelCard = { id, object: 'model', created: listed.created ?? created, owned_by: provider.name, ...metadata(entry) };
  if (!entry && listed.context_window) card['context_window'] = listed.context_window;
  if (!entry && listed.max_output_tokens) card['max_output_tokens'] = listed.max_output_tokens;
  return card;
}

/** The configured list followed by the discovered models (an id listed already keeps its configured card). */
export function withDiscovered(list: readonly ModelCard[], discovered: readonly { id: string; provider: Provider; model: ListedModel }[], catalog: Catalog, created: number): ModelCard[] {
  const seen = new Set(list.map((c) => c.id));
  const out = [...list];
  for (const d of discovered) {
    if (seen.has(d.id)) continue;
    seen.add(d.id);
    out.push(discoveredCard(d.id, d.provider, d.model, catalog, created));
  }
  return out;
}
