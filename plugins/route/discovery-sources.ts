/**
 * What model discovery lists, and how: the providers of a config version that set `discover:`
 * (each with an identity that stays the same across reloads while its settings do), and one whole
 * listing of one provider — every page, through its adapter's `models` lister, on the gateway's
 * one HTTP client, with the provider's credentials and timeouts.
 */
import { createHash } from 'node:crypto';
import type { ConfigIssue } from '../../core/config/schema.js';
import type { GatewayConfig } from '../../core/config/types.js';
import { parseDuration } from '../../core/config/units.js';
import { errors } from '../../core/errors.js';
import { upstreamFailure, type UpstreamClient } from '../../core/http/upstream.js';
import type { HttpAdapter, ListedModel, ModelLister } from './adapter.js';
import type { Provider } from './resolve.js';
import { tryParseJson } from './upstream-errors.js';

const DEFAULT_TTL_MS = 5 * 60_000;
const MIN_TTL_MS = 100;
/** A listing that pages on past this is cut (and fails): 50 pages of up to 1000 models. */
const MAX_PAGES = 50;

/** One provider of one config version that lists its models. */
export interface DiscoverySource {
  readonly provider: Provider;
  /** Name, adapter and settings hashed: equal across reloads while the provider is unchanged. */
  readonly identity: string;
  readonly ttlMs: number;
  readonly adapter: HttpAdapter;
  readonly lister: ModelLister;
}

/** The `discover:` setting of a provider: its ttl in ms, or undefined when off. */
export function discoverTtl(setting: GatewayConfig['providers'][string]['discover'] | undefined): number | undefined {
  if (!setting) return undefined;
  if (setting === true) return DEFAULT_TTL_MS;
  return parseDuration(setting.ttl ?? DEFAULT_TTL_MS) ?? DEFAULT_TTL_MS;
}

/**
 * The sources of a config version's providers that set `discover:`. A provider that cannot list
 * (its adapter has no list endpoint, as Yandex's and the mock's) or a ttl below 100 ms is an issue
 * at its `discover` path.
 */
export function discoverySources(config: GatewayConfig, providers: ReadonlyMap<string, Provider>, issues: ConfigIssue[]): DiscoverySource[] {
  const sources: DiscoverySource[] = [];
  for (const [name, pc] of Object.entries(config.providers)) {
    const ttlMs = discoverTtl(pc.discover);
    const provider = providers.get(name);
    if (ttlMs === undefined || !provider) continue;
    const path = ['$', 'providers', name, 'discover'];
    const adapter = provider.adapter;
    if (adapter.kind !== 'http' || !adapter.models) {
      issues.push({ path, message: `the '${pc.adapter}' adapter${pc['azure'] ? ' (Azure)' : ''} has no model list to discover` });
      continue;
    }
    if (ttlMs < MIN_TTL_MS) {
      issues.push({ path: [...path, 'ttl'], message: `must be at least ${MIN_TTL_MS}ms` });
      continue;
    }
    const { discover: _discover, timeouts: _timeouts, ...settings } = pc;
    const identity = createHash('sha256').update(JSON.stringify([name, settings])).digest('hex');
    sources.push({ provider, identity, ttlMs, adapter, lister: adapter.models });
  }
  return sources;
}

/** Every page of `source`'s listing, by upstream id (the first of a repeated id wins). */
export async function listModels(upstream: UpstreamClient, source: DiscoverySource, signal: AbortSignal): Promise<Map<string, ListedModel>> {
  const models = new Map<string, ListedModel>();
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const parsed = source.lister.parse(await fetchPage(upstream, source, cursor, signal));
    for (const m of parsed.models) if (!models.has(m.id)) models.set(m.id, m);
    if (!parsed.next || parsed.next === cursor) return models;
    cursor = parsed.next;
  }
  throw errors.badGateway('upstream_invalid_response', `${source.provider.name}: the model list has more than ${MAX_PAGES} pages.`);
}

/** One page's JSON body. Errors as for a call: the adapter's `parseError`, one `refreshAuth` on a 401. */
async function fetchPage(upstream: UpstreamClient, source: DiscoverySource, cursor: string | undefined, signal: AbortSignal): Promise<unknown> {
  const { adapter, provider } = source;
  for (let renewed = false; ; renewed = true) {
    const request = await source.lister.request(cursor);
    const res = await upstream.send(request, signal, adapter.timeouts, provider.name);
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      throw upstreamFailure(err, provider.name, 'body');
    } finally {
      res.release();
    }
    if (res.status === 401 && !renewed && adapter.refreshAuth && (await adapter.refreshAuth())) continue;
    if (res.status < 200 || res.status > 299) throw adapter.parseError(res.status, text, res.headers);
    const body = tryParseJson(text);
    if (body === undefined) throw errors.badGateway('upstream_invalid_response', `${provider.name}: the model list is not JSON.`);
    return body;
  }
}
