/**
 * Model id → targets. Compiled once per config version from `models:`; a lookup is a Map hit, or a
 * walk over the (few) glob keys, most specific first. Order of resolution:
 *   1. exact keys and their `aliases`;
 *   2. glob keys such as `"anthropic/*"` (for a key ending in `/*`, the upstream model is the part
 *      the `*` matched; for any other glob it is the whole requested id);
 *   3. `provider/model`, when `provider` is a configured provider and `provider_prefix` is on.
 * An id that resolves to nothing is a 404 that suggests the nearest configured ids.
 */
import { escapeRegExp, globToRegExp } from '../../core/config/glob.js';
import { closestNames } from '../../core/config/schema.js';
import { GatewayError } from '../../core/errors.js';
import type { ModelConfig, TargetConfig } from '../../core/config/types.js';
import type { ProviderAdapter } from './adapter.js';

export interface Provider {
  readonly name: string;
  readonly adapter: ProviderAdapter;
  /** Catalog name for model metadata. */
  readonly catalog: string;
}

export interface Target {
  readonly provider: Provider;
  /** Model id sent upstream. */
  readonly model: string;
}

export interface Resolution {
  /** The config key that matched (an id or a glob) — bounded, safe as a metrics label. */
  readonly key: string;
  /** Targets in the order to try them. */
  readonly targets: readonly Target[];
}

interface CompiledModel {
  key: string;
  config: ModelConfig;
  /** For globs: turns the requested id into the upstream id. */
  glob?: { pattern: RegExp; upstream: (id: string, match: RegExpExecArray) => string };
}

export class ModelTable {
  private readonly exact = new Map<string, CompiledModel>();
  private readonly globs: CompiledModel[] = [];
  /** Exact ids and aliases, for suggestions when an id is not found. */
  private readonly ids: string[];

  constructor(
    models: Record<string, ModelConfig>,
    private readonly providers: ReadonlyMap<string, Provider>,
    private readonly providerPrefix: boolean,
  ) {
    for (const [key, config] of Object.entries(models)) {
      if (key.includes('*')) {
        const pattern = new RegExp(`^${key.split('*').map(escapeRegExp).join('(.*)')}$`, 's');
        const prefixGlob = key.endsWith('/*') && key.indexOf('*') === key.length - 1;
        this.globs.push({ key, config, glob: { pattern, upstream: prefixGlob ? (_id, m) => m[1]! : (id) => id } });
      } else {
        this.exact.set(key, { key, config });
      }
    }
    // Aliases go in after every exact key, so an alias never shadows a model listed under its own
    // name (whatever the YAML order); between two models claiming one alias, the first wins.
    for (const compiled of [...this.exact.values()]) {
      for (const alias of compiled.config.aliases) if (!this.exact.has(alias)) this.exact.set(alias, compiled);
    }
    this.globs.sort((a, b) => b.key.replace(/\*/g, '').length - a.key.replace(/\*/g, '').length);
    this.ids = [...this.exact.keys()];
  }

  /**
   * The 404 for an id that resolves to nothing, naming the nearest configured ids (and, for
   * `provdier/model`, the nearest provider) that the caller may use: `allowed` are its model globs
   * (`ctx.auth.allowedModels`; empty = all), so a restricted key learns of no other model.
   * Runs only on this error path.
   */
  notFound(id: string, allowed: readonly string[] = []): GatewayError {
    const candidates = closestNames(id, this.ids, 3);
    const slash = id.indexOf('/');
    if (this.providerPrefix && slash > 0) {
      for (const provider of closestNames(id.slice(0, slash), this.providers.keys(), 1)) candidates.push(`${provider}${id.slice(slash)}`);
    }
    const patterns = allowed.map(globToRegExp);
    const suggestions = candidates.filter((c) => patterns.length === 0 || patterns.some((p) => p.test(c)));
    const hint = suggestions.length ? ` Did you mean ${suggestions.map((s) => `'${s}'`).join(' or ')}?` : '';
    return new GatewayError(404, 'invalid_request_error', 'model_not_found', `The model '${id.slice(0, 200)}' does not exist on this gateway.${hint} GET /v1/models lists the models it serves.`, 'model');
  }

  /** Where a model id goes, or undefined when nothing matches. */
  resolve(id: string): Resolution | undefined {
    const exact = this.exact.get(id);
    if (exact) return { key: exact.key, targets: this.order(exact.config, () => exact.key) };
    for (const g of this.globs) {
      const m = g.glob!.pattern.exec(id);
      if (m) {
        const upstream = g.glob!.upstream(id, m);
        if (upstream) return { key: g.key, targets: this.order(g.config, () => upstream) };
      }
    }
    if (this.providerPrefix) {
      const slash = id.indexOf('/');
      const provider = slash > 0 ? this.providers.get(id.slice(0, slash)) : undefined;
      if (provider && slash < id.length - 1) return { key: `${provider.name}/*`, targets: [{ provider, model: id.slice(slash + 1) }] };
    }
    return undefined;
  }

  /** Configured exact ids (not aliases) and globs, for `/v1/models`. */
  keys(): { key: string; config: ModelConfig; glob: boolean }[] {
    const seen = new Set<string>();
    const out: { key: string; config: ModelConfig; glob: boolean }[] = [];
    for (const m of this.exact.values()) {
      if (seen.has(m.key)) continue;
      seen.add(m.key);
      out.push({ key: m.key, config: m.config, glob: false });
    }
    for (const g of this.globs) out.push({ key: g.key, config: g.config, glob: true });
    return out;
  }

  aliasesOf(key: string): string[] {
    return this.exact.get(key)?.config.aliases ?? [];
  }

  providerOf(name: string): Provider | undefined {
    return this.providers.get(name);
  }

  private order(config: ModelConfig, defaultModel: () => string): Target[] {
    const toTarget = (t: TargetConfig): Target => ({ provider: this.providers.get(t.provider)!, model: t.model ?? defaultModel() });
    if (config.strategy !== 'weighted' || config.targets.length < 2) return config.targets.map(toTarget);
    const first = pickWeighted(config.targets);
    return [first, ...config.targets.filter((t) => t !== first)].map(toTarget);
  }
}

function pickWeighted(targets: TargetConfig[]): TargetConfig {
  const total = targets.reduce((s, t) => s + (t.weight ?? 1), 0);
  let r = Math.random() * total;
  for (const t of targets) {
    r -= t.weight ?? 1;
    if (r < 0) return t;
  }
  return targets[targets.length - 1]!;
}

