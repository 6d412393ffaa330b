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

  /**
   * @param json - the JSON text
   * @param validUntil - when time alone makes it stale (a delta whose oldest change ages out); Infinity if never
   */
  constructor(json: string, validUntil = Infinity) {
    this.body = Buffer.from(json);
    this.validUntil = validUntil;
  }

  /**
   * The body gzipped, compressed once off the event loop and shared by every reader. At the fastest level:
   * a payload is compressed again after every change, and on registry JSON level 1 takes under half the time
   * of the default level 6 for a body about a quarter larger (on loopback, time is what a reader waits for).
   */
  gzipped(): Promise<Buffer> {
    this.#gzipped ??= gzipAsync(this.body, { level: 1 });
    return this.#gzipped;
  }
}

/** Settings of a {@link ResponseCache}. */
export interface ResponseCacheOptions {
  /** Source of time. */
  readonly clock: Clock;
  /** Refresh interval of the read-only cache in ms; 0 turns it off (every read sees the current registry). */
  readonly refreshMs: number;
  /** The registry's version: any change to it makes every built payload stale. */
  readonly version: () => number;
  /** Builds the payload of a key from the registry as it is now, or undefined when there is nothing (a 404). */
  readonly build: (key: string) => Payload | undefined;
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
  readonly #current = new Map<string, Payload>();
  #currentVersion = -1;
  readonly #readOnly = new Map<string, Payload>();
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
    if (version !== this.#currentVersion) {
      this.#current.clear();
      this.#currentVersion = version;
    }
    const existing = this.#current.get(key);
    if (existing !== undefined && this.#options.clock.now() < existing.validUntil) return existing;
    const payload = this.#options.build(key);
    if (payload === undefined) this.#current.delete(key);
    else this.#current.set(key, payload);
    return payload;
  }
}
