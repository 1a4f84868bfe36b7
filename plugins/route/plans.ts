/**
 * The strategies: per request, the order in which a model's targets are tried. A model's compiled
 * tree (`resolve.ts`) is bound once per config version to the process state it needs — each
 * target's `TargetState`, each group's round-robin slots — so a request does no config work: it
 * walks a few nodes and reads a few numbers. Each group orders its members, a member group orders
 * its own, and the leaves come out in that order, each target once.
 *
 *   single         its one target
 *   fallback       the order written
 *   weighted       first pick by smooth weighted round-robin (nginx's: deterministic shares, any
 *                  non-negative weights, 0 = fallback only), then the rest in the order written
 *   least-busy     fewest calls in flight first (ties rotate)
 *   least-latency  lowest EWMA of time to first byte first; never-measured targets first; a share
 *                  `explore` of requests puts the least recently measured target first
 *   cost           cheapest first for the request's estimated tokens; unpriced ones last
 *
 * Members whose breaker would skip them are not picked first by a strategy (they stay in the list,
 * last, so that `invoke` can say when they reopen).
 */
import type { Catalog } from '../../core/config/catalog.js';
import type { ModelTarget } from '../../core/context.js';
import type { BreakerSettings } from './breaker.js';
import type { Provider, RouteNode, Strategy, TargetSpec } from './resolve.js';
import type { GroupRegistry, GroupState, TargetRegistry, TargetState } from './targets.js';

/** One target in a request's order. */
export interface Pick {
  readonly provider: Provider;
  readonly model: string;
  readonly state: TargetState;
}

export interface PlanSettings {
  readonly breaker: BreakerSettings;
  /** `least-latency`: EWMA weight of the newest measurement. */
  readonly decay: number;
  /** `least-latency`: share of requests that explore. */
  readonly explore: number;
  /** `cost`: completion tokens assumed when the request sets no limit. */
  readonly completionTokens: number;
}

/** USD per token, input and output; undefined when the catalog has no price. */
interface Price {
  readonly input: number;
  readonly output: number;
}

interface LeafNode {
  readonly kind: 'leaf';
  readonly index: number;
  readonly weight: number;
  readonly provider: Provider;
  /** Static targets: bound once. Undefined for a glob key's target, whose model is the request's. */
  readonly state: TargetState | undefined;
  /** Static targets: the pick, built once. */
  readonly pick: Pick | undefined;
  readonly price: Price | undefined;
}

interface GroupNode {
  readonly kind: 'group';
  readonly strategy: Strategy;
  readonly weight: number;
  readonly members: readonly Node[];
  readonly state: GroupState;
  /** `weighted`: each member's round-robin slot. */
  readonly slots: readonly { current: number }[];
  /** `members` with member i moved first, for each i (built once; a request allocates nothing). */
  readonly firstAt: readonly (readonly Node[])[];
}

type Node = LeafNode | GroupNode;

/** What a request tells the strategies. */
export interface PickRequest {
  /** `ctx.model.targets`: the key's targets with the request's models filled in. */
  readonly targets: readonly ModelTarget[];
  /** The request body (`cost` estimates its tokens). */
  readonly body: Record<string, unknown>;
}

/** One `models:` key's strategy, bound to the process state. */
export class Plan {
  /** The whole order when nothing in it depends on the request or on state (fallback/single over fixed targets). */
  private readonly fixed: readonly Pick[] | undefined;
  private readonly root: GroupNode;

