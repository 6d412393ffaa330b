import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import type { Clock } from '../common/Clock.js';
import type { Transport, TransportRequest, TransportResponse } from './Transport.js';
import type { TrySignal } from './TrySignal.js';

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
  /** The time a try is marked sent at, in ms (the client's latency clock). */
  readonly now: () => number;
}

type ConnectHook = (this: unknown, ...args: unknown[]) => unknown;

/**
 * An interceptor that marks a try's signal as sent, with the time, when undici is about to write the request
 * on a connected socket (it calls the handler's `onConnect`, or `onRequestStart`, just before the first byte).
 * Until then nothing has left: a refused or timed-out connection, a TLS handshake cut short, a pool that
 * could not dispatch. The time excludes connection set-up and waiting for a free connection from latency.
 */
function markSent(now: () => number): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts, handler) => {
    const signal = (opts as { signal?: unknown }).signal as TrySignal;
    const hooks = handler as Record<string, unknown>;
    const name = typeof hooks.onRequestStart === 'function' ? 'onRequestStart' : 'onConnect';
    const hook = hooks[name] as ConnectHook | undefined;
    hooks[name] = function (this: unknown, ...args: unknown[]): unknown {
      signal.sent = true;
      signal.sentAt = now();
      return hook?.apply(this, args);
    };
    return dispatch(opts, handler);
  };
}

/** One instance's pool, and the same pool with the interceptor that marks tries as sent. */
interface TrackedPool {
  readonly pool: Pool;
  readonly dispatcher: Dispatcher;
}

/**
 * The default transport: one undici `Pool` per instance origin, with keep-alive. It knows whether a failed
 * try may have been written, so a failure before that is retried whatever the method.
 */
export class UndiciTransport implements Transport {
  readonly tracksSending = true;
  readonly #options: UndiciTransportOptions;
  readonly #markSent: Dispatcher.DispatcherComposeInterceptor;
  readonly #pools = new Map<string, TrackedPool>();
  #closed = false;

  /** @param options - connection settings */
  constructor(options: UndiciTransportOptions) {
    this.#options = options;
    this.#markSent = markSent(options.now);
  }

  /** Origins with an open pool. */
  get origins(): string[] {
    return [...this.#pools.keys()];
  }

  send(request: TransportRequest): Promise<TransportResponse> {
    const pool = (this.#pools.get(request.origin) ?? this.#open(request.origin)).dispatcher;
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
    const tracked = this.#pools.get(origin);
    if (tracked === undefined) return;
    this.#pools.delete(origin);
    // Requests in flight on a departing instance finish; new ones never come here again.
    tracked.pool.close().catch(() => undefined);
  }

  async close(timeoutMs: number): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const pools = [...this.#pools.values()].map((tracked) => tracked.pool);
    this.#pools.clear();
    await Promise.all(pools.map((pool) => closePool(pool, timeoutMs, this.#options.clock)));
  }

  #open(origin: string): TrackedPool {
    const pool = new Pool(origin, {
      connect: { timeout: this.#options.connectTimeoutMs },
      keepAliveTimeout: this.#options.keepAliveTimeoutMs,
      connections: this.#options.connections ?? null,
      pipelining: 1,
    });
    const tracked: TrackedPool = { pool, dispatcher: pool.compose(this.#markSent) };
    if (!this.#closed) this.#pools.set(origin, tracked);
    else pool.close().catch(() => undefined);
    return tracked;
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
