/**
 * `switchyard audit verify | tail`: the audit admin API from a terminal. Like `switchyard keys`, it
 * calls a running gateway over HTTP and never opens the database itself (an embedded PGlite
 * directory belongs to the one gateway process using it; the chain key is derived from the
 * gateway's secret).
 *
 * `verify` exits 0 when the chain is intact, 1 when a row was edited, deleted or inserted (it names
 * the first bad one) or the gateway cannot be asked, 2 on a usage mistake.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { AdminClient } from '../../core/admin/client.js';
import { argumentProblem } from '../../core/commands.js';
import type { CliCommands } from '../../core/plugin.js';

export const AUDIT_USAGE = `  switchyard audit verify                              check the audit hash chain; exit 1 naming the first bad row
  switchyard audit tail [--follow] [--kind admin|config|request] [--limit N]
                                                       the latest audit events, one JSON line each
    common: --url URL (default $SWITCHYARD_URL or http://127.0.0.1:8080), --admin-key KEY (default $SWITCHYARD_ADMIN_KEY)`;

export interface AuditCliIo {
  env: NodeJS.ProcessEnv;
  out(text: string): void;
  err(text: string): void;
  /** Polling interval of `tail --follow`; tests shorten it. */
  followIntervalMs?: number;
  /** Stops `tail --follow` (Ctrl-C in a terminal). */
  signal?: AbortSignal;
}

const defaultIo: AuditCliIo = { env: process.env, out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

export const auditCommands: CliCommands = {
  names: ['audit'],
  usage: AUDIT_USAGE,
  run: (_command, args) => runAuditCli(args),
};

const OPTIONS = {
  help: { type: 'boolean', short: 'h' }, url: { type: 'string' }, 'admin-key': { type: 'string' },
  follow: { type: 'boolean', short: 'f' }, kind: { type: 'string' }, limit: { type: 'string' },
} as const;

interface Verification {
  ok: boolean;
  rows: number;
  head_seq: string;
  first_bad?: { seq: string; problem: string; detail: string };
}

/** Runs `switchyard audit …`; resolves to the exit code. */
export async function runAuditCli(args: string[], io: AuditCliIo = defaultIo): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    io.err(`switchyard audit: ${argumentProblem(err)}\n${AUDIT_USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const sub = positionals[0];
  if (values.help || (sub !== 'verify' && sub !== 'tail') || positionals.length > 1) {
    (values.help ? io.out : io.err)(`${AUDIT_USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const client = new AdminClient({ command: `audit ${sub}`, url: values.url, adminKey: values['admin-key'], signal: io.signal }, io);
  /** An admin GET; undefined when it failed (said on stderr). */
  const get = async (path: string): Promise<unknown> => {
    const answer = await client.request({ method: 'GET', path });
    return answer.ok ? answer.body : undefined;
  };
  try {
    if (sub === 'verify') {
      const v = (await get('/admin/audit/verify')) as Verification | undefined;
      if (!v) return 1;
      if (v.ok) {
        io.out(`audit chain intact: ${v.rows} rows (head ${v.head_seq})\n`);
        return 0;
      }
      io.out(`audit chain BROKEN at row ${v.first_bad?.seq} (${v.first_bad?.problem}): ${v.first_bad?.detail}\n${v.rows} rows before it verified.\n`);
      return 1;
    }
    return await tail(get, values, io);
  } catch (err) {
    if (io.signal?.aborted) return 0;
    throw err;
  }
}

async function tail(get: (path: string) => Promise<unknown>, values: { follow?: boolean; kind?: string; limit?: string }, io: AuditCliIo): Promise<number> {
  const filter = values.kind ? `&kind=${encodeURIComponent(values.kind)}` : '';
  const limit = values.limit ?? '20';
  const first = (await get(`/admin/audit?limit=${encodeURIComponent(limit)}${filter}`)) as { data: { seq: string }[] } | undefined;
  if (!first) return 1;
  const rows = [...first.data].reverse();
  for (const row of rows) io.out(`${JSON.stringify(row)}\n`);
  let last = rows.length ? rows[rows.length - 1]!.seq : '0';
  while (values.follow && !io.signal?.aborted) {
    await sleep(io.followIntervalMs ?? 1000, undefined, { signal: io.signal }).catch(() => undefined);
    if (io.signal?.aborted) break;
    const page = (await get(`/admin/audit?after_seq=${last}&limit=1000${filter}`)) as { data: { seq: string }[] } | undefined;
    if (!page) return io.signal?.aborted ? 0 : 1;
    for (const row of page.data) io.out(`${JSON.stringify(row)}\n`);
    if (page.data.length) last = page.data[page.data.length - 1]!.seq;
  }
  return 0;
}
