/**
 * Live model discovery. A provider marked `discover:` has its upstream models listed (through its
 * adapter's `models` lister) at start and again every `ttl`, always in the background: no request
 * waits for a listing. Each listed model is served as `<provider>/<model>` — in `GET /v1/models`
 * and as a request's `model` — beside the ids of `models:`.
 *
 * The listings are route's process state (`ModelDiscovery`), keyed by provider identity (its name,
 * adapter and settings), so a reload that keeps a provider as it was keeps its listing and its
 * schedule; a config version attaches its providers (`attach`) and detaches them when it is closed.
 * A failing listing keeps the last good one, is logged once per failure streak, is tried again
 * after the shorter of `ttl` and 30 s, and shows in `/ready` details (degraded, still ready).
 */
import { GatewayError } from '../../core/errors.js';
import type { UpstreamClient } from '../../core/http/upstream.js';
import type { Logger } from '../../core/log.js';
import type { ListedModel } from './adapter.js';
import { listModels, type DiscoverySource } from './discovery-sources.js';
import type { Provider, Resolution } from './resolve.js';

export { discoverySources, type DiscoverySource } from './discovery-sources.js';

const MAX_RETRY_MS = 30_000;

/** A provider's listing as `/ready` and the admin API show it. */
export interface ListingStatus {
  provider: string;
  /** `pending` until the first listing ends; `failing` while the latest failed (the last good one is served). */
  status: 'pending' | 'ok' | 'failing';
  models: number;
  refreshed_at?: string;
  error?: string;
  failing_since?: string;
  failures?: number;
}

interface Listing {
  /** The sources attached by live config versions; the newest (last) is used. */
  readonly sources: DiscoverySource[];
  models: ReadonlyMap<string, ListedModel>;
  refreshedAt?: number;
  /** When the latest listing started (the next one is due a ttl later). */
  attemptedAt: number;
  failure?: { message: string; since: number; count: number };
  running?: Promise<void>;
  timer?: NodeJS.Timeout;
  dropped: boolean;
}

/** A config version's view of the listings of its providers. */
export interface DiscoveryView {
  /** True when the version has providers that discover. */
  readonly active: boolean;
  /** Changes whenever a listing of this view changes (to rebuild what is derived from it). */
  generation(): number;
  /** `<provider>/<model>` of a listed model, as a resolution; Map lookups only. */
  resolve(id: string): Resolution | undefined;
  /** The listed model a `<provider>/<model>` id names, with its provider. */
  lookup(id: string): { provider: Provider; model: ListedModel } | undefined;
  /** Every listed model with its `<provider>/<model>` id, provider by provider. */
  models(): { id: string; provider: Provider; model: ListedModel }[];
  /** Stops using the listings (the version is closed). */
  detach(): void;
}

/** Route's process state for discovery: every listing, kept across reloads. */
export class ModelDiscovery {
  private readonly listings = new Map<string, Listing>();
  private readonly shutdown = new AbortController();
  private changes = 0;

  constructor(
    private readonly upstream: UpstreamClient,
    private readonly log: Logger,
  ) {}

  /** Attaches a version's sources: listings not known yet are started (in the background). */
  attach(sources: readonly DiscoverySource[]): DiscoveryView {
    const mine = new Map<string, { source: DiscoverySource; listing: Listing }>();
    for (const source of sources) {
      let listing = this.listings.get(source.identity);
      const fresh = !listing;
      if (!listing) {
        listing = { sources: [], models: new Map(), attemptedAt: 0, dropped: false };
        this.listings.set(source.identity, listing);
      }
      const ttlBefore = fresh ? undefined : current(listing).ttlMs;
      listing.sources.push(source);
      mine.set(source.provider.name, { source, listing });
      if (fresh) void this.refreshListing(listing, true);
      else if (ttlBefore !== source.ttlMs && !listing.running) this.schedule(listing);
    }
    const discovery = this;
    return {
      active: mine.size > 0,
      generation: () => discovery.changes,
      lookup(id) {
        const slash = id.indexOf('/');
        if (slash <= 0) return undefined;
        const entry = mine.get(id.slice(0, slash));
        const model = entry?.listing.models.get(id.slice(slash + 1));
        return entry && model ? { provider: entry.source.provider, model } : undefined;
      },
      resolve(id) {
        const found = this.lookup(id);
        return found && { key: `${found.provider.name}/*`, targets: [{ provider: found.provider, model: found.model.id }] };
      },
      models() {
        const out: { id: string; provider: Provider; model: ListedModel }[] = [];
        for (const { source, listing } of mine.values()) {
          for (const model of listing.models.values()) out.push({ id: `${source.provider.name}/${model.id}`, provider: source.provider, model });
        }
        return out;
      },
      detach() {
        for (const { source, listing } of mine.values()) discovery.detachSource(source, listing);
        mine.clear();
      },
    };
  }

  /**
   * Lists now, and waits for it: every provider of the serving version, or the one named. A listing
   * already under way is let finish first, so the answer reflects the upstream as of this call.
   */
  async refresh(provider?: string): Promise<ListingStatus[]> {
    const targets = [...this.listings.values()].filter((l) => !l.dropped && (provider === undefined || current(l).provider.name === provider));
    if (provider !== undefined && targets.length === 0) {
      throw new GatewayError(404, 'invalid_request_error', 'provider_not_discovering', `No configured provider named '${provider.slice(0, 100)}' discovers its models.`, 'provider');
    }
    await Promise.all(
      targets.map(async (l) => {
        await l.running;
        await this.refreshListing(l);
      }),
    );
    return targets.filter((l) => !l.dropped).map((l) => statusOf(l));
  }