  constructor(
    tree: RouteNode & { kind: 'group' },
    private readonly leaves: readonly TargetSpec[],
    private readonly targets: TargetRegistry,
    groups: GroupRegistry,
    private readonly settings: PlanSettings,
    private readonly catalog: Catalog,
  ) {
    const bind = (node: RouteNode): Node => {
      if (node.kind === 'leaf') {
        const spec = leaves[node.index]!;
        const state = spec.model === undefined ? undefined : targets.configured(spec.provider.name, spec.model);
        const pick = state && { provider: spec.provider, model: state.model, state };
        return { kind: 'leaf', index: node.index, weight: node.weight, provider: spec.provider, state, pick, price: spec.model === undefined ? undefined : priceOf(catalog, spec.provider, spec.model) };
      }
      const members = node.members.map(bind);
      const group = groups.get(node.key);
      const ids = node.members.map(memberId);
      return {
        kind: 'group',
        strategy: node.strategy,
        weight: node.weight,
        members,
        state: group,
        slots: ids.map((id) => group.slot(id)),
        firstAt: members.map((m, i) => [m, ...members.filter((_, j) => j !== i)]),
      };
      function memberId(m: RouteNode): string {
        if (m.kind === 'group') return `=${m.key}`;
        const spec = leaves[m.index]!;
        return `${spec.provider.name}/${spec.model ?? '*'}`;
      }
    };
    this.root = bind(tree) as GroupNode;
    this.fixed = isFixed(this.root) ? this.collect(undefined) : undefined;
  }

  /** The targets of this request, in the order to try them. */
  order(request: PickRequest): readonly Pick[] {
    return this.fixed ?? this.collect(request);
  }

  private collect(request: PickRequest | undefined): Pick[] {
    const out: Pick[] = [];
    this.visit(this.root, request, out, performance.now());
    return out;
  }

  private visit(node: Node, request: PickRequest | undefined, out: Pick[], now: number): void {
    if (node.kind === 'leaf') {
      const pick = this.pickOf(node, request);
      for (const p of out) if (p.state === pick.state) return;
      out.push(pick);
      return;
    }
    for (const member of this.ordered(node, request, now)) this.visit(member, request, out, now);
  }

  private pickOf(leaf: LeafNode, request: PickRequest | undefined): Pick {
    if (leaf.pick) return leaf.pick;
    const model = request!.targets[leaf.index]!.model;
    return { provider: leaf.provider, model, state: this.targets.get(leaf.provider.name, model) };
  }

  private stateOf(leaf: LeafNode, request: PickRequest | undefined): TargetState {
    return leaf.state ?? this.pickOf(leaf, request).state;
  }

  /** A group's members in this request's order. */
  private ordered(group: GroupNode, request: PickRequest | undefined, now: number): readonly Node[] {
    const members = group.members;
    if (members.length < 2) return members;
    switch (group.strategy) {
      case 'single':
      case 'fallback':
        return members;
      case 'weighted': {
        let best = -1;
        let total = 0;
        for (let i = 0; i < members.length; i++) {
          const m = members[i]!;
          if (!(m.weight > 0) || !this.admits(m, request, now)) continue;
          const slot = group.slots[i]!;
          slot.current += m.weight;
          total += m.weight;
          if (best < 0 || slot.current > group.slots[best]!.current) best = i;
        }
        if (best < 0) return members;
        group.slots[best]!.current -= total;
        return group.firstAt[best]!;
      }
      case 'least-busy': {
        // Scan from the member after the last pick, so that tied members take turns.
        const start = (group.state.rotation + 1) % members.length;
        let best = -1;
        let least = Infinity;
        for (let k = 0; k < members.length; k++) {
          const i = (start + k) % members.length;
          const m = members[i]!;
          if (!this.admits(m, request, now)) continue;
          const load = this.inFlight(m, request);
          if (load < least) {
            least = load;
            best = i;
          }
        }
        if (best < 0) return members;
        group.state.rotation = best;
        return group.firstAt[best]!;
      }
      case 'least-latency': {
        group.state.exploreCredit += this.settings.explore;
        if (group.state.exploreCredit >= 1) {
          group.state.exploreCredit -= 1;
          let stalest = -1;
          let oldest = Infinity;
          for (let i = 0; i < members.length; i++) {
            const m = members[i]!;
            if (!this.admits(m, request, now)) continue;
            const at = this.measuredAt(m, request);
            if (at < oldest) {
              oldest = at;
              stalest = i;
            }
          }
          if (stalest >= 0) return group.firstAt[stalest]!;
        }
        return this.sorted(members, request, now, (m) => {
          const ms = this.latency(m, request);
          return Number.isNaN(ms) ? -1 : ms;
        });
      }
      case 'cost': {
        const [prompt, completion] = estimateTokens(request!.body, this.settings.completionTokens);
        return this.sorted(members, request, now, (m) => this.cost(m, request, prompt, completion));
      }
    }
  }

