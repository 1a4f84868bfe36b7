/**
 * Watches what the config is read from and asks for a reload on any change. The reload compares
 * content hashes, so a spurious event costs one file read.
 *
 * Watching the file alone misses most ways a config gets replaced, so this watches directories:
 * the one that really holds the config file (in-place writes, editors that save by renaming a temp
 * file over it, delete and re-create), the catalog directories, and every directory holding a
 * symlink on the way to the file — Kubernetes ConfigMap volumes swap a `..data` symlink, and
 * deployments switch a `current -> v2` directory symlink. A watch on a directory reached through a
 * symlink stays on the directory it pointed to, so after every burst of events the paths are
 * resolved again and the watches follow the symlinks.
 *
 * Each directory gets its own chokidar watcher, one level deep and not following symlinks, so a
 * symlink is reported as the entry it is. (Letting chokidar follow symlinks missed a directory
 * symlink switched to an existing directory; and chokidar keeps a model of each entry, so a watch
 * is started afresh when an entry that matters changes kind, e.g. a symlink replaced by a file,
 * whose later writes it would otherwise miss.) As a safety
 * net for what no event reports (a watch limit reached, a mount swapped), the same resolution plus
 * a `stat` of each file runs every 10 s and reloads when anything differs;
 * `SWITCHYARD_WATCH_POLL=1` (network filesystems, where events do not arrive) uses only that check,
 * every 250 ms.
 */
import { watch, type FSWatcher } from 'chokidar';
import { lstat, readdir, readlink, stat } from 'node:fs/promises';
import { dirname, join, parse, resolve, sep } from 'node:path';

export interface WatchTargets {
  /** Files read as config: followed through every symlink on their path. */
  files: string[];
  /** Directories whose files are read (catalogs): followed the same way, their files watched. */
  dirs: string[];
}

export interface WatchOptions {
  /** Milliseconds to wait for a burst of events to settle. */
  debounceMs?: number;
  /** Poll instead of native events (network filesystems); default `SWITCHYARD_WATCH_POLL=1`. */
  poll?: boolean;
  /** How often everything is checked in case an event was missed; default 250 ms when polling, else 10 s. */
  checkIntervalMs?: number;
}

/** What the targets resolve to right now. */
interface Resolution {
  /**
   * Directories to watch (real paths; their entries, not their subdirectories), each with its
   * `dirId` plus what every entry that matters in it is (symlink, file, missing): chokidar keeps a
   * model of each entry, so when one changes kind (a symlink replaced by a file) the directory's
   * watch is started afresh.
   */
  dirs: Map<string, string>;
  /** Directories in which any entry counts (where the config and catalog files really are). */
  contentDirs: Set<string>;
  /** Paths that count wherever they are (the symlinks followed and the entries they led to). */
  entries: Set<string>;
  /** Link targets and file identities and times: differs whenever what would be read differs. */
  fingerprint: string[];
}

const MAX_SYMLINKS = 40;

export class ConfigWatcher {
  private readonly targets: WatchTargets;
  private current: Resolution = emptyResolution();
  /** A watch per directory, with the `dirId` it was set on (a directory replaced needs a new one). */
  private readonly watchers = new Map<string, { watcher: FSWatcher; id: string }>();
  private readonly poll: boolean;
  private timer: NodeJS.Timeout | undefined;
  private checkTimer: NodeJS.Timeout | undefined;
  private follows = 0;
  private closed = false;

  private constructor(
    targets: WatchTargets,
    private readonly onChange: () => void,
    private readonly debounceMs: number,
    poll: boolean,
  ) {
    this.targets = { files: [...targets.files], dirs: [...targets.dirs] };
    this.poll = poll;
  }

  /** Starts watching; resolves once events will be delivered. */
  static async start(targets: WatchTargets, onChange: () => void, options: WatchOptions = {}): Promise<ConfigWatcher> {
    const poll = options.poll ?? process.env['SWITCHYARD_WATCH_POLL'] === '1';
    const self = new ConfigWatcher(targets, onChange, options.debounceMs ?? 50, poll);
    await self.follow();
    const every = options.checkIntervalMs ?? (poll ? 250 : 10_000);
    self.checkTimer = setInterval(() => void self.check(), every).unref();
    return self;
  }

