/**
 * `rate-limit` rules: compiled once per config version from YAML, then turned per request into the
 * counter checks of one `consume()` call and the concurrency slots to take. Counter keys look like
 * `rl:key+model:k.k_123:gpt-4o:r3600000` — the dimensions, their values (escaped), the unit and the
 * window (`:rpm` / `:tpm` for the per-key limits `ctx.auth` may override) — so the same rule on every replica shares one counter.
 */
import type { Context } from '../../core/context.js';
import type { LimitCheck } from '../../core/stores/kv.js';
import type { LimitOverrides } from '../auth/types.js';
import type { Dimension, RateLimitConfig } from '../../schemas/types/plugins/rate-limit.js';
import { parseDuration } from '../../core/config/units.js';
import { ConfigError } from '../../core/config/schema.js';
import { createHash } from 'node:crypto';
import { globToRegExp } from '../../core/config/glob.js';

/** What a limit counts per: each distinct value (or combination of values) gets its own counter. */
export type { Dimension };

/** One entry of `limits:` in YAML. */
export type LimitRule = RateLimitConfig['limits'][number];

export type Unit = 'requests' | 'tokens';

interface CompiledWindow {
  unit: Unit;
  /** Undefined: only enforced when `ctx.auth.limits` supplies a value (the implicit per-key rule). */
  limit: number | undefined;
  windowMs: number;
  suffix: string;
  /** The `ctx.auth.limits` field that replaces `limit` for the request's key. */
  override: 'rpm' | 'tpm' | undefined;
}

export interface CompiledRule {
  dims: readonly Dimension[];
  /** Bounded metric label and message text, e.g. `key+model`. */
  label: string;
  prefix: string;
  models: RegExp[] | undefined;
  windows: CompiledWindow[];
  concurrency: number | undefined;
  /** Whether `ctx.auth.limits.concurrency` replaces `concurrency` (then `concurrency` may be undefined). */
  concurrencyOverride: boolean;
}

/** What one check or slot stands for, to word a 429 and label the metric. */
export interface CheckInfo {
  rule: CompiledRule;
  unit: Unit;
  windowMs: number;
}

export interface RequestPlan {
  checks: LimitCheck[];
  info: CheckInfo[];
  slots: { key: string; max: number; rule: CompiledRule }[];
}

/** The counter keys of one rule for one set of dimension values: one per window, and the slot key. */
interface RuleKeys {
  windows: string[];
  slot: string;
}

/** How many dimension values a rule remembers the keys of before it starts over. */
const REMEMBERED_VALUES = 10_000;

/**
 * A compiled rule with what a request needs from it ready made: the `CheckInfo` of each window and,
 * for one-dimension rules, the counter keys per dimension value (no key building per request).
 */
interface PlannedRule {
  rule: CompiledRule;
  infos: CheckInfo[];
  /** Keys for one-dimension rules by the value's raw form (`ip`, `model`, `route`; `key`/`org` with `ctx.auth`). */
  byValue: Map<string, RuleKeys> | undefined;
  /** Keys of `key` / `org` rules for requests without `ctx.auth`, by client IP. */
  byIp: Map<string, RuleKeys> | undefined;
  /** Keys of a `global` rule. */
  constant: RuleKeys | undefined;
}

const MINUTE = 60_000;

export function compileRules(limits: readonly LimitRule[]): CompiledRule[] {
  const rules = limits.map(compileRule);
  const seen = new Map<string, number>();
  rules.forEach((rule, i) => {
    const counted: { what: string; counter: string }[] = rule.windows.map((w) => ({ what: w.unit, counter: rule.prefix + w.suffix }));
    if (rule.concurrency !== undefined) counted.push({ what: 'concurrency', counter: `${rule.prefix}:c` });
    for (const { what, counter } of counted) {
      const first = seen.get(counter);
      if (first !== undefined) throw ConfigError.at(['limits', i], `limits the same ${what} per ${rule.label} as limits[${first}]; merge them into one entry`);
      seen.set(counter, i);
    }
  });
  // ctx.auth limits apply even with no `per: key` rule for them in YAML: an implicit rule holds them.
  const keyWide = rules.filter((r) => r.dims.length === 1 && r.dims[0] === 'key' && !r.models);
  const has = (o: 'rpm' | 'tpm') => keyWide.some((r) => r.windows.some((w) => w.override === o));
  const implicit: CompiledWindow[] = [];
  if (!has('rpm')) implicit.push(window('requests', undefined, MINUTE, 'rpm'));
  if (!has('tpm')) implicit.push(window('tokens', undefined, MINUTE, 'tpm'));
  const concurrency = keyWide.some((r) => r.concurrencyOverride);
  if (implicit.length || !concurrency) {
    rules.push({ dims: ['key'], label: 'key', prefix: 'rl:key', models: undefined, windows: implicit, concurrency: undefined, concurrencyOverride: !concurrency });
  }
  return rules;
}

