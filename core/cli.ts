/**
 * `switchyard start|validate|<plugin commands> …`, `--help` and `--version`. A library: the
 * composition root (`bin/main.ts`) hands it the plugin registry, whose definitions bring their own
 * commands and admin routes. A mistake on the command line is one line on stderr and exit code 2;
 * a gateway that cannot start says why in one line and exits 1.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { Gateway } from './gateway.js';
import { ConfigLoadError } from './config/load.js';
import { packageRoot } from './config/schema.js';
import { argumentProblem, defaultConfigFile, validate } from './commands.js';
import type { CliCommands, PluginRegistry } from './plugin.js';

/** What the CLI serves: the composition root (`bin/main.ts`) hands it the built-in plugins. */
export interface CliApplication {
  readonly plugins: PluginRegistry;
}

/** The commands the registered plugins declare, in registry order. */
function commandsOf(app: CliApplication): CliCommands[] {
  return [...app.plugins.values()].flatMap((p) => (p.commands ? [p.commands] : []));
}

const usage = (app: CliApplication): string => `Usage:
  switchyard start [--config FILE] [--listen HOST:PORT]   start the gateway (the default command)
  switchyard validate FILE...                             check config files; exit 0 when all are valid
${commandsOf(app).map((c) => c.usage).join('\n')}
  switchyard COMMAND --help · switchyard --version

The config file is --config, else $SWITCHYARD_CONFIG, else ./config/gateway.yaml, else the bundled default.`;

const START_USAGE = `Usage: switchyard start [--config FILE] [--listen HOST:PORT]
  -c, --config FILE        the config file (default $SWITCHYARD_CONFIG, else ./config/gateway.yaml, else the bundled default)
  -l, --listen HOST:PORT   the address to listen on (default $SWITCHYARD_LISTEN, else server.listen)`;

/** A shutdown signal repeated within this window is a wrapper's echo of the first, and ignored. */
const SIGNAL_ECHO_MS = 1000;

const VALIDATE_USAGE = `Usage: switchyard validate FILE...
  Loads and compiles each config file without serving it and prints \`file: ok\` or every problem as
  \`file:line:col: path: message\`. Exit code 0 when all are valid, 1 otherwise. Files that are not
  gateway configs (Docker Compose, Kubernetes, Prometheus, Grafana provisioning) are skipped with a
  note, so \`switchyard validate examples/*.yaml\` checks the configs among them.`;

/**
 * What a YAML file is when it is recognisably not a gateway config — by shape, as the tools that
 * read it would: Compose's top-level \`services:\`, Kubernetes' \`apiVersion\` + \`kind\` (one or more
 * documents), Prometheus' \`scrape_configs:\`, Grafana provisioning's \`apiVersion\` with
 * \`datasources:\` or a \`providers:\` list. Anything else (unreadable or broken YAML included) is
 * left to \`validate\`, which says what is wrong with it.
 */
async function foreignYamlKind(file: string): Promise<string | undefined> {
  let docs: unknown[];
  try {
    const parsed = parseAllDocuments(await readFile(file, 'utf8'));
    if (!Array.isArray(parsed) || parsed.some((d) => d.errors.length > 0)) return undefined;
    docs = parsed.map((d) => d.toJS() as unknown).filter((d) => d !== null && d !== undefined);
  } catch {
    return undefined;
  }
  const maps = docs.filter((d): d is Record<string, unknown> => typeof d === 'object' && !Array.isArray(d));
  if (maps.length === 0 || maps.length !== docs.length) return undefined;
  if (maps.every((d) => 'apiVersion' in d && 'kind' in d)) return maps.length > 1 ? 'Kubernetes manifests' : 'a Kubernetes manifest';
  if (maps.length > 1) return undefined;
  const top = maps[0]!;
  if ('version' in top && !('services' in top)) return undefined;
  if (typeof top['services'] === 'object' && top['services'] !== null) return 'a Docker Compose file';
  if (Array.isArray(top['scrape_configs'])) return 'a Prometheus config';
  if ('apiVersion' in top && (Array.isArray(top['datasources']) || Array.isArray(top['providers']))) return 'a Grafana provisioning file';
  return undefined;
}

/** Why `listen()` failed, by error code, for the one line the CLI prints. */
const LISTEN_PROBLEMS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use (is another gateway running? use --listen)',
  EACCES: 'permission denied (ports below 1024 need privileges; use --listen)',
  EADDRNOTAVAIL: 'this machine has no such address (use --listen)',
};