  /** Resolves once no listing is under way (for tests and the first listing at start). */
  async settled(): Promise<void> {
    while (true) {
      const running = [...this.listings.values()].flatMap((l) => (l.running ? [l.running] : []));
      if (running.length === 0) return;
      await Promise.all(running);
    }
  }

  /** Every listing's status, by provider name. */
  statuses(): ListingStatus[] {
    return [...this.listings.values()].filter((l) => !l.dropped).map((l) => statusOf(l));
  }

  /** For `/ready` details: undefined when no provider discovers. */
  details(): { discovery: Record<string, ListingStatus> } | undefined {
    const statuses = this.statuses();
    if (statuses.length === 0) return undefined;
    return { discovery: Object.fromEntries(statuses.map((s) => [s.provider, s])) };
  }

  /** At shutdown: no more listings; one under way is aborted. */
  close(): void {
    this.shutdown.abort();
    for (const l of this.listings.values()) {
      l.dropped = true;
      clearTimeout(l.timer);
    }
    this.listings.clear();
  }

  private detachSource(source: DiscoverySource, listing: Listing): void {
    const i = listing.sources.lastIndexOf(source);
    if (i >= 0) listing.sources.splice(i, 1);
    if (listing.sources.length > 0) {
      if (!listing.running) this.schedule(listing);
      return;
    }
    listing.dropped = true;
    clearTimeout(listing.timer);
    if (this.listings.get(source.identity) === listing) this.listings.delete(source.identity);
  }

  /**
   * Runs one listing (or joins the one under way), then schedules the next. Never rejects.
   * `deferred`: a version's first listing waits for the version's compilation to end, so a config
   * that is only validated (`switchyard validate`) and closed at once calls no provider.
   */
  private refreshListing(l: Listing, deferred = false): Promise<void> {
    if (l.running) return l.running;
    clearTimeout(l.timer);
    l.running = (deferred ? new Promise<void>((resolve) => setImmediate(resolve)) : Promise.resolve())
      .then(async () => {
        if (l.dropped) return;
        const source = current(l);
        l.attemptedAt = Date.now();
        try {
          this.succeeded(l, source, await listModels(this.upstream, source, this.shutdown.signal));
        } catch (err) {
          this.failed(l, source, err);
        }
      })
      .finally(() => {
        l.running = undefined;
        if (!l.dropped) this.schedule(l);
      });
    return l.running;
  }

  /** (Re)arms the next listing: a ttl after the latest began, or sooner after a failure. */
  private schedule(l: Listing): void {
    clearTimeout(l.timer);
    const ttl = current(l).ttlMs;
    const due = l.attemptedAt + (l.failure ? Math.min(ttl, MAX_RETRY_MS) : ttl);
    l.timer = setTimeout(() => void this.refreshListing(l), Math.max(0, due - Date.now()));
    l.timer.unref();
  }

  private succeeded(l: Listing, source: DiscoverySource, models: Map<string, ListedModel>): void {
    if (l.dropped) return;
    if (l.failure) this.log.info({ provider: source.provider.name, models: models.size, failures: l.failure.count }, 'model discovery recovered');
    if (!sameModels(l.models, models)) this.changes++;
    l.models = models;
    l.refreshedAt = Date.now();
    l.failure = undefined;
  }

  private failed(l: Listing, source: DiscoverySource, err: unknown): void {
    if (l.dropped) return;
    const message = (err instanceof Error ? err.message : String(err)).slice(0, 500);
    if (l.failure) {
      l.failure.count++;
      l.failure.message = message;
      this.log.debug({ provider: source.provider.name, error: message, failures: l.failure.count }, 'model discovery failed again');
    } else {
      l.failure = { message, since: Date.now(), count: 1 };
      // Once per failure streak, and without a stack: the next lines would only repeat it.
      this.log.warn({ provider: source.provider.name, error: message, models_kept: l.models.size }, 'model discovery failed; serving the last good listing');
    }
  }
}

function current(l: Listing): DiscoverySource {
  return l.sources[l.sources.length - 1]!;
}

function statusOf(l: Listing): ListingStatus {
  const s: ListingStatus = {
    provider: current(l).provider.name,
    status: l.failure ? 'failing' : l.refreshedAt === undefined ? 'pending' : 'ok',
    models: l.models.size,
  };
  if (l.refreshedAt !== undefined) s.refreshed_at = new Date(l.refreshedAt).toISOString();
  if (l.failure) {
    s.error = l.failure.message;
    s.failing_since = new Date(l.failure.since).toISOString();
    s.failures = l.failure.count;
  }
  return s;
}

function sameModels(a: ReadonlyMap<string, ListedModel>, b: ReadonlyMap<string, ListedModel>): boolean {
  if (a.size !== b.size) return false;
  for (const [id, m] of b) {
    const old = a.get(id);
    if (!old || old.created !== m.created || old.context_window !== m.context_window || old.max_output_tokens !== m.max_output_tokens) return false;
  }
  return true;
}
