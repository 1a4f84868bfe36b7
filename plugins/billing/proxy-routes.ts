/**
 * Raw proxy routes (`routes:`) under billing: each route's price (billing `routes`), compiled once
 * per config version, and the load-time rules that leave no route outside credits and budgets.
 *
 * Why an unpriced route is a load error and not free by default: a default of free would reopen,
 * silently, the very way around a budget this closes; `{ free: true }` is one line to write.
 */
import { ConfigError, type ConfigIssue } from '../../core/config/schema.js';
import { parseBytes } from '../../core/config/units.js';
import type { GatewayConfig, PipelineEntry } from '../../core/config/types.js';
import type { BillingConfig } from '../../schemas/types/plugins/billing.js';
import { PRICE_SCALE } from './prices.js';

/** One route's price: micro-units, and micro-units × `PRICE_SCALE` per byte. */
export interface RoutePrice {
  /** The route's `path` as written, for logs and the usage row. */
  readonly path: string;
  readonly free: boolean;
  readonly flat: bigint;
  readonly perByte: bigint;
  /** The response size reserved for; undefined when no bound was configured (only allowed without credits). */
  readonly maxBytes: number | undefined;
}

interface Matcher {
  matches(path: string): boolean;
  price: RoutePrice | undefined;
}

export class RoutePrices {
  private readonly matchers: Matcher[];

  /**
   * Compiles the prices and checks the routes: throws a ConfigError naming every price no route
   * would apply (no such route, or its pipeline lacks `billing`), every route that would escape
   * billing when `enforcing` (credits or budgets), and every price without a bound when `credits`
   * (nothing could be reserved for it).
   */
  constructor(config: BillingConfig, routes: GatewayConfig['routes'], enforcing: boolean, credits: boolean) {
    const issues: ConfigIssue[] = [];
    const paths = new Set(routes.map((r) => r.path));
    for (const path of Object.keys(config.routes)) {
      if (!paths.has(path)) issues.push({ path: ['routes', path], message: `no raw proxy route has the path '${path}' (\`routes:\` has ${[...paths].map((p) => `'${p}'`).join(', ') || 'none'})` });
    }
    this.matchers = routes.map((route, i) => {
      const given = config.routes[route.path];
      const price = given === undefined ? undefined : compileRoutePrice(route.path, given, credits, issues);
      if (enforcing && price === undefined) {
        issues.push({
          path: ['$', 'routes', i],
          message: `raw proxy route '${route.path}' has no price while billing enforces credits or budgets, so it could be used to spend past them: price it in billing \`routes\` (\`'${route.path}': { per_request_micros: … }\`) or mark it \`{ free: true }\``,
        });
      } else if (price !== undefined && !price.free) {
        const names = route.pipeline.map(entryName);
        const billing = names.indexOf('billing');
        if (billing === -1) {
          issues.push({ path: ['$', 'routes', i, 'pipeline'], message: `raw proxy route '${route.path}' is priced, so its pipeline must list \`billing\` (after \`auth\`), or its requests would never be charged` });
        } else if (enforcing && !names.slice(0, billing).some((name) => name === 'auth' || name === 'use')) {
          issues.push({ path: ['$', 'routes', i, 'pipeline'], message: `raw proxy route '${route.path}' charges an organization: put \`auth\` (or a plugin that identifies the caller) before \`billing\` in its pipeline` });
        }
      }
      const prefix = route.path.endsWith('/*') ? route.path.slice(0, -2) : undefined;
      // The same rule as core/pipeline.ts's ProxyRoute.matches, so a request is priced as the route that served it.
      const matches = prefix !== undefined ? (p: string) => p === prefix || p.startsWith(`${prefix}/`) : (p: string) => p === route.path;
      return { matches, price };
    });
    if (issues.length) throw new ConfigError(issues);
  }

  /** The price of the route serving `path` (the first that matches, as the server picks it). */
  of(path: string): RoutePrice | undefined {
    for (const m of this.matchers) if (m.matches(path)) return m.price;
    return undefined;
  }
}

/** The most a request to the route can cost (micro-units, rounded up); undefined when unbounded. */
export function routeWorstCase(price: RoutePrice): bigint | undefined {
  if (price.free) return 0n;
  if (price.perByte === 0n) return price.flat;
  if (price.maxBytes === undefined) return undefined;
  return price.flat + (BigInt(price.maxBytes) * price.perByte + PRICE_SCALE - 1n) / PRICE_SCALE;
}

/** What a request that got `bytesOut` bytes of response costs (rounded halves up). */
export function routeCost(price: RoutePrice, bytesOut: number): bigint {
  if (price.free) return 0n;
  return price.flat + (BigInt(Math.max(0, Math.round(bytesOut))) * price.perByte + PRICE_SCALE / 2n) / PRICE_SCALE;
}

function compileRoutePrice(path: string, given: BillingConfig['routes'][string], credits: boolean, issues: ConfigIssue[]): RoutePrice {
  if (given.free) return { path, free: true, flat: 0n, perByte: 0n, maxBytes: undefined };
  const maxBytes = given.max_response_bytes === undefined ? undefined : parseBytes(given.max_response_bytes);
  const perByte = BigInt(Math.round(given.per_byte_micros * Number(PRICE_SCALE)));
  if (credits && perByte > 0n && maxBytes === undefined) {
    issues.push({
      path: ['routes', path, 'max_response_bytes'],
      message: `route '${path}' is priced per byte with no \`max_response_bytes\`: its cost has no bound, so no credit could be reserved for it (cost_unbounded)`,
    });
  }
  return { path, free: false, flat: BigInt(given.per_request_micros), perByte, maxBytes };
}

/** A pipeline entry's plugin name; `use` for a plugin loaded from a file. */
function entryName(entry: PipelineEntry): string {
  if (typeof entry === 'string') return entry;
  if ('use' in entry) return 'use';
  return Object.keys(entry)[0] ?? '';
}
