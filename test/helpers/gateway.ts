/**
 * Test harness: start a real gateway in-process on a random loopback port, from YAML text written
 * to a temp directory, with its log lines captured for assertions.
 */
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Gateway, type GatewayOptions } from '../../core/gateway.js';
import { createLogger } from '../../core/log.js';
import { builtinPlugins } from '../../plugins/index.js';

export interface TestGateway {
  gateway: Gateway;
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** Temp directory holding `gateway.yaml`. */
  dir: string;
  file: string;
  /** Parsed JSON log lines written so far. */
  logs: Record<string, unknown>[];
  /** Raw log text written so far. */
  logText(): string;
  /** Rewrites gateway.yaml (plain write). */
  write(yaml: string): Promise<void>;
  close(): Promise<void>;
}

export async function startGateway(yaml: string, options: Partial<GatewayOptions> & { level?: string } = {}): Promise<TestGateway> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-test-'));
  const file = join(dir, 'gateway.yaml');
  await writeFile(file, yaml);
  const logs: Record<string, unknown>[] = [];
  let text = '';
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const s = chunk.toString();
      text += s;
      for (const line of s.split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const logger = createLogger({ level: options.level ?? 'info', destination });
  const gateway = await Gateway.start({ configFile: file, plugins: builtinPlugins, listen: '127.0.0.1:0', logger, processMetrics: false, watch: false, ...options });
  return {
    gateway,
    url: gateway.url,
    dir,
    file,
    logs,
    logText: () => text,
    write: (y) => writeFile(file, y),
    async close() {
      await gateway.close(2000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A config with one OpenAI-compatible provider at `baseUrl` and the given extra YAML appended. */
export function openaiConfig(baseUrl: string, extra = ''): string {
  return `version: 1
providers:
  up: { adapter: openai, base_url: "${baseUrl}", api_key: sk-upstream-secret }
  demo: { adapter: mock }
models:
  gpt-4o-mini: { targets: [{ provider: up }] }
  text-embedding-3-small: { targets: [{ provider: up }] }
  dall-e-3: { targets: [{ provider: up }] }
  gpt-3.5-turbo-instruct: { targets: [{ provider: up }] }
  demo: { targets: [{ provider: demo }] }
${extra}`;
}
