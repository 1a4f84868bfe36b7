#!/usr/bin/env -S node --max-semi-space-size=8
// The published entry point runs the compiled gateway; `npm run build` (run by `npm install`) makes it.
//
// V8 flags for a small resident footprint (measured in docs/footprint.md):
// - `--max-semi-space-size=8` (on the `#!` line, in `npm start`, the Dockerfile and `deno task`;
//   V8 sizes its young generation when it starts, so it cannot be set from here): a young
//   generation of 2 × 8 MB instead of 2 × 16 MB.
// - `--heap-growing-percent=50` (set here, read by V8 at each collection): the old generation grows
//   to 1.5× what is live before the next full collection, not 2–4×, which long-lived cache
//   entries made a large multiple.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';

try {
  setFlagsFromString('--heap-growing-percent=50');
} catch {
  // not every runtime lets a program set V8 flags
}

const compiled = fileURLToPath(new URL('../dist/bin/main.js', import.meta.url));
if (!existsSync(compiled)) {
  process.stderr.write('switchyard: dist/ is missing; run `npm run build` (npm install runs it for you).\n');
  process.exit(1);
}
await import(compiled);
