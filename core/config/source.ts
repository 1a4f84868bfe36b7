/**
 * A YAML file parsed with positions kept, so every config problem can be reported as
 * `file:line:col: path: message`.
 */
import { parseDocument, LineCounter, isMap, isPair, isScalar, type Document, type Node } from 'yaml';
import { interpolate, maskPlaceholders, unmask } from './interpolate.js';
import { formatPath, type ConfigIssue } from './schema.js';

export interface LocatedIssue extends ConfigIssue {
  file: string;
  line?: number;
  col?: number;
}

export class ConfigLoadError extends Error {
  override readonly name = 'ConfigLoadError';
  constructor(readonly issues: LocatedIssue[]) {
    super(issues.map(formatIssue).join('\n'));
  }
}

export function formatIssue(i: LocatedIssue): string {
  const where = i.line ? `${i.file}:${i.line}:${i.col ?? 1}` : i.file;
  return i.path.length ? `${where}: ${formatPath(i.path)}: ${i.message}` : `${where}: ${i.message}`;
}

/** A parsed YAML file that can say where a JSON path sits in it. */
export class SourceFile {
  constructor(
    readonly file: string,
    readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  /** Issue located at the deepest node of `path` that exists in the file. */
  locate(issue: ConfigIssue): LocatedIssue {
    const offset = this.offsetOf(issue.path);
    if (offset === undefined) return { ...issue, file: this.file };
    const { line, col } = this.lines.linePos(offset);
    return { ...issue, file: this.file, line, col };
  }

  private offsetOf(path: (string | number)[]): number | undefined {
    for (let n = path.length; n >= 0; n--) {
      const parentPath = path.slice(0, Math.max(0, n - 1));
      if (n > 0) {
        const parent = this.doc.getIn(parentPath, true) as Node | undefined;
        const last = path[n - 1];
        if (isMap(parent)) {
          const pair = parent.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(last));
          const key = pair?.key as Node | undefined;
          if (key?.range) return key.range[0];
        }
      }
      const node = (n === 0 ? this.doc.contents : this.doc.getIn(path.slice(0, n), true)) as Node | undefined;
      if (node?.range) return node.range[0];
    }
    return undefined;
  }
}

/** Parses YAML text; syntax errors and missing variables come back as located issues. */
export function parseYaml(file: string, text: string, env: NodeJS.ProcessEnv): { source: SourceFile; value: unknown; issues: LocatedIssue[] } {
  const lines = new LineCounter();
  const masked = maskPlaceholders(text);
  const doc = parseDocument(masked, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const source = new SourceFile(file, doc, lines);
  const issues: LocatedIssue[] = doc.errors.map((e) => {
    const pos = lines.linePos(e.pos[0]);
    return { file, line: pos.line, col: pos.col, path: [], message: `YAML syntax error: ${unmask(e.message.split('\n')[0]!)}` };
  });
  if (issues.length) return { source, value: undefined, issues };
  for (const m of interpolate(doc, masked, env)) {
    const pos = lines.linePos(m.offset);
    issues.push({ file, line: pos.line, col: pos.col, path: [], message: `environment variable ${m.variable} is not set or empty (write \${${m.variable}:-default} to give it a default)` });
  }
  return { source, value: doc.toJS({ maxAliasCount: 100 }), issues };
}
