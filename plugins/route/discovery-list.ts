/**
 * `GET /v1/models[/{id}]` of a config version with discovered models: the configured list followed
 * by every listed `<provider>/<model>`, serialised again only after a listing changed.
 */
import type { Catalog } from '../../core/config/catalog.js';
import type { DiscoveryView } from './discovery.js';
import { discoveredCard, withDiscovered, type ModelCard } from './models.js';

export interface LiveModelList {
  /** The list body as JSON text (each request parses its own copy). */
  json(): string;
  /** The card of a discovered id, or undefined. */
  card(id: string): ModelCard | undefined;
}

export function liveModelList(list: readonly ModelCard[], listJson: string, view: DiscoveryView, catalog: Catalog, created: number): LiveModelList {
  let built = { generation: -1, json: listJson };
  return {
    json() {
      if (!view.active) return listJson;
      const generation = view.generation();
      if (built.generation !== generation) built = { generation, json: JSON.stringify({ object: 'list', data: withDiscovered(list, view.models(), catalog, created) }) };
      return built.json;
    },
    card(id) {
      const found = view.lookup(id);
      return found && discoveredCard(id, found.provider, found.model, catalog, created);
    },
  };
}