function compileRule(rule: LimitRule): CompiledRule {
  const dims = [...new Set(Array.isArray(rule.per) ? rule.per : [rule.per])].sort();
  const keyWide = dims.length === 1 && dims[0] === 'key' && !rule.models?.length;
  const windows: CompiledWindow[] = [];
  if (rule.rpm !== undefined) windows.push(window('requests', rule.rpm, MINUTE, keyWide ? 'rpm' : undefined));
  if (rule.tpm !== undefined) windows.push(window('tokens', rule.tpm, MINUTE, keyWide ? 'tpm' : undefined));
  // The schema checked the format; a zero window would count nothing.
  const windowMs = Math.max(1, rule.window === undefined ? MINUTE : parseDuration(rule.window)!);
  if (rule.requests !== undefined) windows.push(window('requests', rule.requests, windowMs, undefined));
  if (rule.tokens !== undefined) windows.push(window('tokens', rule.tokens, windowMs, undefined));
  const label = dims.join('+');
  // Rules limited to models count apart from the same dimensions without (or with other) models.
  const modelsTag = rule.models?.length ? `~${createHash('sha256').update(rule.models.join('\n')).digest('base64url').slice(0, 8)}` : '';
  return {
    dims,
    label,
    prefix: `rl:${label}${modelsTag}`,
    models: rule.models?.length ? rule.models.map(globToRegExp) : undefined,
    windows,
    concurrency: rule.concurrency,
    concurrencyOverride: keyWide && rule.concurrency !== undefined,
  };
}

function window(unit: Unit, limit: number | undefined, windowMs: number, override: 'rpm' | 'tpm' | undefined): CompiledWindow {
  // Overridable windows have their own suffix: a plain `requests: N, window: 1m` rule never shares their counter.
  const suffix = override ? `:${override}` : `:${unit === 'requests' ? 'r' : 't'}${windowMs}`;
  return { unit, limit, windowMs, suffix, override };
}

/**
 * Matches the configured raw proxy routes the way the core does, so that `per: route` counts per
 * configured route path (a bounded value), never per client-chosen URL.
 */
export function routeMatcher(paths: readonly string[]): (ctx: Context) => string {
  const matchers = paths.map((path) => {
    const prefix = path.endsWith('/*') ? path.slice(0, -2) : undefined;
    return { path, matches: prefix !== undefined ? (p: string) => p === prefix || p.startsWith(`${prefix}/`) : (p: string) => p === path };
  });
  return (ctx) => (ctx.kind === 'model' ? (ctx.endpoint ?? 'model') : (matchers.find((m) => m.matches(ctx.path))?.path ?? 'proxy'));
}

/** Turns each request into the checks and slots of the compiled rules. */
export class RequestPlanner {
  private readonly planned: PlannedRule[];
  /** Whether any rule counts per model or only for some models (then the request's model is resolved). */
  private readonly byModel: boolean;

  constructor(
    rules: readonly CompiledRule[],
    private readonly routeOf: (ctx: Context) => string,
  ) {
    this.byModel = rules.some((r) => r.models !== undefined || r.dims.includes('model'));
    this.planned = rules.map((rule) => {
      const single = rule.dims.length === 1 ? rule.dims[0] : undefined;
      return {
        rule,
        infos: rule.windows.map((w) => ({ rule, unit: w.unit, windowMs: w.windowMs })),
        byValue: single !== undefined && single !== 'global' ? new Map() : undefined,
        byIp: single === 'key' || single === 'org' ? new Map() : undefined,
        constant: single === 'global' ? ruleKeys(rule, `${rule.prefix}:*`) : undefined,
      };
    });
  }

