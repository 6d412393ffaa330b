import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Clock } from '../common/Clock.js';
import { systemClock } from '../common/Clock.js';
import type { Logger } from '../common/Logger.js';
import { silentLogger } from '../common/Logger.js';
import { retriesElsewhere } from './outOfServiceGuard.js';

/** An HTTP or HTTPS server from `node:http` / `node:https`. */
export type NodeHttpServer = HttpServer | HttpsServer;

/** What a drain did. */
export interface DrainResult {
  /**
   * Requests served during the drain that finished on their own: those in flight when it began, and any that
   * came late on a connection already open.
   */
  readonly completed: number;
  /** Requests still in flight at the deadline, whose connections were cut. */
  readonly forced: number;
  /** How long the drain took, in ms. */
  readonly durationMs: number;
}

/**
 * Watches an HTTP server's requests so it can be drained: stop accepting connections, close idle keep-alive
 * sockets at once, let requests in flight finish (answering them with `Connection: close`), and cut what is
 * left at a deadline.
 */
export class ServerTracker {
  /** The tracked server. */
  readonly server: NodeHttpServer;
  readonly #clock: Clock;
  readonly #inFlight = new Set<ServerResponse>();
  #draining = false;
  /** Requests that arrived while draining (on a connection that was open before it began). */
  #lateRequests = 0;
  #idleWaiters: (() => void)[] = [];
  /** When the last request came from a caller that does not retry elsewhere (see {@link retriesElsewhere}). */
  #lastOtherCallerAt: number | undefined;

  constructor(server: NodeHttpServer, clock: Clock = systemClock) {
    this.server = server;
    this.#clock = clock;
    server.on('request', this.#onRequest);
  }

  /** Requests being served now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** True once `drain()` has begun. */
  get draining(): boolean {
    return this.#draining;
  }

  /**
   * When the last request arrived from a caller that does not take a refused request elsewhere (a Java service,
   * a browser): such a caller keeps calling until its own registry cache drops this instance.
   */
  get lastOtherCallerAt(): number | undefined {
    return this.#lastOtherCallerAt;
  }

  readonly #onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    this.#inFlight.add(res);
    if (!retriesElsewhere(req.headers)) this.#lastOtherCallerAt = this.#clock.now();
    if (this.#draining) {
      res.shouldKeepAlive = false;
      this.#lateRequests++;
    }
    res.once('close', () => {
      this.#inFlight.delete(res);
      if (!this.#draining) return;
      // The socket it used may now be idle: close it rather than wait for the keep-alive timeout.
      this.server.closeIdleConnections();
      if (this.#inFlight.size === 0) for (const wake of this.#idleWaiters.splice(0)) wake();
    });
  };

  /**
   * Resolves once no request from a caller that does not retry elsewhere has arrived for `quietMs`, or at
   * `untilMs` (a time on the tracker's clock) at the latest, or when `signal` aborts.
   */
  async quiet(quietMs: number, untilMs: number, signal?: AbortSignal): Promise<void> {
    for (;;) {
      const now = this.#clock.now();
      const quietAt = (this.#lastOtherCallerAt ?? -Infinity) + quietMs;
      if (quietAt <= now || untilMs <= now || signal?.aborted === true) return;
      const waitMs = Math.min(quietAt, untilMs) - now;
      await new Promise<void>((resolve) => {
        const timer = this.#clock.setTimeout(done, waitMs);
        function done(): void {
          timer.clear();
          signal?.removeEventListener('abort', done);
          resolve();
        }
        signal?.addEventListener('abort', done, { once: true });
      });
    }
  }

  /**
   * Drains the server: resolves once every request in flight has finished and every connection is closed,
   * or once `deadlineMs` has passed and the rest were cut.
   */
  async drain(deadlineMs: number): Promise<DrainResult> {
    const started = this.#clock.now();
    const initial = this.#inFlight.size;
    this.#draining = true;
    for (const res of this.#inFlight) if (!res.headersSent) res.shouldKeepAlive = false;
    // A server that no longer listens (closed by its owner) is done once its requests are.
    const closed = this.server.listening
      ? new Promise<void>((resolve) => this.server.close(() => resolve()))
      : this.#inFlight.size === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
    this.server.closeIdleConnections();
    // The server closes once every connection has: each request that finishes closes its socket, and so does a
    // request arriving late (on a connection that had not sent one yet). The deadline bounds all of them.
    let forced = 0;
    let timer: { clear(): void } | undefined;
    const deadline = new Promise<false>((resolve) => {
      timer = this.#clock.setTimeout(() => resolve(false), deadlineMs);
    });
    const finished = await Promise.race([closed.then(() => true as const), deadline]);
    timer?.clear();
    if (!finished) {
      forced = this.#inFlight.size;
      this.server.closeAllConnections();
      await closed;
    }
    this.server.off('request', this.#onRequest);
    return { completed: initial + this.#lateRequests - forced, forced, durationMs: this.#clock.now() - started };
  }
}

/** Servers that already carry the error listener {@link listen} leaves. */
const guarded = new WeakSet<NodeHttpServer>();

/**
 * Starts `server` listening on `port` (0 = any free port) unless it already listens; resolves with the port.
 *
 * A listening server can still emit `'error'` (accept failing with EMFILE or ENFILE when the process is out of
 * file descriptors), and an `'error'` event nobody listens to crashes the process. So, once listening, the
 * server keeps an `'error'` listener that logs such an error at error level, naming the server, and lets it
 * go on serving. Only the first call's `name` and `logger` are used for a given server.
 *
 * @param options - `name`: how the log line names the server (default `HTTP server`); `logger`: where the line
 *   goes (default: nowhere, but the process still survives)
 */
export function listen(
  server: NodeHttpServer,
  port: number,
  host?: string,
  options: { readonly name?: string; readonly logger?: Logger } = {},
): Promise<number> {
  const current = server.address();
  if (server.listening && current !== null && typeof current === 'object') {
    keepErrorListener(server, options);
    return Promise.resolve(current.port);
  }
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      // Same tick as removing the listen's own listener: there is no moment without one.
      server.off('error', onError);
      keepErrorListener(server, options);
      const address = server.address();
      resolve(address !== null && typeof address === 'object' ? address.port : port);
    });
  });
}

function keepErrorListener(server: NodeHttpServer, options: { readonly name?: string; readonly logger?: Logger }): void {
  if (guarded.has(server)) return;
  guarded.add(server);
  const name = options.name ?? 'HTTP server';
  const logger = options.logger ?? silentLogger;
  server.on('error', (error: NodeJS.ErrnoException) => {
    logger.error(`${name} error: ${error.message}`, { server: name, code: error.code, error: error.message });
  });
}
