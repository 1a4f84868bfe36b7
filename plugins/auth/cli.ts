/**
 * `switchyard keys|orgs|plans …`: the identity admin API from a terminal. It calls a running
 * gateway over HTTP — the same routes, validation and errors as any admin client — and never opens
 * the database itself (an embedded PGlite directory belongs to the one gateway process using it).
 * A gateway that refuses connections may still be starting (`npm start &` just before), so a
 * command waits for it a little (`--wait`, default 10s) and says so.
 */
import { parseArgs } from 'node:util';
import { AdminClient, parseCommandLine, processIo as defaultIo, UsageError, type AdminCall, type CliIo } from '../../core/admin/client.js';
import { parseDuration } from '../../core/config/units.js';
import type { CliCommands } from '../../core/plugin.js';

export const IDENTITY_COMMANDS = ['keys', 'orgs', 'plans'] as const;
export type IdentityCommand = (typeof IDENTITY_COMMANDS)[number];

export const IDENTITY_USAGE = `  switchyard keys create --org ORG [--scopes read,write,admin] [--name N] [--env live|test] [--expires-in 30d]
                        [--allowed-models a,b] [--allowed-ips CIDR,…] [--budget-micros N]   issue a key (printed once)
  switchyard keys list [--org ORG] | get ID | revoke ID | rotate ID [--grace 24h]
  switchyard orgs create --slug SLUG --name NAME [--plan PLAN] | list | get ORG | delete ORG
  switchyard orgs update ORG [--name N] [--plan PLAN|none] [--disable|--enable]
  switchyard plans create --name NAME [--models a,b] [--rpm N] [--tpm N] [--budget-micros N] | list | get PLAN | delete PLAN
    --budget-micros: each key's monthly budget (UTC month, micro-units); enforced only by \`billing\` with \`budgets.enabled\`
    common: --url URL (default $SWITCHYARD_URL or http://127.0.0.1:8080), --admin-key KEY (default $SWITCHYARD_ADMIN_KEY),
            --wait 10s (how long to wait for a gateway that is starting; 0: not at all),
            --table (compact table instead of JSON), --limit N, --after ID`;

/** `keys`, `orgs` and `plans`, as `auth` declares them (`commands:`). */
export const identityCommands: CliCommands = {
  names: IDENTITY_COMMANDS,
  usage: IDENTITY_USAGE,
  run: (command, args) => runIdentityCli(command as IdentityCommand, args),
};

/** How long a command waits by default for a gateway that refuses connections (one that is starting). */
const DEFAULT_WAIT = '10s';

export type { CliIo };

