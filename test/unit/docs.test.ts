/**
 * The docs cannot drift: the configuration reference under `docs/reference/` is exactly what the
 * JSON Schemas render to, every schema field has a description, and every relative link in the
 * README and `docs/` leads to a file (and heading) that exists.
 */
import t from 'tap';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import {
  GENERATED_MARKER,
  REFERENCE_DIR,
  REFERENCE_PAGES,
  headingAnchor,
  packageDir,
  renderPage,
  renderPages,
  schemaSources,
  stalePages,
  type SchemaNode,
  type SchemaSource,
} from '../../schemas/render-reference.js';

/** JSON paths of every property (at any depth, in any branch or definition) without a description. */
function undescribed(node: SchemaNode, path: string): string[] {
  const out: string[] = [];
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    if (typeof child.description !== 'string' || child.description.trim() === '') out.push(`${path}.${key}`);
    out.push(...undescribed(child, `${path}.${key}`));
  }
  for (const [key, def] of Object.entries(node.definitions ?? {})) out.push(...undescribed(def, `${path}#${key}`));
  for (const [i, branch] of [...(node.anyOf ?? []), ...(node.oneOf ?? [])].entries()) out.push(...undescribed(branch, `${path}|${i}`));
  if (node.items) out.push(...undescribed(node.items, `${path}[]`));
  if (typeof node.additionalProperties === 'object') out.push(...undescribed(node.additionalProperties, `${path}.<name>`));
  return out;
}

t.test('every property in every config schema has a description', async (t) => {
  const sources = schemaSources();
  t.ok(sources.some((s) => s.file === 'schemas/gateway.schema.json'), 'the gateway schema is included');
  t.ok(sources.some((s) => s.file.startsWith('schemas/plugins/')), 'plugin schemas are included');
  t.ok(sources.some((s) => s.file.startsWith('schemas/providers/')), 'provider schemas are included');
  for (const source of sources) t.same(undescribed(source.schema, source.file), [], `${source.file}: fields without a description`);
});

t.test('the description check finds a missing description deep inside a branch', async (t) => {
  const schema: SchemaNode = { properties: { a: { description: 'ok', anyOf: [{ type: 'object', properties: { b: { type: 'string' } } }] } } };
  t.same(undescribed(schema, 'x'), ['x.a|0.b']);
});

t.test('the reference pages in docs/reference/ are up to date (run `npm run docs`)', async (t) => {
  const rendered = renderPages();
  t.same([...rendered.keys()].sort(), REFERENCE_PAGES.map((p) => p.file).sort(), 'one page per schema group');
  for (const source of schemaSources()) {
    const page = REFERENCE_PAGES.find((p) => p.group === source.group)!;
    t.match(rendered.get(page.file), `## ${source.heading}`, `${source.file} is on ${page.file}`);
  }
  t.same(stalePages(rendered), [], 'pages that differ from what the schemas render');
});

t.test('a page is stale when its schema changes, missing, or generated for a group that is gone', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'switchyard-docs-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const sources = schemaSources();
  const rendered = renderPages(sources);
  mkdirSync(join(root, REFERENCE_DIR), { recursive: true });
  for (const [file, text] of rendered) writeFileSync(join(root, file), text);
  t.same(stalePages(rendered, root), [], 'fresh pages are not stale');

  const changed = sources.map((s): SchemaSource =>
    s.file === 'schemas/plugins/cache.schema.json'
      ? { ...s, schema: { ...s.schema, properties: { ...s.schema.properties, brand_new: { type: 'string', description: 'A new field.' } } } }
      : s,
  );
  t.same(stalePages(renderPages(changed), root), [`${REFERENCE_DIR}/plugins.md`], 'a new plugin field makes the plugins page stale');

  writeFileSync(join(root, REFERENCE_DIR, 'retired.md'), `${GENERATED_MARKER}\n# old\n`);
  writeFileSync(join(root, REFERENCE_DIR, 'notes.md'), '# Written by hand\n');
  t.same(stalePages(rendered, root), [`${REFERENCE_DIR}/retired.md`], 'a generated page nothing renders any more is stale; a hand-written one is not');

  await rm(join(root, REFERENCE_DIR, 'catalog.md'));
  t.ok(stalePages(rendered, root).includes(`${REFERENCE_DIR}/catalog.md`), 'a missing page is stale');
});