  /** Members by ascending `measure` (NaN last), those a breaker would skip after all others; stable. */
  private sorted(members: readonly Node[], request: PickRequest | undefined, now: number, measure: (m: Node) => number): Node[] {
    const keyed = members.map((m, i) => ({ m, i, down: !this.admits(m, request, now), v: measure(m) }));
    keyed.sort((a, b) => Number(a.down) - Number(b.down) || (Number.isNaN(a.v) ? 1 : 0) - (Number.isNaN(b.v) ? 1 : 0) || (a.v - b.v || 0) || a.i - b.i);
    return keyed.map((k) => k.m);
  }

  /** Whether a call could go to the member now (a group: to any of its targets). */
  private admits(m: Node, request: PickRequest | undefined, now: number): boolean {
    if (m.kind === 'leaf') return !this.settings.breaker.enabled || this.stateOf(m, request).breaker.admits(now, this.settings.breaker);
    for (const x of m.members) if (this.admits(x, request, now)) return true;
    return false;
  }

  private inFlight(m: Node, request: PickRequest | undefined): number {
    if (m.kind === 'leaf') return this.stateOf(m, request).inFlight;
    let sum = 0;
    for (const x of m.members) sum += this.inFlight(x, request);
    return sum;
  }

  /** A leaf's average; a group's best. NaN when never measured. */
  private latency(m: Node, request: PickRequest | undefined): number {
    if (m.kind === 'leaf') return this.stateOf(m, request).latencyMs;
    let best = NaN;
    for (const x of m.members) {
      const v = this.latency(x, request);
      if (Number.isNaN(v)) return NaN;
      if (!(v >= best)) best = v;
    }
    return best;
  }

  private measuredAt(m: Node, request: PickRequest | undefined): number {
    if (m.kind === 'leaf') return this.stateOf(m, request).measuredAt;
    let oldest = Infinity;
    for (const x of m.members) oldest = Math.min(oldest, this.measuredAt(x, request));
    return oldest;
  }

  /** Estimated USD of the request on a leaf; a group's cheapest. NaN when unpriced. */
  private cost(m: Node, request: PickRequest | undefined, prompt: number, completion: number): number {
    if (m.kind === 'leaf') {
      const price = m.state ? m.price : priceOf(this.catalog, m.provider, this.pickOf(m, request).model);
      return price ? price.input * prompt + price.output * completion : NaN;
    }
    let best = NaN;
    for (const x of m.members) {
      const v = this.cost(x, request, prompt, completion);
      if (!Number.isNaN(v) && !(v >= best)) best = v;
    }
    return best;
  }
}

/** True when the order never changes: only `fallback` / `single` groups over fixed targets. */
function isFixed(node: Node): boolean {
  if (node.kind === 'leaf') return node.state !== undefined;
  return (node.strategy === 'fallback' || node.strategy === 'single' || node.members.length < 2) && node.members.every(isFixed);
}

function priceOf(catalog: Catalog, provider: Provider, model: string): Price | undefined {
  const pricing = catalog.get(provider.catalog, model)?.pricing;
  if (!pricing || pricing.input_per_1m === undefined || pricing.output_per_1m === undefined) return undefined;
  return { input: pricing.input_per_1m / 1e6, output: pricing.output_per_1m / 1e6 };
}

/**
 * Tokens a request is expected to take, [prompt, completion]: a quarter of the characters of its
 * messages (or prompt, or input), and its `max_completion_tokens` / `max_tokens`, else `fallback`.
 * Rough on purpose: it only ranks targets by price.
 */
export function estimateTokens(body: Record<string, unknown>, fallback: number): readonly [number, number] {
  let chars = 0;
  const add = (v: unknown): void => {
    if (typeof v === 'string') chars += v.length;
    else if (Array.isArray(v)) for (const x of v) add(x);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      add(o['content'] ?? o['text']);
    }
  };
  add(body['messages'] ?? body['prompt'] ?? body['input']);
  const limit = body['max_completion_tokens'] ?? body['max_tokens'];
  return [Math.ceil(chars / 4), typeof limit === 'number' && limit >= 0 ? limit : fallback];
}