const OPTIONS = {
  help: { type: 'boolean', short: 'h' }, url: { type: 'string' }, 'admin-key': { type: 'string' }, wait: { type: 'string' }, table: { type: 'boolean' },
  limit: { type: 'string' }, after: { type: 'string' },
  org: { type: 'string' }, scopes: { type: 'string' }, name: { type: 'string' }, env: { type: 'string' }, 'expires-in': { type: 'string' },
  'allowed-models': { type: 'string' }, 'allowed-ips': { type: 'string' }, grace: { type: 'string' },
  slug: { type: 'string' }, plan: { type: 'string' }, disable: { type: 'boolean' }, enable: { type: 'boolean' },
  models: { type: 'string' }, rpm: { type: 'string' }, tpm: { type: 'string' }, 'budget-micros': { type: 'string' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/** A request to the admin API, or a usage problem to report. */
interface IdentityCall extends AdminCall {
  /** The response carries a new key secret. */
  issuesKey?: boolean;
}

/** Runs one identity command; resolves to the process exit code (0 ok, 1 failed, 2 usage). */
export async function runIdentityCli(command: IdentityCommand, args: string[], io: CliIo = defaultIo): Promise<number> {
  let values: Values;
  let positionals: string[];
  let call: IdentityCall;
  let waitMs: number;
  try {
    ({ values, positionals } = parseCommandLine(args, OPTIONS));
    if (values.help) {
      io.out(`Usage:\n${IDENTITY_USAGE}\n`);
      return 0;
    }
    call = buildCall(command, positionals, values);
    waitMs = parseDuration(values.wait ?? DEFAULT_WAIT) ?? NaN;
    if (Number.isNaN(waitMs)) throw new UsageError('--wait must be a duration such as 10s, 500ms or 0');
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`switchyard ${command}: ${err.message} (see \`switchyard ${command} --help\`)\n`);
    return 2;
  }
  const client = new AdminClient({ command, url: values.url, adminKey: values['admin-key'], waitMs, waitLabel: values.wait ?? DEFAULT_WAIT }, io);
  if (!client.hasCredential()) return 2;
  const answer = await client.request(call);
  if (!answer.ok) return 1;
  const body = answer.body;
  io.out(values.table ? renderTable(body) : `${JSON.stringify(body, null, 2)}\n`);
  if (call.issuesKey) io.err('warning: the key above is shown only this once; store it now (the gateway keeps only a hash).\n');
  if (values['budget-micros'] !== undefined) io.err('warning: budgets are enforced only when the billing plugin runs with `budgets.enabled`; otherwise the gateway logs an error and nothing is enforced.\n');
  return 0;
}

function buildCall(command: IdentityCommand, positionals: string[], v: Values): IdentityCall {
  const [action, id, ...extra] = positionals;
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
  const needId = (what: string): string => {
    if (!id) throw new UsageError(`${command} ${action} needs ${what}`);
    return encodeURIComponent(id);
  };
  const page = pageQuery(v);
  if (command === 'keys') {
    switch (action) {
      case 'create': {
        if (!v.org) throw new UsageError('keys create needs --org');
        const body = compact({ name: v.name, scopes: list(v.scopes), environment: v.env, expires_in: v['expires-in'], allowed_models: list(v['allowed-models']), allowed_ips: list(v['allowed-ips']), limits: compact({ monthly_budget_micros: integer(v['budget-micros'], 'budget-micros') }) });
        return { method: 'POST', path: `/admin/organizations/${encodeURIComponent(v.org)}/keys`, body, issuesKey: true };
      }
      case 'list': return { method: 'GET', path: `/admin/keys${query({ ...page, org: v.org })}` };
      case 'get': return { method: 'GET', path: `/admin/keys/${needId('a key id')}` };
      case 'revoke': return { method: 'POST', path: `/admin/keys/${needId('a key id')}/revoke`, body: {} };
      case 'rotate': return { method: 'POST', path: `/admin/keys/${needId('a key id')}/rotate`, body: compact({ grace_period: v.grace }), issuesKey: true };
    }
  } else if (command === 'orgs') {
    switch (action) {
      case 'create':
        if (!v.slug || !v.name) throw new UsageError('orgs create needs --slug and --name');
        return { method: 'POST', path: '/admin/organizations', body: compact({ slug: v.slug, name: v.name, plan_id: v.plan }) };
      case 'list': return { method: 'GET', path: `/admin/organizations${query(page)}` };
      case 'get': return { method: 'GET', path: `/admin/organizations/${needId('an organization id or slug')}` };
      case 'delete': return { method: 'DELETE', path: `/admin/organizations/${needId('an organization id or slug')}` };
      case 'update': {
        if (v.disable && v.enable) throw new UsageError('--disable and --enable together');
        const plan = v.plan === 'none' ? null : v.plan;
        const body = compact({ name: v.name, plan_id: plan, disabled: v.disable ? true : v.enable ? false : undefined });
        return { method: 'PATCH', path: `/admin/organizations/${needId('an organization id or slug')}`, body };
      }
    }
  } else {
    switch (action) {
      case 'create': {
        if (!v.name) throw new UsageError('plans create needs --name');
        const limits = compact({ rpm: integer(v.rpm, 'rpm'), tpm: integer(v.tpm, 'tpm'), monthly_budget_micros: integer(v['budget-micros'], 'budget-micros') });
        return { method: 'POST', path: '/admin/plans', body: compact({ name: v.name, allowed_models: list(v.models), limits }) };
      }
      case 'list': return { method: 'GET', path: `/admin/plans${query(page)}` };
      case 'get': return { method: 'GET', path: `/admin/plans/${needId('a plan id or name')}` };
      case 'delete': return { method: 'DELETE', path: `/admin/plans/${needId('a plan id or name')}` };
    }
  }
  throw new UsageError(action ? `unknown action '${action}'` : 'missing action');
}

function pageQuery(v: Values): Record<string, string | undefined> {
  return { limit: v.limit, after: v.after };
}

function query(params: Record<string, string | undefined>): string {
  const q = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined));
  const s = q.toString();
  return s ? `?${s}` : '';
}

function list(text: string | undefined): string[] | undefined {
  return text === undefined ? undefined : text.split(',').map((s) => s.trim()).filter(Boolean);
}

function integer(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new UsageError(`--${flag} must be a whole number`);
  return Number(text);
}

/** Drops undefined fields (and empty objects), so the server applies its own defaults. */
function compact(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined && !(isPlainObject(value) && Object.keys(value).length === 0)));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Columns shown by `--table`, in order; the ones a record lacks are skipped. */
const TABLE_COLUMNS = ['id', 'slug', 'name', 'prefix', 'org_id', 'plan_id', 'scopes', 'environment', 'disabled', 'expires_at', 'revoked_at', 'last_used_at', 'key'];

function renderTable(body: Record<string, unknown>): string {
  const rows = (body['object'] === 'list' ? body['data'] : [body]) as Record<string, unknown>[];
  const columns = TABLE_COLUMNS.filter((c) => rows.some((r) => c in r));
  const cells = rows.map((r) => columns.map((c) => cell(r[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]) => values.map((s, i) => s.padEnd(widths[i]!)).join('  ').trimEnd();
  const more = body['has_more'] === true ? `(more: --after ${String(body['last_id'])})\n` : '';
  return `${[line(columns), ...cells.map(line)].join('\n')}\n${more}`;
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (Array.isArray(value)) return value.join(',');
  return String(value);
}