t.test('renders types, defaults, maps, list items, $refs and union branches', async (t) => {
  const schema: SchemaNode = {
    description: 'A test schema.',
    definitions: { names: { type: 'array', items: { type: 'string' }, description: 'From the definition.' } },
    required: ['mode'],
    properties: {
      mode: { enum: ['a', 'b'], description: 'Pick one.' },
      wait: { type: ['string', 'integer'], format: 'duration', default: '5s', description: 'How long.' },
      url: { type: 'string', format: 'uri', description: 'Where.' },
      tags: { $ref: '#/definitions/names' },
      peers: { type: 'object', default: {}, description: 'By name.', additionalProperties: { type: 'object', properties: { port: { type: 'integer', default: 80, description: 'Port.' } } } },
      steps: { type: 'array', description: 'Steps.', items: { anyOf: [{ type: 'string' }, { type: 'object', properties: { run: { type: 'string', description: 'Command.' } } }] } },
    },
  };
  const page = REFERENCE_PAGES.find((p) => p.group === 'plugins')!;
  const md = renderPage(page, [{ file: 'schemas/plugins/x.schema.json', group: 'plugins', heading: 'X', context: 'Somewhere.', schema }]);
  t.ok(md.startsWith(`${GENERATED_MARKER}\n`), 'the page starts with the generated marker');
  t.match(md, 'by `npm run docs`; do not edit by hand. `npm run docs -- --check` exits 1 when this page is stale.');
  t.match(md, '## X');
  t.match(md, 'Schema: [`schemas/plugins/x.schema.json`](../../schemas/plugins/x.schema.json).');
  t.match(md, '| `mode` | `a` \\| `b` | **required** | Pick one. |');
  t.match(md, '| `wait` | duration | `5s` | How long. |');
  t.match(md, '| `url` | string (uri) |  | Where. |');
  t.match(md, '| `tags` | string[] |  | From the definition. |');
  t.match(md, '| `peers` | map of object | `{}` | By name. |');
  t.match(md, '### `peers.<name>`');
  t.match(md, '| `peers.<name>.port` | integer | `80` | Port. |');
  t.match(md, '| `steps` | (string \\| object)[] |  | Steps. |');
  t.match(md, '| `steps[].run` | string |  | Command. |');
});

