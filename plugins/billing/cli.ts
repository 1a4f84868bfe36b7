/**
 * `switchyard credits …` (balances, top-ups, adjustments, the ledger and organization budgets) and
 * `switchyard usage …` (the usage summary, as JSON or CSV) from a terminal, through a running
 * gateway's admin API (like `switchyard keys`: the same routes, validation and errors; it never
 * opens the database itself). A top-up or adjustment without
 * `--idempotency-key` gets a fresh one, printed to stderr: run the same command again with it to
 * retry safely.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { AdminClient, parseCommandLine, processIo as defaultIo, UsageError, type AdminCall, type CliIo } from '../../core/admin/client.js';
import type { CliCommands } from '../../core/plugin.js';
import { usageCsv } from './csv.js';

export const CREDITS_USAGE = `  switchyard credits balance ORG                                      balance, reserved, budgets, spend today and this month
  switchyard credits top-up ORG --amount-micros N [--idempotency-key K] [--note TEXT]
  switchyard credits adjust ORG --amount-micros=-N [--idempotency-key K] [--note TEXT]   signed; refused below zero
  switchyard credits ledger ORG [--limit N] [--before ENTRY_ID]
  switchyard credits budget ORG [--daily-micros N|none] [--monthly-micros N|none]
    amounts are micro-units of the gateway currency (1 USD = 1000000); ORG is an organization id or slug
    common: --url URL (default $SWITCHYARD_URL or http://127.0.0.1:8080), --admin-key KEY (default $SWITCHYARD_ADMIN_KEY)`;

export type { CliIo };

const OPTIONS = {
  help: { type: 'boolean', short: 'h' }, url: { type: 'string' }, 'admin-key': { type: 'string' },
  'amount-micros': { type: 'string' }, 'idempotency-key': { type: 'string' }, note: { type: 'string' },
  limit: { type: 'string' }, before: { type: 'string' }, 'daily-micros': { type: 'string' }, 'monthly-micros': { type: 'string' },
} as const;

export const USAGE_USAGE = `  switchyard usage [--org ORG] [--key KEY_ID] [--since DATE] [--until DATE] [--by day|model|key] [--csv]
    usage and cost summed by UTC day (default), model or key; DATE: 2026-12-01 (midnight UTC) or an ISO date-time;
    --since defaults to 30 days before --until (default now); --csv prints a header line and one line per group`;

export const billingCommands: CliCommands = {
  names: ['credits', 'usage'],
  usage: `${CREDITS_USAGE}\n${USAGE_USAGE}`,
  run: (command, args) => (command === 'usage' ? runUsageCli(args) : runCreditsCli(args)),
};

const USAGE_OPTIONS = {
  help: { type: 'boolean', short: 'h' }, url: { type: 'string' }, 'admin-key': { type: 'string' },
  org: { type: 'string' }, key: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' }, by: { type: 'string' }, csv: { type: 'boolean' },
} as const;

/**
 * Runs `switchyard usage …` through `GET /admin/usage` (the same sums, validation and errors);
 * `--csv` prints the summary's groups as `GET /admin/usage?format=csv` does. Resolves to the exit
 * code (0 ok, 1 failed, 2 usage).
 */
export async function runUsageCli(args: string[], io: CliIo = defaultIo): Promise<number> {
  let values: ReturnType<typeof parseArgs<{ options: typeof USAGE_OPTIONS; allowPositionals: true }>>['values'];
  try {
    let positionals: string[];
    ({ values, positionals } = parseCommandLine(args, USAGE_OPTIONS));
    if (values.help) {
      io.out(`Usage:\n${USAGE_USAGE}\n`);
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    if (values.by !== undefined && !['day', 'model', 'key'].includes(values.by)) throw new UsageError('--by must be day, model or key');
    for (const flag of ['since', 'until'] as const) {
      const text = values[flag];
      if (text !== undefined && !/^\d{4}-\d{2}-\d{2}(T.+)?$/.test(text)) throw new UsageError(`--${flag} must be a date (2026-12-01) or an ISO date-time`);
    }
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`switchyard usage: ${err.message} (see \`switchyard usage --help\`)\n`);
    return 2;
  }
  const q = new URLSearchParams();
  if (values.org !== undefined) q.set('org', values.org);
  if (values.key !== undefined) q.set('key', values.key);
  if (values.since !== undefined) q.set('start', values.since);
  if (values.until !== undefined) q.set('end', values.until);
  if (values.by !== undefined) q.set('group_by', values.by);
  const client = new AdminClient({ command: 'usage', url: values.url, adminKey: values['admin-key'] }, io);
  if (!client.hasCredential()) return 2;
  const qs = q.toString();
  const answer = await client.request({ method: 'GET', path: `/admin/usage${qs ? `?${qs}` : ''}` });
  if (!answer.ok) return 1;
  const body = answer.body;
  if (values.csv) io.out(usageCsv(String(body['group_by']), (body['data'] ?? []) as Record<string, unknown>[]));
  else io.out(`${JSON.stringify(body, null, 2)}\n`);
  return 0;
}

