import { Pool } from 'undici';
import type { Clock } from '../common/Clock.js';
import type { Transport, TransportRequest, TransportResponse } from './Transport.js';

/** Connection settings of the undici pools. */
export interface UndiciTransportOptions {
  /** Connect timeout, in ms. */
  readonly connectTimeoutMs: number;
  /** Longest idle time between two body chunks, in ms. */
  readonly bodyTimeoutMs: number;
  /** Connections per instance; undefined for no limit. */
  readonly connections: number | undefined;
  /** How long an idle keep-alive connection is kept, in ms. */
  readonly keepAliveTimeoutMs: number;
  /** Clock for the close deadline. */
  readonly clock: Clock;
}

/**
 * The default transport: one undici `Pool` per instance origin, with keep-alive.
 */
export class UndiciTransport implements Transport {
  readonly #options: UndiciTransportOptions;
  readonly #pools = new Map<string, Pool>();
  #closed = false;

  /** @param options - connection settings */
  constructor(options: UndiciTransportOptions) {
    this.#options = options;
  }

  /** Origins with an open pool. */
  get origins(): string[] {
    return [...this.#pools.keys()];
  }

  send(request: TransportRequest): Promise<TransportResponse> {
    const pool = this.#pools.get(request.origin) ?? this.#open(request.origin);
    return pool.request({
      method: request.method,
      path: request.path,
      headers: (request.headers ?? null) as Record<string, string | string[]> | null,
      body: request.body ?? null,
      // EventEmitter-shaped: undici listens to it with once/removeListener, far cheaper than an AbortSignal.
      signal: request.signal,
      // The client's own timer (exact, on its clock) aborts the try; undici's coarser one is only a backstop.
      // Equal header and body timeouts let undici refresh one parser timer instead of replacing it twice.
      headersTimeout: Math.max(request.timeoutMs, this.#options.bodyTimeoutMs),
      bodyTimeout: this.#options.bodyTimeoutMs,
    });
  }

  release(origin: string): void {
    const pool = this.#pools.get(origin);
    if (pool === undefined) return;
    this.#pools.delete(origin);
    // Requests in flight on a departing instance finish; new ones never come here again.
    pool.close().catch(() => undefined);
  }

  async close(timeoutMs: number): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((pool) => closePool(pool, timeoutMs, this.#options.clock)));
  }

  #open(origin: string): Pool {
    const pool = new Pool(origin, {
      connect: { timeout: this.#options.connectTimeoutMs },
      keepAliveTimeout: this.#options.keepAliveTimeoutMs,
      connections: this.#options.connections ?? null,
      pipelining: 1,
    });
    if (!this.#closed) this.#pools.set(origin, pool);
    else pool.close().catch(() => undefined);
    return pool;
  }
}

/** Closes gracefully, then cuts what is still running at the deadline. */
async function closePool(pool: Pool, timeoutMs: number, clock: Clock): Promise<void> {
  let timer: { clear(): void } | undefined;
  const deadline = new Promise<boolean>((resolve) => {
    timer = clock.setTimeout(() => resolve(false), timeoutMs).unref();
  });
  const closed = pool.close().then(
    () => true,
    () => true,
  );
  const finished = await Promise.race([closed, deadline]);
  timer?.clear();
  if (!finished) await pool.destroy().catch(() => undefined);
}
