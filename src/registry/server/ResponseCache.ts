import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { Clock } from '../../common/Clock.js';
import { RepeatingTask } from '../../internal/RepeatingTask.js';

const gzipAsync = promisify(gzip);

/** A response body ready to send: JSON bytes, and the gzipped bytes made on first demand. */
export class Payload {
  /** The JSON bytes. */
  readonly body: Buffer;
  /** Until when (epoch ms, exclusive) the payload describes the registry if nothing changes. */
  readonly validUntil: number;
  #gzipped: Promise<Buffer> | undefined;
  /** Readers of `body` now: responses sending it, and its compression. */
  #readers = 0;

  /**
   * @param json - the JSON, as bytes or text
   * @param validUntil - when time alone makes it stale (a delta whose oldest change ages out); Infinity if never
   */
  constructor(json: Buffer | string, validUntil = Infinity) {
    this.body = typeof json === 'string' ? Buffer.from(json) : json;
    this.validUntil = validUntil;
  }

  /**
   * The body gzipped, compressed once off the event loop and shared by every reader. At the fastest level:
   * a payload is compressed again after every change, and on registry JSON level 1 takes under half the time
   * of the default level 6 for a body about a quarter larger (on loopback, time is what a reader waits for).
   */
  gzipped(): Promise<Buffer> {
    if (this.#gzipped === undefined) {
      const release = this.use();
      this.#gzipped = gzipAsync(this.body, { level: 1 });
      this.#gzipped.then(release, release);
    }
    return this.#gzipped;
  }

  /**
   * Marks `body` as being read (a response sending it) until the returned function is called: the memory of
   * a payload nobody reads any more may be written over by the next payload of its key.
   */
  use(): () => void {
    this.#readers++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#readers--;
    };
  }

  /** True while a response or the compression still reads `body`. */
  get inUse(): boolean {
    return this.#readers > 0;
  }
}

/** Gives a payload being built the memory for its body: `size` bytes, possibly where an old payload was. */
export type Allocate = (size: number) => Buffer;

/**
 * Bodies from this size on are written into memory of their own, which the next payload of the same key
 * reuses once nobody reads the old one. At 100,000 instances the full registry is 87 MiB: a new buffer of that
 * size after every change made V8 collect the whole heap each time (external memory pressure), a cost of
 * the registry's size per change on top of building it, and one that grew faster than the registry.
 */
const reuseFromBytes = 1024 * 1024;

/** Settings of a {@link ResponseCache}. */
export interface ResponseCacheOptions {
  /** Source of time. */
  readonly clock: Clock;
  /** Refresh interval of the read-only cache in ms; 0 turns it off (every read sees the current registry). */
  readonly refreshMs: number;
  /** The registry's version: any change to it makes every built payload stale. */
  readonly version: () => number;
  /**
   * Builds the payload of a key from the registry as it is now, or undefined when there is nothing (a 404),
   * writing its body into memory from `allocate`.
   */
  readonly build: (key: string, allocate: Allocate) => Payload | undefined;
}

/**
 * The response cache of the development Eureka server, in two layers as Netflix's ResponseCacheImpl:
 * - a read-write layer that builds each payload once per registry version, so a registry of thousands of
 *   instances is not encoded again for every reader while nothing changes (renewals are not changes);
 * - when `refreshMs > 0`, a read-only layer that answers from a copy refreshed every `refreshMs`, so a change
 *   reaches readers up to that long after it happened, as with Netflix's 30 s cache.
 * Missing payloads (404s) are never cached, so unknown keys cannot grow it.
 */
export class ResponseCache {
  readonly #options: ResponseCacheOptions;
  /** The payload of each key last built, and the registry version it was built at (older ones are stale). */
  readonly #current = new Map<string, { readonly payload: Payload; readonly version: number }>();
  readonly #readOnly = new Map<string, Payload>();
  /** The memory this cache allocated for bodies (so only that is ever written over, never a shared pool). */
  readonly #owned = new WeakSet<ArrayBufferLike>();
  #task: RepeatingTask | undefined;

  /** @param options - clock, refresh interval, version and builder */
  constructor(options: ResponseCacheOptions) {
    this.#options = options;
  }

  /** The payload to answer `key` with, or undefined for a 404. */
  get(key: string): Payload | undefined {
    if (this.#options.refreshMs === 0) return this.#build(key);
    const cached = this.#readOnly.get(key);
    if (cached !== undefined) return cached;
    const payload = this.#build(key);
    if (payload !== undefined) this.#readOnly.set(key, payload);
    return payload;
  }

  /** Starts refreshing the read-only layer (only when it is on). Idempotent. */
  start(): void {
    const { refreshMs, clock } = this.#options;
    if (refreshMs === 0 || this.#task !== undefined) return;
    this.#task = new RepeatingTask({
      clock,
      initialDelayMs: refreshMs,
      run: () => {
        this.refresh();
        return Promise.resolve(refreshMs);
      },
    });
  }

  /** Replaces every read-only entry with the registry as it is now (what the timer does every `refreshMs`). */
  refresh(): void {
    for (const key of [...this.#readOnly.keys()]) {
      const payload = this.#build(key);
      if (payload === undefined) this.#readOnly.delete(key);
      else this.#readOnly.set(key, payload);
    }
  }

  /** Forgets every payload (after the registry was cleared). */
  clear(): void {
    this.#current.clear();
    this.#readOnly.clear();
  }

  /** Stops the refresh timer. Idempotent. */
  async close(): Promise<void> {
    await this.#task?.close();
  }

  #build(key: string): Payload | undefined {
    const version = this.#options.version();
    const existing = this.#current.get(key);
    if (existing !== undefined && existing.version === version && this.#options.clock.now() < existing.payload.validUntil) return existing.payload;
    const stale = existing?.payload;
    const payload = this.#options.build(key, (size) => this.#allocate(size, stale, key));
    if (payload === undefined) this.#current.delete(key);
    else this.#current.set(key, { payload, version });
    return payload;
  }

  /**
   * Memory for a body of `size` bytes: where the stale payload of the same key was, when this cache allocated
   * it, it is large enough (and not more than twice), and nobody reads it (no response sending it, no
   * compression, not served by the read-only layer); otherwise new memory, with room to grow by a little.
   */
  #allocate(size: number, stale: Payload | undefined, key: string): Buffer {
    if (size < reuseFromBytes) return Buffer.allocUnsafe(size);
    if (stale !== undefined && !stale.inUse && this.#readOnly.get(key) !== stale) {
      const memory = stale.body.buffer;
      if (this.#owned.has(memory) && memory.byteLength >= size && memory.byteLength <= 2 * size) {
        // The stale payload is dropped from the cache as this one replaces it, so nothing reads it again.
        return Buffer.from(memory, 0, size);
      }
    }
    const fresh = Buffer.allocUnsafeSlow(size + (size >> 4));
    this.#owned.add(fresh.buffer);
    return fresh.subarray(0, size);
  }
}
