/**
 * `${VAR}` and `${VAR:-default}` in YAML string values, resolved from the environment after parsing
 * (so a value can never inject YAML structure, and positions still point into the file). `$${X}`
 * stands for a literal `${X}`. A missing variable without a default is an error naming it.
 */
import { visit, isScalar, type Document, type LineCounter } from 'yaml';

const PATTERN = /\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export interface InterpolationIssue {
  variable: string;
  offset: number;
}

/** Replaces placeholders in every scalar value of `doc`, in place; returns the missing variables. */
export function interpolate(doc: Document, env: NodeJS.ProcessEnv): InterpolationIssue[] {
  const missing: InterpolationIssue[] = [];
  visit(doc, {
    Scalar(key, node) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('${')) return;
      node.value = interpolateString(node.value, env, (variable) =>
        missing.push({ variable, offset: node.range?.[0] ?? 0 }),
      );
    },
  });
  return missing;
}

export function interpolateString(text: string, env: NodeJS.ProcessEnv, onMissing: (name: string) => void): string {
  return text.replace(PATTERN, (whole, escape: string, name: string, fallback: string | undefined) => {
    if (escape) return whole.slice(1);
    const value = env[name];
    if (value !== undefined && value !== '') return value;
    if (fallback !== undefined) return fallback;
    onMissing(name);
    return '';
  });
}

/** `line:col` (1-based) of an offset in the source. */
export function position(lineCounter: LineCounter, offset: number): { line: number; col: number } {
  return lineCounter.linePos(offset);
}

export { isScalar };
