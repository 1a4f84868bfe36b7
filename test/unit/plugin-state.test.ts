/**
 * Plugins keep no mutable state at module level: state that outlives a request lives in the
 * instance (a config version) or in the plugin's process state (`process.create`), where reloads,
 * shutdown and tests can see and close it. A top-level `let`/`var`, or a top-level `Map`/`WeakMap`
 * (a cache in disguise) not typed read-only (`ReadonlyMap`, or the plugin registry's type), fails
 * this test.
 */
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** A declaration of module-level mutable state. */
function mutable(line: string): boolean {
  if (/^(export\s+)?(let|var)\s/.test(line)) return true;
  const map = /^(export\s+)?const\s+\w+(\s*:\s*([^=]+))?\s*=\s*new\s+(Map|WeakMap)\b/.exec(line);
  return map !== null && !/^(ReadonlyMap<|PluginRegistry\b)/.test(map[3]?.trim() ?? '');
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

t.test('no plugin module holds mutable state at its top level', async (t) => {
  const files = sources(join(root, 'plugins'));
  t.ok(files.length > 20, 'the plugin sources were found');
  const offenders: string[] = [];
  for (const file of files) {
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (mutable(line)) offenders.push(`${relative(root, file)}:${i + 1}: ${line.trim()}`);
      });
  }
  t.same(offenders, [], 'module-level mutable state goes into the instance or the process state');
});

t.test('the check recognises what it forbids', async (t) => {
  const forbidden = ['let worker: Worker | undefined;', 'export let count = 0;', 'var x = 1;', 'const pending = new Map<number, string>();', 'const cache: Map<string, string> = new Map();'];
  for (const line of forbidden) t.ok(mutable(line), line);
  t.notOk(mutable('export const adapters: ReadonlyMap<string, X> = new Map<string, X>(['), 'a read-only registry is allowed');
});
