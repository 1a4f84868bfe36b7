/**
 * JSON Schemas of the identity admin routes (request bodies, validated by the admin router, and
 * response bodies, for the OpenAPI document), and the `30d`-style lifetimes they accept.
 */
import { SLUG_PATTERN } from './identity-store.js';

const LIFETIME = /^(\d{1,6})(s|m|h|d|w)$/;
const LIFETIME_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/**
 * `30d` → seconds. Key lifetimes run to days and weeks, past what `parseDuration` (timer durations,
 * capped near 24 days) accepts, hence a parser of their own. Returns undefined when not a lifetime.
 */
export function parseLifetime(text: string): number | undefined {
  const m = LIFETIME.exec(text);
  return m ? Number(m[1]) * LIFETIME_SECONDS[m[2]!]! : undefined;
}

/** What a budget field says about who enforces it (see docs/billing.md#budgets). */
const BUDGET_ENFORCED_BY = 'Enforced by the `billing` plugin with `budgets.enabled` (a 402 `budget_exceeded` past it, a warning header from the soft limit); without it nothing enforces it, and the gateway logs an error at start and at every reload while any key or plan has one.';

const lifetime = (description: string) => ({ type: 'string', pattern: LIFETIME.source, description });
const stringList = (description: string) => ({ type: 'array', items: { type: 'string', minLength: 1, maxLength: 256 }, maxItems: 100, description });
const metadata = { type: 'object', maxProperties: 50, description: 'Free-form JSON kept with the record (team, cost centre…).' };
const timestamp = (description: string) => ({ type: 'string', format: 'date-time', description });
const nullableTimestamp = (description: string) => ({ type: ['string', 'null'], format: 'date-time', description });

const limits = {
  type: 'object',
  additionalProperties: false,
  description: 'Limit overrides; an absent field means no override.',
  properties: {
    rpm: { type: 'integer', minimum: 0, description: 'Requests per minute.' },
    tpm: { type: 'integer', minimum: 0, description: 'Tokens per minute.' },
    concurrency: { type: 'integer', minimum: 0, description: 'Requests in flight at once.' },
    monthly_budget_micros: { type: 'integer', minimum: 0, description: `Most a key may spend per calendar month (UTC), in micro-units of the gateway currency; on a plan, for each key of the plan that sets none. ${BUDGET_ENFORCED_BY}` },
    daily_budget_micros: { type: 'integer', minimum: 0, description: `Most a key may spend per calendar day (UTC), in micro-units; on a plan, for each key of the plan that sets none. ${BUDGET_ENFORCED_BY}` },
  },
};
const scopes = {
  type: 'array',
  items: { enum: ['read', 'write', 'admin'] },
  minItems: 1,
  uniqueItems: true,
  description: '`read` (GET routes), `write` (model calls), `admin` (the admin API).',
};
const planRef = { type: ['string', 'null'], minLength: 1, description: 'Plan id or name; null for none.' };
const orgIps = stringList('CIDRs every key of the organization is limited to; empty = anywhere.');
const keyIps = stringList('CIDRs the key may be used from; empty = anywhere (within the organization\'s list).');
const models = stringList('Model id globs (`gpt-4o*`); empty = whatever the plan allows.');
const referrers = stringList('Referer/Origin host names (`example.com`, `*.example.com`); empty = any.');

export const orgCreateSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['slug', 'name'],
  properties: {
    slug: { type: 'string', pattern: SLUG_PATTERN, description: 'Unique, URL-safe name (`acme`); usable wherever an organization id is.' },
    name: { type: 'string', minLength: 1, maxLength: 200, description: 'Display name.' },
    plan_id: planRef,
    allowed_ips: { ...orgIps, default: [] },
    metadata: { ...metadata, default: {} },
    disabled: { type: 'boolean', default: false, description: 'A disabled organization\'s keys are refused.' },
  },
};

export const orgUpdateSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: orgCreateSchema.properties.name,
    plan_id: planRef,
    allowed_ips: orgIps,
    metadata,
    disabled: { type: 'boolean', description: orgCreateSchema.properties.disabled.description },
  },
};

export const planCreateSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 100, description: 'Unique plan name (`free`, `pro`); usable wherever a plan id is.' },
    allowed_models: { ...stringList('Model id globs the plan may use; empty = all.'), default: [] },
    limits: { ...limits, default: {} },
    metadata: { ...metadata, default: {} },
  },
};

export const planUpdateSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: planCreateSchema.properties.name,
    allowed_models: stringList('Model id globs the plan may use; empty = all.'),
    limits,
    metadata,
  },
};

