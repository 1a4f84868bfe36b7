/**
 * The README's configuration examples are real configs: every ```yaml block that starts with
 * `version: 1` must pass `switchyard validate`, so the docs cannot drift from the schemas.
 */
import t from 'tap';
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validate } from '../../core/commands.js';
import { builtinPlugins } from '../../plugins/index.js';

t.test('every full config in README.md validates', async (t) => {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => b.startsWith('version: 1'));
  t.ok(blocks.length >= 1, 'README has at least one full config');
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-readme-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const key of ['OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'CI_KEY']) process.env[key] ??= 'test-key';
  // Validation compiles against throw-away stores; the URLs only have to be well-formed.
  process.env['REDIS_URL'] ??= 'redis://127.0.0.1:1';
  process.env['DATABASE_URL'] ??= 'postgres://nobody@127.0.0.1:1/none';
  for (const [i, block] of blocks.entries()) {
    const file = join(dir, `readme-${i}.yaml`);
    await writeFile(file, block);
    const lines: string[] = [];
    const ok = await validate([file], builtinPlugins, (l) => lines.push(l));
    t.ok(ok, `block ${i} validates: ${lines.join('\n')}`);
  }
});
