/**
 * Watches the config file's directory (and catalog directories) and asks for a reload on any
 * change. Watching the directory, not the file, catches every way a file gets replaced: editors
 * that save by writing a temp file and renaming it over the original, and Kubernetes ConfigMap
 * volumes, which swap a `..data` symlink. The reload itself compares content hashes, so spurious
 * events cost one file read.
 */
import { watch, type FSWatcher } from 'chokidar';

export interface WatchOptions {
  /** Milliseconds to wait for a burst of events to settle. */
  debounceMs?: number;
  /** Poll instead of native events (network filesystems); `SWITCHYARD_WATCH_POLL=1`. */
  poll?: boolean;
}

export class ConfigWatcher {
  private readonly watcher: FSWatcher;
  private readonly dirs: Set<string>;
  private timer: NodeJS.Timeout | undefined;

  constructor(dirs: string[], onChange: () => void, options: WatchOptions = {}) {
    const debounce = options.debounceMs ?? 50;
    this.dirs = new Set(dirs);
    this.watcher = watch(dirs, {
      ignoreInitial: true,
      depth: 1,
      followSymlinks: true,
      usePolling: options.poll ?? process.env['SWITCHYARD_WATCH_POLL'] === '1',
      interval: 250,
      ignored: (path) => /(^|\/)(node_modules|\.git)(\/|$)/.test(path),
    });
    this.watcher.on('all', () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(onChange, debounce);
    });
    this.watcher.on('error', () => undefined);
  }

  /** Resolves once the initial scan is done and events will be delivered. */
  ready(): Promise<void> {
    return new Promise((resolve) => this.watcher.once('ready', () => resolve()));
  }

  /** Also watches `dirs` (a reload may name new catalog directories); known ones are skipped. */
  add(dirs: string[]): void {
    const fresh = dirs.filter((d) => !this.dirs.has(d));
    for (const d of fresh) this.dirs.add(d);
    if (fresh.length) this.watcher.add(fresh);
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    await this.watcher.close();
  }
}
