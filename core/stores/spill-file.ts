/**
 * The overflow of a `BatchQueue`: an append-only file of JSON lines, one item per line, read back
 * from the front in order. Async I/O only; every append is fsync'd before it counts, so a line in
 * the file survives a crash. Operations run one at a time, in the order they are asked for.
 *
 * The file holds the items not yet written to SQL, oldest first; the read position lives in memory
 * only, so after a crash the whole file is replayed (the queue's writer is idempotent per item).
 * Once every line has been read back and written, the file is truncated to nothing.
 */
import { mkdir, open, rename, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Bytes read at a time. */
const CHUNK = 256 * 1024;
const NEWLINE = 0x0a;

export interface SpillOpened {
  /** Complete lines left by an earlier process. */
  leftoverRows: number;
  /** Bytes of a last line cut short by a crash (dropped). */
  tornBytes: number;
}

export class SpillFile {
  private fh: FileHandle | undefined;
  /** Durable end of the file: everything before it is whole lines, fsync'd. */
  private size = 0;
  /** Where the next read starts. */
  private offset = 0;
  private unread = 0;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(readonly path: string) {}

  /** Lines in the file not yet read back and committed. */
  get rows(): number {
    return this.unread;
  }

  /** Creates the directory and file, or finds what an earlier process left (a torn last line is cut off). */
  open(): Promise<SpillOpened> {
    return this.serial(async () => {
      await mkdir(dirname(this.path), { recursive: true });
      const fh = await open(this.path, 'a+');
      this.fh = fh;
      const { size } = await fh.stat();
      let whole = size;
      if (size > 0) whole = (await this.lastNewline(size)) + 1;
      if (whole < size) {
        await fh.truncate(whole);
        await fh.sync();
      }
      this.size = whole;
      this.unread = await this.countLines(whole);
      return { leftoverRows: this.unread, tornBytes: size - whole };
    });
  }

  /** Appends `lines` (each without its newline) and fsyncs; on failure the file is cut back to its last durable end. */
  append(lines: readonly string[]): Promise<void> {
    return this.serial(async () => {
      const fh = this.handle();
      const buf = Buffer.from(`${lines.join('\n')}\n`);
      try {
        let done = 0;
        while (done < buf.length) done += (await fh.write(buf, done, buf.length - done, null)).bytesWritten;
        await fh.datasync();
      } catch (err) {
        await fh.truncate(this.size).catch(() => undefined);
        throw err;
      }
      this.size += buf.length;
      this.unread += lines.length;
    });
  }

  /** Up to `max` lines from the read position (not consumed until `commit(end, count)`). */
  read(max: number): Promise<{ lines: string[]; end: number }> {
    return this.serial(async () => {
      const fh = this.handle();
      const lines: string[] = [];
      let pos = this.offset;
      let carry = Buffer.alloc(0);
      while (lines.length < max && pos < this.size) {
        const len = Math.min(CHUNK, this.size - pos);
        const buf = Buffer.allocUnsafe(len);
        const { bytesRead } = await fh.read(buf, 0, len, pos);
        if (bytesRead === 0) break;
        pos += bytesRead;
        const data = carry.length > 0 ? Buffer.concat([carry, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
        let start = 0;
        for (let nl = data.indexOf(NEWLINE); nl !== -1 && lines.length < max; nl = data.indexOf(NEWLINE, start)) {
          lines.push(data.toString('utf8', start, nl));
          start = nl + 1;
        }
        carry = data.subarray(start);
        if (lines.length >= max) break;
      }
      return { lines, end: pos - carry.length };
    });
  }

  /** Marks `count` lines up to byte `end` as written; a file read to its end is emptied. */
  commit(end: number, count: number): Promise<void> {
    this.offset = end;
    this.unread -= count;
    return this.serial(async () => {
      // Checked here, in turn: an append asked for earlier may have grown the file meanwhile.
      if (this.offset < this.size || this.size === 0) return;
      await this.handle().truncate(0);
      this.size = 0;
      this.offset = 0;
    });
  }

  /**
   * Puts `lines` before everything unread (at shutdown: a batch whose write failed is older than
   * the file's lines). Writes a new file and renames it over the old one.
   */
  prepend(lines: readonly string[]): Promise<void> {
    return this.serial(async () => {
      const old = this.handle();
      const tmp = `${this.path}.tmp`;
      const fresh = await open(tmp, 'w+');
      try {
        let size = 0;
        const head = Buffer.from(`${lines.join('\n')}\n`);
        await fresh.write(head, 0, head.length, 0);
        size += head.length;
        for (let pos = this.offset; pos < this.size; ) {
          const len = Math.min(CHUNK, this.size - pos);
          const buf = Buffer.allocUnsafe(len);
          const { bytesRead } = await old.read(buf, 0, len, pos);
          if (bytesRead === 0) break;
          await fresh.write(buf, 0, bytesRead, size);
          size += bytesRead;
          pos += bytesRead;
        }
        await fresh.sync();
        await fresh.close();
        await rename(tmp, this.path);
        await old.close();
        this.fh = await open(this.path, 'a+');
        this.size = size;
        this.offset = 0;
        this.unread += lines.length;
      } catch (err) {
        await fresh.close().catch(() => undefined);
        throw err;
      }
    });
  }

  close(): Promise<void> {
    return this.serial(async () => {
      await this.fh?.close();
      this.fh = undefined;
    });
  }

  private handle(): FileHandle {
    if (!this.fh) throw new Error(`spill file ${this.path} is not open`);
    return this.fh;
  }

  private serial<R>(op: () => Promise<R>): Promise<R> {
    const next = this.chain.then(op, op);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Position of the last newline before `size`, or -1. */
  private async lastNewline(size: number): Promise<number> {
    const fh = this.handle();
    for (let end = size; end > 0; ) {
      const start = Math.max(0, end - CHUNK);
      const buf = Buffer.allocUnsafe(end - start);
      await fh.read(buf, 0, buf.length, start);
      const at = buf.lastIndexOf(NEWLINE);
      if (at !== -1) return start + at;
      end = start;
    }
    return -1;
  }

  private async countLines(size: number): Promise<number> {
    const fh = this.handle();
    let count = 0;
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(size, 1)));
    for (let pos = 0; pos < size; ) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - pos), pos);
      if (bytesRead === 0) break;
      for (let i = buf.indexOf(NEWLINE); i !== -1 && i < bytesRead; i = buf.indexOf(NEWLINE, i + 1)) count++;
      pos += bytesRead;
    }
    return count;
  }
}
