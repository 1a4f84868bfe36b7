/**
 * `${VAR}` and `${VAR:-default}` in YAML string values, resolved from the environment after parsing
 * (so a value can never inject YAML structure, and positions still point into the file). `$${X}`
 * stands for a literal `${X}`. A missing variable without a default is an error naming it.
 *
 * Unquoted `{ api_key: ${KEY} }` is not valid YAML (`{` and `}` are flow indicators), yet it is the
 * natural way to write it. So before parsing, the `$`, `{` and `}` of each placeholder are swapped
 * for private-use characters of the same length (`maskPlaceholders`): the parser sees one plain
 * scalar, every offset stays where it was, and `interpolate` swaps them back.
 */
import { visit, type Document } from 'yaml';

const DOLLAR = '\uE000';
const OPEN = '\uE001';
const CLOSE = '\uE002';
const PLACEHOLDER = /\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)((?::-[^}\n]*)?)\}/g;
const MASKED = /[\uE000-\uE002]/g;
const HAS_MASKED = /[\uE000-\uE002]/;
const UNMASK: Record<string, string> = { [DOLLAR]: '$', [OPEN]: '{', [CLOSE]: '}' };

export interface InterpolationIssue {
  variable: string;
  /** Offset of the placeholder in the source text. */
  offset: number;
}

/** Hides placeholders from the YAML parser; same length as `text`, so offsets are unchanged. */
export function maskPlaceholders(text: string): string {
  return text.replace(PLACEHOLDER, (_whole, escape: string, name: string, fallback: string) => `${escape ? DOLLAR : ''}${DOLLAR}${OPEN}${name}${fallback}${CLOSE}`);
}

/** Undoes `maskPlaceholders` in a piece of parsed text (a scalar, an error message). */
export function unmask(text: string): string {
  return text.replace(MASKED, (c) => UNMASK[c]!);
}

/**
 * Replaces placeholders in every scalar value of `doc` (parsed from `maskPlaceholders(text)`), in
 * place; restores keys without interpolating them; returns the missing variables.
 */
export function interpolate(doc: Document, masked: string, env: NodeJS.ProcessEnv): InterpolationIssue[] {
  const missing: InterpolationIssue[] = [];
  visit(doc, {
    Scalar(key, node) {
      if (typeof node.value !== 'string' || !HAS_MASKED.test(node.value)) return;
      const raw = unmask(node.value);
      if (key === 'key') {
        node.value = raw;
        return;
      }
      const [start, end] = node.range ?? [0, 0];
      let from = start;
      node.value = interpolateString(raw, env, (variable) => {
        const at = findPlaceholder(masked, variable, from, end);
        from = at === undefined ? from : at + 1;
        missing.push({ variable, offset: at ?? start });
      });
    },
  });
  return missing;
}

/** Offset of the unescaped placeholder for `name` in `masked[from, end)`, if it is there. */
function findPlaceholder(masked: string, name: string, from: number, end: number): number | undefined {
  const needle = `${DOLLAR}${OPEN}${name}`;
  for (let at = masked.indexOf(needle, from); at !== -1 && at < end; at = masked.indexOf(needle, at + 1)) {
    if (masked[at - 1] !== DOLLAR) return at;
  }
  return undefined;
}

const WHOLE_PLACEHOLDER = /^(["']?)\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-[^}\n]*)?\}\1$/;

/**
 * The variable that a scalar's source text (`${DIR}`, `"${DIR:-./data}"`) consists of alone, when
 * that variable is set: the value then came from the environment, not from the file.
 */
export function wholeVariable(source: string, env: NodeJS.ProcessEnv): string | undefined {
  const name = WHOLE_PLACEHOLDER.exec(source.trim())?.[2];
  return name !== undefined && env[name] !== undefined && env[name] !== '' ? name : undefined;
}

/** Resolves the placeholders in one string; an unset or empty variable falls back to its default. */
export function interpolateString(text: string, env: NodeJS.ProcessEnv, onMissing: (name: string) => void): string {
  return text.replace(PLACEHOLDER, (whole: string, escape: string, name: string, fallback: string) => {
    if (escape) return whole.slice(1);
    const value = env[name];
    if (value !== undefined && value !== '') return value;
    if (fallback) return fallback.slice(2);
    onMissing(name);
    return '';
  });
}