  /** The checks and slots for one request. `tokenCost` is the reservation for token windows. */
  plan(ctx: Context, tokenCost: number): RequestPlan {
    const plan: RequestPlan = { checks: [], info: [], slots: [] };
    // The resolved model (an alias counts as the model it names), not the id as the client wrote it.
    const model = this.byModel ? ctx.model?.id : undefined;
    const overrides: LimitOverrides | undefined = ctx.auth?.limits;
    for (const planned of this.planned) {
      const rule = planned.rule;
      if (rule.models && (model === undefined || !rule.models.some((m) => m.test(model)))) continue;
      let keys: RuleKeys | undefined;
      for (let i = 0; i < rule.windows.length; i++) {
        const w = rule.windows[i]!;
        const limit = (w.override ? overrides?.[w.override] : undefined) ?? w.limit;
        if (limit === undefined) continue;
        keys ??= this.keysFor(planned, ctx, model);
        // A reservation above the whole limit is capped to it (admitted into an empty window, settled
        // with the real usage), except at limit 0 (an override that blocks the key), which admits nothing.
        const cost = w.unit === 'requests' ? 1 : limit > 0 ? Math.min(tokenCost, limit) : tokenCost;
        plan.checks.push({ key: keys.windows[i]!, limit, windowMs: w.windowMs, cost });
        plan.info.push(planned.infos[i]!);
      }
      const max = (rule.concurrencyOverride ? overrides?.concurrency : undefined) ?? rule.concurrency;
      if (max !== undefined) {
        keys ??= this.keysFor(planned, ctx, model);
        plan.slots.push({ key: keys.slot, max, rule });
      }
    }
    return plan;
  }

  private keysFor(planned: PlannedRule, ctx: Context, model: string | undefined): RuleKeys {
    if (planned.constant) return planned.constant;
    const rule = planned.rule;
    if (!planned.byValue) return ruleKeys(rule, counterKey(ctx, rule, model, this.routeOf));
    const dim = rule.dims[0]!;
    // `key` / `org` without ctx.auth count per client IP: those keys are remembered apart.
    const byIp = planned.byIp && !ctx.auth ? planned.byIp : undefined;
    const raw = byIp ? ctx.clientIp : dim === 'key' ? ctx.auth!.keyId : dim === 'org' ? ctx.auth!.orgId : dimensionValue(ctx, dim, model, this.routeOf);
    const remembered = byIp ?? planned.byValue;
    let keys = remembered.get(raw);
    if (keys === undefined) {
      if (remembered.size >= REMEMBERED_VALUES) remembered.clear();
      keys = ruleKeys(rule, counterKey(ctx, rule, model, this.routeOf));
      remembered.set(raw, keys);
    }
    return keys;
  }
}

function ruleKeys(rule: CompiledRule, key: string): RuleKeys {
  return { windows: rule.windows.map((w) => key + w.suffix), slot: `${key}:c` };
}

function counterKey(ctx: Context, rule: CompiledRule, model: string | undefined, routeOf: (ctx: Context) => string): string {
  let key = rule.prefix;
  for (const dim of rule.dims) key += `:${escapeValue(dimensionValue(ctx, dim, model, routeOf))}`;
  return key;
}

/**
 * Without `ctx.auth` (no auth plugin, or an anonymous route), `key` and `org` fall back to the
 * client IP: never to anything the client chooses, which it could vary to dodge the limit.
 */
function dimensionValue(ctx: Context, dim: Dimension, model: string | undefined, routeOf: (ctx: Context) => string): string {
  switch (dim) {
    case 'key':
      return ctx.auth ? `k.${ctx.auth.keyId}` : `ip.${ctx.clientIp}`;
    case 'org':
      return ctx.auth ? `o.${ctx.auth.orgId}` : `ip.${ctx.clientIp}`;
    case 'model':
      return model ?? '-';
    case 'ip':
      return ctx.clientIp;
    case 'route':
      return routeOf(ctx);
    case 'global':
      return '*';
  }
}

/** `:` separates values and `%` escapes; very long values (a client-chosen model id) are hashed. */
function escapeValue(value: string): string {
  if (value.length > 96) return `#${createHash('sha256').update(value).digest('base64url').slice(0, 22)}`;
  return value.includes(':') || value.includes('%') ? value.replaceAll('%', '%25').replaceAll(':', '%3A') : value;
}
