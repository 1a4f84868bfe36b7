/**
 * The configuration examples in the docs are real configs: every ```yaml block that starts with
 * `version: 1` in README.md or in docs/**\/*.md must pass `switchyard validate`, so the docs cannot
 * drift from the schemas — also when an example moves from the README to a docs page.
 */
import t from 'tap';
import { readFile, readdir, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validate } from '../../core/commands.js';
import { builtinPlugins } from '../../plugins/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** The full configs (```yaml blocks starting with `version: 1`) in one Markdown text. */
function fullConfigs(markdown: string): string[] {
  return [...markdown.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => b.startsWith('version: 1'));
}

/** README.md and every Markdown file under docs/, relative to the package root. */
async function markdownFiles(): Promise<string[]> {
  const docs = await readdir(join(root, 'docs'), { recursive: true }).catch(() => [] as string[]);
  return ['README.md', ...docs.filter((f) => f.endsWith('.md')).map((f) => join('docs', f))].sort();
}

t.test('finds the full configs in a Markdown text, and only those', async (t) => {
  const md = ['```yaml', 'version: 1', 'pipeline: [route]', '```', '```yaml', 'pipeline: [route]', '```', '```sh', 'version: 1', '```'].join('\n');
  t.same(fullConfigs(md), ['version: 1\npipeline: [route]\n']);
});

t.test('every full config in README.md and docs/ validates', async (t) => {
  const files = await markdownFiles();
  const blocks = (await Promise.all(files.map(async (file) => fullConfigs(await readFile(join(root, file), 'utf8')).map((block, i) => ({ file, i, block }))))).flat();
  t.ok(blocks.some((b) => b.file === 'README.md'), 'README has at least one full config');
  t.ok(blocks.some((b) => b.file.startsWith('docs')), 'docs/ has at least one full config');
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-readme-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const key of ['OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'CI_KEY']) process.env[key] ??= 'test-key';
  // Validation compiles against throw-away stores; the URLs only have to be well-formed.
  process.env['REDIS_URL'] ??= 'redis://127.0.0.1:1';
  process.env['DATABASE_URL'] ??= 'postgres://nobody@127.0.0.1:1/none';
  for (const [n, { file, i, block }] of blocks.entries()) {
    const path = join(dir, `config-${n}.yaml`);
    await writeFile(path, block);
    const lines: string[] = [];
    const ok = await validate([path], builtinPlugins, (l) => lines.push(l));
    t.ok(ok, `${file}, full config ${i + 1}, validates: ${lines.join('\n')}`);
  }
});