  /** Also watches `targets` (a reload may name new catalog directories); resolves once they are watched. */
  async add(targets: WatchTargets): Promise<void> {
    const files = targets.files.filter((f) => !this.targets.files.includes(f));
    const dirs = targets.dirs.filter((d) => !this.targets.dirs.includes(d));
    if (!files.length && !dirs.length) return;
    this.targets.files.push(...files);
    this.targets.dirs.push(...dirs);
    await this.follow();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.checkTimer);
    const closing = [...this.watchers.values()].map((w) => w.watcher.close());
    this.watchers.clear();
    await Promise.all(closing);
  }

  private matters(path: string): boolean {
    return this.current.entries.has(path) || this.current.contentDirs.has(dirname(path));
  }

  private schedule(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      // Follow the symlinks first, so that the version about to be loaded is the one watched.
      void this.follow().then(() => {
        if (!this.closed) this.onChange();
      });
    }, this.debounceMs);
  }

  /** Resolves the targets again and moves the watches to where they lead now. */
  private async follow(): Promise<void> {
    const seq = ++this.follows;
    const next = await this.resolveTargets();
    // A later call resolved more recently; its result wins.
    if (this.closed || seq !== this.follows) return;
    this.current = next;
    if (this.poll) return;
    for (const [dir, w] of this.watchers) {
      if (next.dirs.get(dir) === w.id) continue;
      void w.watcher.close();
      this.watchers.delete(dir);
    }
    const started: Promise<void>[] = [];
    for (const [dir, id] of next.dirs) if (!this.watchers.has(dir)) started.push(this.watchDir(dir, id));
    if (started.length === 0) return;
    await Promise.all(started);
    // What changed while the new watches were starting raised no event: compare once more.
    const settled = await this.resolveTargets();
    if (!this.closed && seq === this.follows && settled.fingerprint.join('\n') !== next.fingerprint.join('\n')) this.schedule();
  }

  /** Watches the entries of `dir` (not its subdirectories); resolves once events will be delivered. */
  private watchDir(dir: string, id: string): Promise<void> {
    const watcher = watch(dir, { depth: 0, followSymlinks: false, ignoreInitial: true, persistent: false, atomic: false });
    watcher.on('all', (_event, path) => {
      if (path === dir || this.matters(path)) this.schedule();
    });
    // The directory was removed or became unreadable: resolve again (the check also retries).
    watcher.on('error', () => {
      void watcher.close();
      if (this.watchers.get(dir)?.watcher === watcher) this.watchers.delete(dir);
      this.schedule();
    });
    this.watchers.set(dir, { watcher, id });
    return new Promise((resolveReady) => watcher.once('ready', () => resolveReady()));
  }

  /** The safety net (and the only mechanism when polling): reload when the resolution differs. */
  private async check(): Promise<void> {
    if (this.closed) return;
    const now = await this.resolveTargets();
    const missingWatch = !this.poll && [...now.dirs].some(([dir, id]) => this.watchers.get(dir)?.id !== id);
    if (missingWatch || now.fingerprint.join('\n') !== this.current.fingerprint.join('\n')) this.schedule();
  }

  private async resolveTargets(): Promise<Resolution> {
    const r = emptyResolution();
    for (const file of this.targets.files) await trace(resolve(file), false, r);
    for (const dir of this.targets.dirs) await trace(resolve(dir), true, r);
    return r;
  }
}

/**
 * Walks `path` one component at a time, following symlinks, and records what decides what it
 * resolves to: each symlink met (and the directory holding it), and the directory that finally
 * holds the file (with `contents`: the directory itself). A missing component ends the walk at the
 * deepest directory that exists, so that its creation is seen.
 */
async function trace(path: string, contents: boolean, r: Resolution): Promise<void> {
  let pending = splitPath(path);
  let current = parse(path).root;
  // The `dirId` of `current` ('' for a filesystem root, which is never replaced).
  let currentId = '';
  for (let links = 0; pending.length > 0; ) {
    const name = pending.shift()!;
    const entry = join(current, name);
    const info = await lstat(entry).catch(() => undefined);
    if (!info) {
      watchEntry(r, current, currentId, name, 'missing');
      r.entries.add(entry);
      r.fingerprint.push(`${entry} missing`);
      return;
    }
    if (info.isSymbolicLink()) {
      watchEntry(r, current, currentId, name, 'symlink');
      r.entries.add(entry);
      const target = await readlink(entry).catch(() => undefined);
      r.fingerprint.push(`${entry} -> ${target}`);
      if (target === undefined || ++links > MAX_SYMLINKS) return;
      const absolute = resolve(current, target);
      pending = [...splitPath(absolute), ...pending];
      current = parse(absolute).root;
      currentId = '';
      continue;
    }
    if (pending.length > 0) {
      current = entry;
      currentId = dirId(info);
      continue;
    }
    r.entries.add(entry);
    if (!contents) {
      watchEntry(r, current, currentId, name, info.isDirectory() ? 'dir' : 'file');
      r.contentDirs.add(current);
      r.fingerprint.push(identity(entry, info));
      return;
    }
    r.dirs.set(entry, dirId(info));
    r.contentDirs.add(entry);
    const names = (await readdir(entry).catch(() => [] as string[])).sort();
    for (const n of names) {
      const s = await stat(join(entry, n)).catch(() => undefined);
      r.fingerprint.push(s ? identity(join(entry, n), s) : `${join(entry, n)} unreadable`);
    }
    return;
  }
}

/** Records that `dir` is watched for its entry `name`, which is currently of `kind`. */
function watchEntry(r: Resolution, dir: string, id: string, name: string, kind: string): void {
  r.dirs.set(dir, `${r.dirs.get(dir) ?? id} ${name}:${kind}`);
}

/** Tells a directory from one created in its place: inode numbers are reused at once, birth times are not. */
function dirId(s: { ino: number; birthtimeMs: number }): string {
  return `${s.ino}:${s.birthtimeMs}`;
}

function emptyResolution(): Resolution {
  return { dirs: new Map(), contentDirs: new Set(), entries: new Set(), fingerprint: [] };
}

function identity(path: string, s: { ino: number; size: number; mtimeMs: number; ctimeMs: number }): string {
  return `${path} ${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
}

function splitPath(path: string): string[] {
  return path.slice(parse(path).root.length).split(sep).filter(Boolean);
}
