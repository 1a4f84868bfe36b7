/**
 * `switchyard start [--config FILE] [--listen HOST:PORT]` and `switchyard validate FILE...`.
 * The composition root: the only core file that names the built-in plugin registry.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Gateway } from './gateway.js';
import { ConfigLoadError } from './config/load.js';
import { defaultConfigFile, validate } from './commands.js';
import { builtinPlugins, builtinAdminModules } from '../plugins/index.js';
import { IDENTITY_COMMANDS, IDENTITY_USAGE, runIdentityCli, type IdentityCommand } from '../plugins/auth/cli.js';

const USAGE = `Usage:
  switchyard start [--config FILE] [--listen HOST:PORT]   start the gateway
  switchyard validate FILE...                             check config files; exit 0 when all are valid
${IDENTITY_USAGE}

The config file is --config, else $SWITCHYARD_CONFIG, else ./config/gateway.yaml, else the bundled default.`;

async function start(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' }, listen: { type: 'string', short: 'l' } } });
  const configFile = values.config ? resolve(values.config) : defaultConfigFile();
  let gateway: Gateway;
  try {
    gateway = await Gateway.start({ configFile, plugins: builtinPlugins, admin: builtinAdminModules, listen: values.listen });
  } catch (err) {
    process.stderr.write(`switchyard: cannot start\n${err instanceof ConfigLoadError ? err.message : (err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  }
  const v = gateway.current();
  gateway.log.info({ url: gateway.url, config: configFile, models: Object.keys(v.loaded.config.models).length }, `Switchyard listening on ${gateway.url}`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      gateway.log.warn({ signal }, 'second signal; exiting now');
      process.exit(1);
    }
    stopping = true;
    gateway.log.info({ signal }, 'shutting down: draining in-flight requests');
    void gateway.close().then(() => {
      gateway.log.info('stopped');
      gateway.log.flush();
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => void gateway.reload());
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === 'start' || command === undefined) return start(rest);
  if (command === 'validate') {
    if (rest.length === 0) {
      process.stderr.write(`${USAGE}\n`);
      process.exit(2);
    }
    process.exit((await validate(rest, builtinPlugins)) ? 0 : 1);
  }
  if ((IDENTITY_COMMANDS as readonly string[]).includes(command)) process.exit(await runIdentityCli(command as IdentityCommand, rest));
  process.stderr.write(`${command === '--help' || command === 'help' ? '' : `unknown command '${command}'\n`}${USAGE}\n`);
  process.exit(command === '--help' || command === 'help' ? 0 : 2);
}

await main(process.argv.slice(2));
