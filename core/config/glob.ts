/** Globs in config (`gpt-4o*`, `anthropic/*`, `/internal/*`): `*` matches any run of characters, everything else is literal. */

export function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map(escapeRegExp).join('.*')}$`, 's');
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}
