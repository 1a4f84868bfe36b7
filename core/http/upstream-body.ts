/**
 * The body of an upstream response, fed by the call's undici dispatch handler
 * (`core/http/upstream.ts`): an async iterable of Buffers with backpressure, plus `text()`,
 * `dump()` and `destroy()` — what the gateway needs of a Node `Readable`, without one per call.
 */
import type { Dispatcher } from 'undici';

/** What the body tells its call, whose idle deadline must not count time spent waiting on the reader. */
export interface BodyActivity {
  lastActivity: number;
  waitingOnReader: boolean;
}

/** The body's reader was told to stop (`destroy()` without a reason). */
class BodyDestroyedError extends Error {
  override readonly name = 'AbortError';
  readonly code = 'ABORT_ERR';
  constructor() {
    super('the response body was destroyed');
  }
}

/** Buffered body bytes above which the upstream socket is paused until the reader catches up. */
const HIGH_WATER = 64 * 1024;

/**
 * An upstream response body, fed by the call's handler: an async iterable of Buffers with
 * backpressure (the socket pauses while more than `HIGH_WATER` bytes wait for the reader), plus
 * `text()`, `dump()` and `destroy()`. A failure is thrown to the reader after the bytes that came
 * before it.
 */
export class UpstreamBody implements AsyncIterable<Buffer> {
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private failure: Error | undefined;
  private paused = false;
  private waiter: { resolve(chunk: Buffer | null): void; reject(err: Error): void } | undefined;
  /** The reader saw the end (Node's `readableEnded`). */
  private consumed = false;
  private gone = false;

  constructor(
    private readonly call: BodyActivity,
    private readonly controller: Dispatcher.DispatchController,
  ) {}

  get readableEnded(): boolean {
    return this.consumed;
  }

  get destroyed(): boolean {
    return this.gone;
  }

  /** From the handler: a chunk arrived. */
  push(chunk: Buffer): void {
    if (this.gone) return;
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      waiter.resolve(chunk);
      return;
    }
    this.queue.push(chunk);
    this.queued += chunk.length;
    if (this.queued >= HIGH_WATER && !this.paused) {
      this.paused = true;
      this.call.waitingOnReader = true;
      this.controller.pause();
    }
  }

  /** From the handler: the body ended, completely (`undefined`) or with an error. */
  finish(err: Error | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = err;
    const waiter = this.waiter;
    this.waiter = undefined;
    if (!waiter) return;
    if (err) waiter.reject(err);
    else {
      this.consumed = true;
      waiter.resolve(null);
    }
  }

  /** The next chunk, or null at the end. */
  read(): Promise<Buffer | null> {
    const chunk = this.queue.shift();
    if (chunk) {
      this.queued -= chunk.length;
      if (this.paused && this.queued < HIGH_WATER / 2) {
        this.paused = false;
        this.call.waitingOnReader = false;
        this.call.lastActivity = performance.now();
        this.controller.resume();
      }
      return Promise.resolve(chunk);
    }
    if (this.gone && !this.failure) return Promise.reject(new BodyDestroyedError());
    if (this.ended) {
      if (this.failure) return Promise.reject(this.failure);
      this.consumed = true;
      return Promise.resolve(null);
    }
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  async text(): Promise<string> {
    const parts: Buffer[] = [];
    for (let chunk = await this.read(); chunk; chunk = await this.read()) parts.push(chunk);
    return parts.length === 1 ? parts[0]!.toString('utf8') : Buffer.concat(parts).toString('utf8');
  }

  /** Reads the body to its end and drops it (so the connection can be reused); a long one is cut. */
  async dump(limit = 128 * 1024): Promise<void> {
    let size = 0;
    for (let chunk = await this.read(); chunk; chunk = await this.read()) {
      size += chunk.length;
      if (size > limit) return this.destroy();
    }
  }

  /** Stops reading: the upstream exchange is aborted unless it already ended; a waiting reader gets `err`. */
  destroy(err?: Error): void {
    if (this.gone) return;
    this.gone = true;
    this.queue.length = 0;
    this.queued = 0;
    const reason = err ?? new BodyDestroyedError();
    if (err) this.failure ??= err;
    if (!this.ended) {
      this.ended = true;
      if (!this.controller.aborted) this.controller.abort(reason);
    }
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(reason);
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return {
      next: async () => {
        const chunk = await this.read();
        return chunk ? { done: false, value: chunk } : { done: true, value: undefined };
      },
      // A reader that leaves early (break, throw) ends the exchange, as a Node stream's iterator does.
      return: async () => {
        if (!this.consumed) this.destroy();
        return { done: true, value: undefined };
      },
    };
  }
}