function printAndExit(text: string): never {
  process.stdout.write(`${text}\n`);
  process.exit(0);
}

/** One line naming the mistake and where help is, then exit code 2. */
function exitWithUsageError(command: string, problem: string): never {
  process.stderr.write(`switchyard ${command}: ${problem} (see \`switchyard ${command} --help\`)\n`);
  process.exit(2);
}

/** Why the gateway did not start: one line (a config error: one per problem); the stack only at debug level. */
function startFailure(err: unknown): string {
  if (err instanceof ConfigLoadError) return `switchyard: cannot start\n${err.message}`;
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  if (e.syscall === 'listen' && e.code) {
    const where = e.address?.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
    return `switchyard: cannot listen on ${where}: ${LISTEN_PROBLEMS[e.code] ?? e.message}`;
  }
  const debug = /^(debug|trace)$/.test(process.env['SWITCHYARD_LOG_LEVEL'] ?? '');
  return `switchyard: cannot start: ${(debug ? e.stack : e.message) ?? String(err)}`;
}

async function start(app: CliApplication, args: string[]): Promise<void> {
  let values: { config?: string; listen?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' }, listen: { type: 'string', short: 'l' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (err) {
    exitWithUsageError('start', argumentProblem(err));
  }
  if (values.help) printAndExit(START_USAGE);
  const configFile = values.config ? resolve(values.config) : defaultConfigFile();
  let gateway: Gateway;
  try {
    gateway = await Gateway.start({ configFile, plugins: app.plugins, listen: values.listen });
  } catch (err) {
    process.stderr.write(`${startFailure(err)}\n`);
    process.exit(1);
  }
  const v = gateway.current();
  gateway.log.info({ url: gateway.url, config: configFile, models: Object.keys(v.loaded.config.models).length }, `Switchyard listening on ${gateway.url}`);
  let stoppingSince: number | undefined;
  const stop = (signal: string) => {
    if (stoppingSince !== undefined) {
      // Wrappers (`deno task`, `npm start`) pass on the Ctrl-C that the terminal also sent to us,
      // sometimes twice: a repeat within a second is that echo, not a second Ctrl-C.
      if (performance.now() - stoppingSince < SIGNAL_ECHO_MS) return;
      gateway.log.warn({ signal }, 'second signal; exiting now');
      process.exit(1);
    }
    stoppingSince = performance.now();
    gateway.log.info({ signal }, 'shutting down: draining in-flight requests');
    // SIGTERM (orchestrators, load balancers) first waits `server.drain_delay`; Ctrl-C does not.
    void gateway.close(undefined, { drainDelay: signal === 'SIGTERM' }).then(() => {
      gateway.log.info('stopped');
      gateway.log.flush();
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => void gateway.reload());
}

async function validateCommand(app: CliApplication, args: string[]): Promise<void> {
  let parsed: { values: { help?: boolean }; positionals: string[] };
  try {
    parsed = parseArgs({ args, options: { help: { type: 'boolean', short: 'h' } }, allowPositionals: true });
  } catch (err) {
    exitWithUsageError('validate', argumentProblem(err));
  }
  if (parsed.values.help) printAndExit(VALIDATE_USAGE);
  if (parsed.positionals.length === 0) {
    process.stderr.write(`switchyard validate: no config file given\n${VALIDATE_USAGE}\n`);
    process.exit(2);
  }
  let ok = true;
  for (const file of parsed.positionals) {
    const kind = await foreignYamlKind(file);
    if (kind) process.stdout.write(`${file}: skipped (${kind}, not a gateway config)\n`);
    else ok = (await validate([file], app.plugins)) && ok;
  }
  process.exit(ok ? 0 : 1);
}

function version(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/** Runs the `switchyard` command line for `app`. */
export async function runCli(argv: string[], app: CliApplication): Promise<void> {
  const [command, ...rest] = argv;
  if (command === 'help' || command === '--help' || command === '-h') printAndExit(usage(app));
  if (command === 'version' || command === '--version' || command === '-v' || command === '-V') printAndExit(`switchyard ${version()}`);
  // `start` is the default command, so options alone (`switchyard --listen …`) are its options.
  if (command === undefined || command.startsWith('-')) return start(app, argv);
  if (command === 'start') return start(app, rest);
  if (command === 'validate') return validateCommand(app, rest);
  const owner = commandsOf(app).find((c) => c.names.includes(command));
  if (owner) process.exit(await owner.run(command, rest));
  process.stderr.write(`switchyard: unknown command '${command}' (see \`switchyard --help\`)\n`);
  process.exit(2);
}

