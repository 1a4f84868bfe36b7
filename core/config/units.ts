/** Human-friendly sizes and durations in YAML (`4mb`, `30s`, `10m`), parsed once at load time. */

const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, k: 1024, mb: 1024 ** 2, m: 1024 ** 2, gb: 1024 ** 3, g: 1024 ** 3 };
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
/**
 * Durations end up in timers, and Node fires a timer longer than 2^31-1 ms (about 24.8 days) after
 * 1 ms; a timeout that large would fail every request, so it is not a duration at all.
 */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/** `4mb` → 4194304; a bare number is bytes. Returns undefined when the text is not a size. */
export function parseBytes(value: string | number): number | undefined {
  const bytes = typeof value === 'number' ? value : sizeOf(value);
  return bytes !== undefined && Number.isFinite(bytes) && bytes >= 0 && bytes <= Number.MAX_SAFE_INTEGER ? Math.floor(bytes) : undefined;
}

function sizeOf(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = SIZE_UNITS[(m?.[2] || 'b').toLowerCase()];
  return m && unit ? Number(m[1]) * unit : undefined;
}

/** `30s` → 30000, `1.5m` → 90000; a bare number is milliseconds. Returns undefined when not a duration. */
export function parseDuration(value: string | number): number | undefined {
  const ms = typeof value === 'number' ? value : durationOf(value);
  return ms !== undefined && Number.isFinite(ms) && ms >= 0 && ms <= MAX_DURATION_MS ? ms : undefined;
}

function durationOf(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i.exec(text);
  const unit = DURATION_UNITS[(m?.[2] || 'ms').toLowerCase()];
  return m && unit ? Number(m[1]) * unit : undefined;
}
