#!/usr/bin/env node
// The published entry point runs the compiled gateway; `npm run build` (run by `npm install`) makes it.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = fileURLToPath(new URL('../dist/bin/main.js', import.meta.url));
if (!existsSync(compiled)) {
  process.stderr.write('switchyard: dist/ is missing; run `npm run build` (npm install runs it for you).\n');
  process.exit(1);
}
await import(compiled);
