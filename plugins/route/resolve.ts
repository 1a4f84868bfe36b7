/**
 * Model id → targets. Compiled once per config version from `models:`; a lookup is a Map hit, or a
 * walk over the (few) glob keys, most specific first. Each key compiles to a tree (`RouteNode`):
 * its strategy over its targets, where a target without `provider` is another key's tree (a
 * weighted group whose members fall back); the tree's leaves, deduplicated in the order written,
 * are the key's targets. Which leaf goes first is decided per request (`plans.ts`). Order of
 * resolution:
 *   1. exact keys and their `aliases`;
 *   2. glob keys such as `"anthropic/*"` (for a key ending in `/*`, the upstream model is the part
 *      the `*` matched; for any other glob it is the whole requested id);
 *   3. `provider/model`, when `provider` is a configured provider and `provider_prefix` is on.
 * An id that resolves to nothing is a 404 that suggests the nearest configured ids.
 */
import { escapeRegExp, globToRegExp } from '../../core/config/glob.js';
import { ConfigError, closestNames, type ConfigIssue } from '../../core/config/schema.js';
import { GatewayError } from '../../core/errors.js';
import type { ModelConfig } from '../../core/config/types.js';
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
  /** Every target, deduplicated, in the order written (a strategy picks the order per request). */
  readonly targets: readonly Target[];
}

/** How a model's targets are ordered per request (`models.<id>.strategy`). */
export type Strategy = ModelConfig['strategy'];

/**
 * A compiled `models:` key: its strategy over its members. A leaf is one of the key's targets
 * (`index` into its deduplicated list); a group is a key — this one, or one a target names.
 */
export type RouteNode =
  | { readonly kind: 'leaf'; readonly index: number; readonly weight: number }
  | { readonly kind: 'group'; readonly key: string; readonly strategy: Strategy; readonly weight: number; readonly members: readonly RouteNode[] };

/** A target before the request is known: `model` undefined takes the requested id (glob keys). */
export interface TargetSpec {
  readonly provider: Provider;
  readonly model: string | undefined;
}

interface CompiledModel {
  key: string;
  config: ModelConfig;
  /** Set once every key is known (a target may name any other key). */
  tree?: RouteNode & { kind: 'group' };
  leaves: TargetSpec[];
  /** Exact keys: the targets, built once. */
  targets?: readonly Target[];
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
        this.globs.push({ key, config, leaves: [], glob: { pattern, upstream: prefixGlob ? (_id, m) => m[1]! : (id) => id } });
      } else {
        this.exact.set(key, { key, config, leaves: [] });
      }
    }
    // Aliases go in after every exact key, so an alias never shadows a model listed under its own
    // name (whatever the YAML order); between two models claiming one alias, the first wins.
    for (const compiled of [...this.exact.values()]) {
      for (const alias of compiled.config.aliases) if (!this.exact.has(alias)) this.exact.set(alias, compiled);
    }
    this.globs.sort((a, b) => b.key.replace(/\*/g, '').length - a.key.replace(/\*/g, '').length);
    this.ids = [...this.exact.keys()];
    const issues: ConfigIssue[] = [];
    const compiled = new Set<CompiledModel>([...this.exact.values(), ...this.globs]);
    for (const m of compiled) {
      m.leaves = [];
      m.tree = this.compileTree(m, m, [], issues);
      if (!m.glob) m.targets = m.leaves.map((l) => ({ provider: l.provider, model: l.model! }));
    }
    // A key named by others is compiled once per key that names it: report each problem once.
    const unique = new Map(issues.map((i) => [`${i.path.join('\u0000')}\u0000${i.message}`, i]));
    if (unique.size) throw new ConfigError([...unique.values()]);
  }

  /**
   * The tree of `model` as it appears inside `root` (itself, or a key one of its targets names),
   * adding leaves to `root.leaves`. `path` is the chain of keys that led here, to refuse cycles.
   */
  private compileTree(root: CompiledModel, model: CompiledModel, path: string[], issues: ConfigIssue[], weight = 1): RouteNode & { kind: 'group' } {
    const at = (i: number, field: string) => ['$', 'models', model.key, 'targets', i, field];
    if (model.config.strategy === 'single' && model.config.targets.length !== 1) {
      issues.push({ path: ['$', 'models', model.key, 'strategy'], message: `\`single\` takes exactly one target; this model has ${model.config.targets.length} (use \`fallback\` to try them in order)` });
    }
    const members: RouteNode[] = [];
    model.config.targets.forEach((t, i) => {
      const memberWeight = t.weight ?? 1;
      if (t.provider !== undefined) {
        const provider = this.providers.get(t.provider);
        if (!provider) return; // reported by the plugin, which knows every configured provider
        const upstream = t.model ?? (model.glob ? undefined : model.key);
        let index = root.leaves.findIndex((l) => l.provider === provider && l.model === upstream);
        if (index < 0) index = root.leaves.push({ provider, model: upstream }) - 1;
        members.push({ kind: 'leaf', index, weight: memberWeight });
        return;
      }
      const ref = this.exact.get(t.model!);
      if (!ref) {
        const near = closestNames(t.model!, this.ids, 2);
        const glob = this.globs.some((g) => g.key === t.model);
        issues.push({ path: at(i, 'model'), message: glob ? `'${t.model}' is a glob: a target without \`provider\` names an exact model id` : `no model '${t.model}' in \`models:\` (a target without \`provider\` names another model)${near.length ? `; did you mean ${near.map((n) => `'${n}'`).join(' or ')}?` : ''}` });
        return;
      }
      if (ref === model || path.includes(ref.key)) {
        issues.push({ path: at(i, 'model'), message: `models may not name each other in a cycle: ${[...path, model.key, ref.key].join(' → ')}` });
        return;
      }
      members.push(this.compileTree(root, ref, [...path, model.key], issues, memberWeight));
    });
    const strategy = model.config.strategy;
    return { kind: 'group', key: model.key, strategy, weight, members: strategy === 'single' ? members.slice(0, 1) : members };
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
    if (exact) return { key: exact.key, targets: exact.targets! };
    for (const g of this.globs) {
      const m = g.glob!.pattern.exec(id);
      if (m) {
        const upstream = g.glob!.upstream(id, m);
        if (upstream) return { key: g.key, targets: g.leaves.map((l) => ({ provider: l.provider, model: l.model ?? upstream })) };
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

  providerOf(name: string | undefined): Provider | undefined {
    return name === undefined ? undefined : this.providers.get(name);
  }

  /** Every key's compiled tree and its targets (`model` undefined: the requested id), for the strategies. */
  trees(): { key: string; tree: RouteNode & { kind: 'group' }; leaves: readonly TargetSpec[] }[] {
    const seen = new Set<CompiledModel>();
    const out: { key: string; tree: RouteNode & { kind: 'group' }; leaves: readonly TargetSpec[] }[] = [];
    for (const m of [...this.exact.values(), ...this.globs]) {
      if (seen.has(m)) continue;
      seen.add(m);
      out.push({ key: m.key, tree: m.tree!, leaves: m.leaves });
    }
    return out;
  }
}
