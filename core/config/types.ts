/**
 * The validated configuration, as `schemas/gateway.schema.json` describes it (defaults applied).
 * The types are generated from the schema (`npm run types`); these are names for its parts. Sizes
 * and durations are still the user's strings here; `resolveServerSettings` turns them into numbers.
 */
import type { GatewayConfig } from '../../schemas/types/gateway.js';

export type { GatewayConfig };

/** A pipeline entry: `- name`, `- name: {config}`, or `- use: ./module.ts` with `config:`. */
export type PipelineEntry = GatewayConfig['pipeline'][number];

/** `models.<id>`: where requests for a model id go. */
export type ModelConfig = GatewayConfig['models'][string];

/** `models.<id>.targets[]`. */
export type TargetConfig = ModelConfig['targets'][number];

/** `providers.<name>`: the adapter, the common fields, and the adapter's own settings. */
export type ProviderConfig = GatewayConfig['providers'][string];

/** `routes[]`: a raw reverse-proxy route. */
export type RawRouteConfig = GatewayConfig['routes'][number];