export const keyCreateSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: { type: 'string', maxLength: 200, default: '', description: 'What the key is for.' },
    scopes: { ...scopes, default: ['read', 'write'] },
    environment: { enum: ['live', 'test'], default: 'live', description: 'Tag shown in the key (`sk-sy-live-…`) and in `ctx.auth`.' },
    expires_at: nullableTimestamp('When the key stops working; null or absent for never. Not with `expires_in`.'),
    expires_in: lifetime('Lifetime from now (`30d`, `12h`, `2w`). Not with `expires_at`.'),
    allowed_models: { ...models, default: [] },
    allowed_ips: { ...keyIps, default: [] },
    allowed_referrers: { ...referrers, default: [] },
    limits: { ...limits, default: {} },
    metadata: { ...metadata, default: {} },
  },
};

export const keyUpdateSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: { type: 'string', maxLength: 200, description: 'What the key is for.' },
    scopes,
    expires_at: nullableTimestamp('When the key stops working; null for never.'),
    allowed_models: models,
    allowed_ips: keyIps,
    allowed_referrers: referrers,
    limits,
    metadata,
  },
};

export const keyRotateSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    grace_period: { ...lifetime('How long the old key keeps working (`0s` ends it now).'), default: '24h' },
  },
};

const common = {
  created_at: timestamp('Creation time.'),
  updated_at: timestamp('Last change.'),
  metadata: { type: 'object' },
};

export const planResponseSchema = {
  type: 'object',
  required: ['object', 'id', 'name', 'allowed_models', 'limits', 'metadata', 'created_at', 'updated_at'],
  properties: { object: { const: 'plan' }, id: { type: 'string' }, name: { type: 'string' }, allowed_models: { type: 'array', items: { type: 'string' } }, limits: { type: 'object' }, ...common },
};

export const orgResponseSchema = {
  type: 'object',
  required: ['object', 'id', 'slug', 'name', 'plan_id', 'allowed_ips', 'metadata', 'disabled', 'created_at', 'updated_at'],
  properties: {
    object: { const: 'organization' }, id: { type: 'string' }, slug: { type: 'string' }, name: { type: 'string' },
    plan_id: { type: ['string', 'null'] }, allowed_ips: { type: 'array', items: { type: 'string' } }, disabled: { type: 'boolean' }, ...common,
  },
};

export const keyResponseSchema = {
  type: 'object',
  required: ['object', 'id', 'org_id', 'name', 'prefix', 'scopes', 'environment', 'expires_at', 'revoked_at', 'created_at', 'last_used_at'],
  properties: {
    object: { const: 'api_key' }, id: { type: 'string' }, org_id: { type: 'string' }, name: { type: 'string' },
    prefix: { type: 'string', description: 'The visible start of the key, to tell keys apart.' },
    scopes: { type: 'array', items: { type: 'string' } }, environment: { enum: ['live', 'test'] },
    expires_at: { type: ['string', 'null'] }, revoked_at: { type: ['string', 'null'] }, last_used_at: { type: ['string', 'null'] },
    allowed_models: { type: 'array', items: { type: 'string' } }, allowed_ips: { type: 'array', items: { type: 'string' } },
    allowed_referrers: { type: 'array', items: { type: 'string' } }, limits: { type: 'object' }, ...common,
  },
};

/** A key as issued: the record plus `key`, the secret, present only in this one response. */
export const issuedKeyResponseSchema = {
  ...keyResponseSchema,
  required: [...keyResponseSchema.required, 'key'],
  properties: {
    ...keyResponseSchema.properties,
    key: { type: 'string', description: 'The API key. Shown only here: store it now.' },
    rotated_from: { type: 'object', properties: { id: { type: 'string' }, expires_at: { type: ['string', 'null'] } }, description: 'On rotation: the old key and when it stops working.' },
  },
};

export function listResponseSchema(item: object): object {
  return {
    type: 'object',
    required: ['object', 'data', 'has_more', 'last_id'],
    properties: {
      object: { const: 'list' },
      data: { type: 'array', items: item },
      has_more: { type: 'boolean', description: 'More records follow: ask again with `after=<last_id>`.' },
      last_id: { type: ['string', 'null'], description: 'Id of the last record in `data`.' },
    },
  };
}

export function deletedResponseSchema(object: string): object {
  return { type: 'object', required: ['object', 'id', 'deleted'], properties: { object: { const: object }, id: { type: 'string' }, deleted: { const: true } } };
}

export const pageQueryParams = [
  { name: 'limit', description: 'Records per page, 1–100 (default 20).', schema: { type: 'integer', minimum: 1, maximum: 100 } },
  { name: 'after', description: 'Cursor: the `last_id` of the previous page.', schema: { type: 'string' } },
];