t.test('heading anchors follow GitHub: lower case, punctuation dropped, spaces as dashes', async (t) => {
  t.equal(headingAnchor('Plugin `rate-limit`'), 'plugin-rate-limit');
  t.equal(headingAnchor('#### `stores.kv.memory`'.replace(/^#+ /, '')), 'storeskvmemory');
  t.equal(headingAnchor('Running in production'), 'running-in-production');
  t.equal(headingAnchor('Admission & model resolution'), 'admission--model-resolution');
  t.equal(headingAnchor('`models.<name>.targets[]`'), 'modelsnametargets');
});

t.test('docs/architecture.md shows the example plugin exactly as examples/plugins/pii-redact.ts has it', async (t) => {
  const architecture = readFileSync(join(packageDir, 'docs/architecture.md'), 'utf8');
  const example = readFileSync(join(packageDir, 'examples/plugins/pii-redact.ts'), 'utf8');
  t.ok(architecture.includes(`\`\`\`ts\n${example.endsWith('\n') ? example : `${example}\n`}\`\`\``), 'copy the file into the ```ts block again');
});

// ---- links ----------------------------------------------------------------------------------

interface MarkdownLink {
  target: string;
  line: number;
}

/** The text with fenced code blocks and code spans blanked out (same length and newlines, so indices and line numbers hold). */
function withoutCode(text: string): string {
  const blank = (s: string) => s.replace(/[^\n]/g, ' ');
  return text.replace(/^ {0,3}(```|~~~)[^\n]*\n[\s\S]*?^ {0,3}\1[^\n]*$/gm, blank).replace(/(`+)(?:[^\n]|\n(?![ \t]*\n))*?\1/g, blank);
}

/** Inline links and images `[text](target "title")` and reference definitions `[id]: target`, outside code. */
function markdownLinks(text: string): MarkdownLink[] {
  const prose = withoutCode(text);
  const lineOf = (index: number) => prose.slice(0, index).split('\n').length;
  const links: MarkdownLink[] = [];
  for (const m of prose.matchAll(/!?\[(?:[^\][]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/g)) links.push({ target: m[1]!, line: lineOf(m.index) });
  for (const m of prose.matchAll(/^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)) links.push({ target: m[1]!, line: lineOf(m.index) });
  return links;
}

/** Every anchor a Markdown file offers: its headings, numbered as GitHub numbers duplicates, and `<a id|name="…">`. */
function markdownAnchors(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fence: string | undefined;
  for (const line of text.split('\n')) {
    const marker = /^ {0,3}(```|~~~)/.exec(line)?.[1];
    if (marker) {
      fence = fence === undefined ? marker : fence === marker ? undefined : fence;
      continue;
    }
    const heading = fence === undefined ? /^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/.exec(line)?.[1] : undefined;
    if (heading === undefined) continue;
    const base = headingAnchor(heading.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1'));
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  for (const m of text.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(m[1]!);
  return anchors;
}

/** `README.md` and every `docs/**\/*.md`, relative to the package root. */
function markdownFiles(root: string): string[] {
  const docs = existsSync(join(root, 'docs')) ? readdirSync(join(root, 'docs'), { recursive: true, encoding: 'utf8' }) : [];
  return ['README.md', ...docs.filter((f) => f.endsWith('.md')).map((f) => posix.join('docs', f.split('\\').join('/')))].sort();
}

/** Relative links in `file` (package-relative) that lead nowhere, as `file:line: target (why)`. */
function brokenLinks(root: string, file: string, read: (file: string) => string): string[] {
  const text = read(file);
  const broken: string[] = [];
  for (const { target, line } of markdownLinks(text)) {
    if (target === '' || /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) continue;
    const hash = target.indexOf('#');
    const path = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
    const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
    const resolved = path === '' ? file : posix.normalize(posix.join(posix.dirname(file), path));
    if (resolved.startsWith('../') || !existsSync(join(root, resolved))) {
      broken.push(`${file}:${line}: ${target} (no such file)`);
      continue;
    }
    if (anchor !== undefined && resolved.endsWith('.md') && !markdownAnchors(read(resolved)).has(anchor)) {
      broken.push(`${file}:${line}: ${target} (no heading #${anchor} in ${resolved})`);
    }
  }
  return broken;
}

t.test('every relative link in README.md and docs/ leads to an existing file and heading', async (t) => {
  const files = markdownFiles(packageDir);
  t.ok(files.includes('docs/architecture.md'), 'docs/architecture.md exists');
  t.ok(files.length > REFERENCE_PAGES.length + 1, 'the docs pages are found');
  const cache = new Map<string, string>();
  const read = (file: string) => cache.get(file) ?? cache.set(file, readFileSync(join(packageDir, file), 'utf8')).get(file)!;
  t.same(files.flatMap((file) => brokenLinks(packageDir, file, read)), []);
});

t.test('every docs page is reachable from the README', async (t) => {
  const cache = new Map<string, string>();
  const read = (file: string) => cache.get(file) ?? cache.set(file, readFileSync(join(packageDir, file), 'utf8')).get(file)!;
  const reached = new Set(['README.md']);
  const queue = ['README.md'];
  while (queue.length) {
    const file = queue.shift()!;
    for (const { target } of markdownLinks(read(file))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
      const path = decodeURIComponent(target.split('#')[0]!);
      if (!path.endsWith('.md')) continue;
      const resolved = posix.normalize(posix.join(posix.dirname(file), path));
      if (!reached.has(resolved) && existsSync(join(packageDir, resolved))) {
        reached.add(resolved);
        queue.push(resolved);
      }
    }
  }
  t.same(markdownFiles(packageDir).filter((f) => !reached.has(f)), [], 'pages no link chain from the README reaches');
});

t.test('the link check finds broken files and anchors, and ignores code and external URLs', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'switchyard-links-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const files: Record<string, string> = {
    'README.md': [
      '# Title',
      'See [the guide](docs/guide.md#set-up--run), [reference](docs/reference/x.md) and [up](#title).',
      'Broken: [gone](docs/missing.md), [bad anchor](docs/guide.md#nope), [self](#nowhere).',
      'Fine: [web](https://example.com/x.md), [mail](mailto:a@b.c), `[code](nowhere.md)`.',
      '```md',
      '[in a block](also-nowhere.md)',
      '```',
      '[ref]: docs/guide.md#faq',
      '[badref]: docs/nothing.md',
    ].join('\n'),
    'docs/guide.md': '# Guide\n\n## Set up & run\n\n## FAQ\n\n## FAQ\n\n```sh\n# not a heading\n```\n\nBack to [the README](../README.md#title), [dup](#faq-1), ![img](pic.png), [comment](#not-a-heading).\n',
    'docs/reference/x.md': '# X\n\nOutside the repository: [nope](../../../etc/passwd).\n',
  };
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(join(root, dirname(file)), { recursive: true });
    writeFileSync(join(root, file), text);
  }
  const read = (file: string) => readFileSync(join(root, file), 'utf8');
  t.same(brokenLinks(root, 'README.md', read), [
    'README.md:3: docs/missing.md (no such file)',
    'README.md:3: docs/guide.md#nope (no heading #nope in docs/guide.md)',
    'README.md:3: #nowhere (no heading #nowhere in README.md)',
    'README.md:9: docs/nothing.md (no such file)',
  ]);
  t.same(brokenLinks(root, 'docs/guide.md', read), ['docs/guide.md:13: pic.png (no such file)', 'docs/guide.md:13: #not-a-heading (no heading #not-a-heading in docs/guide.md)']);
  t.same(brokenLinks(root, 'docs/reference/x.md', read), ['docs/reference/x.md:3: ../../../etc/passwd (no such file)']);
  t.same(markdownFiles(root), ['README.md', 'docs/guide.md', 'docs/reference/x.md']);
});
