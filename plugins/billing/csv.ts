/**
 * CSV (RFC 4180) for the usage summary: `GET /admin/usage?format=csv` and `switchyard usage --csv`
 * write the same text — a header line, then one line per group, CRLF line ends.
 */

/** The summary columns after the group's own column, in order. */
export const USAGE_CSV_COLUMNS = ['requests', 'errors', 'prompt_tokens', 'completion_tokens', 'cached_tokens', 'reasoning_tokens', 'cost_micros', 'unpriced_requests'] as const;

/**
 * One CSV field: quoted when it holds a comma, quote or line break. A field that a spreadsheet
 * would run as a formula (`=`, `+`, `-`, `@` first) is prefixed with `'`: model ids and key ids
 * come from callers, and an export must not become a way to run formulas on an admin's machine.
 */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Rows of a usage summary (`data` of `usage.summary`) as CSV: the `groupBy` column first. */
export function usageCsv(groupBy: string, rows: readonly Record<string, unknown>[]): string {
  const header = [groupBy, ...USAGE_CSV_COLUMNS];
  const lines = [header.join(',')];
  for (const row of rows) lines.push(header.map((column) => csvField(row[column])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}