/** Runs `switchyard credits …`; resolves to the exit code (0 ok, 1 failed, 2 usage). */
export async function runCreditsCli(args: string[], io: CliIo = defaultIo): Promise<number> {
  let call: AdminCall;
  let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];
  try {
    let positionals: string[];
    ({ values, positionals } = parseCommandLine(args, OPTIONS));
    if (values.help) {
      io.out(`Usage:\n${CREDITS_USAGE}\n`);
      return 0;
    }
    call = buildCall(positionals, values, io);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`switchyard credits: ${err.message} (see \`switchyard credits --help\`)\n`);
    return 2;
  }
  const client = new AdminClient({ command: 'credits', url: values.url, adminKey: values['admin-key'] }, io);
  if (!client.hasCredential()) return 2;
  const answer = await client.request(call);
  if (!answer.ok) return 1;
  const body = answer.body;
  io.out(`${JSON.stringify(body, null, 2)}\n`);
  if (body['replayed'] === true) io.err('note: this idempotency key was used before; nothing changed (the earlier entry is shown).\n');
  return 0;
}

function buildCall(positionals: string[], v: Record<string, string | boolean | undefined>, io: CliIo): AdminCall {
  const [action, org, ...extra] = positionals;
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
  if (!action) throw new UsageError('missing action');
  if (!org) throw new UsageError(`credits ${action} needs an organization id or slug`);
  const base = `/admin/credits/${encodeURIComponent(org)}`;
  switch (action) {
    case 'balance':
      return { method: 'GET', path: base };
    case 'top-up':
    case 'adjust': {
      const amount = whole(v['amount-micros'] as string | undefined, 'amount-micros', action === 'adjust');
      if (amount === undefined) throw new UsageError(`credits ${action} needs --amount-micros`);
      let key = v['idempotency-key'] as string | undefined;
      if (key === undefined) {
        key = randomUUID();
        io.err(`idempotency key: ${key} (pass --idempotency-key ${key} to retry this exact change safely)\n`);
      }
      const body: Record<string, unknown> = { amount_micros: amount, idempotency_key: key };
      if (typeof v['note'] === 'string') body['note'] = v['note'];
      return { method: 'POST', path: `${base}/${action === 'top-up' ? 'top-ups' : 'adjustments'}`, body };
    }
    case 'ledger': {
      const q = new URLSearchParams();
      if (typeof v['limit'] === 'string') q.set('limit', v['limit']);
      if (typeof v['before'] === 'string') q.set('before', v['before']);
      const qs = q.toString();
      return { method: 'GET', path: `${base}/ledger${qs ? `?${qs}` : ''}` };
    }
    case 'budget': {
      const limit = (flag: 'daily-micros' | 'monthly-micros') => {
        const text = v[flag] as string | undefined;
        return text === 'none' ? null : whole(text, flag, false);
      };
      const body: Record<string, unknown> = {};
      const daily = limit('daily-micros');
      const monthly = limit('monthly-micros');
      if (daily !== undefined) body['daily_budget_micros'] = daily;
      if (monthly !== undefined) body['monthly_budget_micros'] = monthly;
      if (Object.keys(body).length === 0) return { method: 'GET', path: base };
      return { method: 'PATCH', path: `${base}/budgets`, body };
    }
  }
  throw new UsageError(`unknown action '${action}'`);
}

function whole(text: string | undefined, flag: string, signed: boolean): number | undefined {
  if (text === undefined) return undefined;
  if (!(signed ? /^-?\d{1,18}$/ : /^\d{1,18}$/).test(text)) throw new UsageError(`--${flag} must be a whole number${signed ? ' (negative: --' + flag + '=-N)' : ''}`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new UsageError(`--${flag} is too large`);
  return n;
}
