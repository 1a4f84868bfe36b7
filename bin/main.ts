/**
 * The composition root: the one place that puts the core and the built-in plugins together
 * (`core/` names no plugin). `bin/switchyard.js` runs its compiled form; `npm run dev` runs it
 * from the sources.
 */
import { runCli } from '../core/cli.js';
import { builtinPlugins } from '../plugins/index.js';

await runCli(process.argv.slice(2), { plugins: builtinPlugins });
