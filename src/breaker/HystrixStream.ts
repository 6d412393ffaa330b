import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../common/Clock.js';
import { systemClock } from '../common/Clock.js';
import { KaryonError } from '../common/KaryonError.js';
import type { Logger } from '../common/Logger.js';
import { silentLogger } from '../common/Logger.js';
import { errorMessage } from '../internal/async.js';
import { HttpError, sendJson } from '../internal/http.js';
import { RepeatingTask } from '../internal/RepeatingTask.js';
import type { CommandSnapshot } from './CommandSnapshot.js';
import { toHystrixCommand, toHystrixThreadPool } from './hystrixEvents.js';

/** Options of the `hystrix.stream` endpoint. */
export interface HystrixStreamOptions {
  /**
   * Most streams open at once; one more is answered 503 (Hystrix's `maxConcurrentConnections`).
   * @default 5
   */
  readonly maxListeners?: number;
  /**
   * Time between two sets of objects, in ms, unless the client asks for another with `?delay=`.
   * @default 500
   */
  readonly delayMs?: number;
  /**
   * Smallest `?delay=` accepted, in ms.
   * @default 50
   */
  readonly minDelayMs?: number;
  /**
   * Largest `?delay=` accepted, in ms.
   * @default 60000
   */
  readonly maxDelayMs?: number;
  /**
   * Time source for the stream's timers.
   * @default systemClock
   */
  readonly clock?: Clock;
  /**
   * Where stream errors are logged.
   * @default silentLogger
   */
  readonly logger?: Logger;
}

/** {@link HystrixStreamOptions} checked, with defaults filled. */
export interface ResolvedHystrixStreamOptions {
  /** Most streams open at once. */
  readonly maxListeners: number;
  /** Default delay, ms. */
  readonly delayMs: number;
  /** Smallest delay accepted, ms. */
  readonly minDelayMs: number;
  /** Largest delay accepted, ms. */
  readonly maxDelayMs: number;
  /** Time source. */
  readonly clock: Clock;
  /** Logger. */
  readonly logger: Logger;
}

function integerOption(name: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || (value as number) < min) {
    throw new KaryonError('ERR_INVALID_OPTION', `option '${name}' must be an integer >= ${min} (got ${typeof value === 'number' ? value : typeof value})`);
  }
  return value as number;
}

/**
 * Checks the options of the stream and fills their defaults.
 * @throws KaryonError `ERR_INVALID_OPTION` naming the bad option
 */
export function resolveHystrixStreamOptions(options: HystrixStreamOptions = {}): ResolvedHystrixStreamOptions {
  const minDelayMs = integerOption('hystrixStream.minDelayMs', options.minDelayMs, 50, 1);
  const maxDelayMs = integerOption('hystrixStream.maxDelayMs', options.maxDelayMs, 60_000, minDelayMs);
  const delayMs = integerOption('hystrixStream.delayMs', options.delayMs, 500, minDelayMs);
  if (delayMs > maxDelayMs) {
    throw new KaryonError('ERR_INVALID_OPTION', `option 'hystrixStream.delayMs' must be at most maxDelayMs ${maxDelayMs} (got ${delayMs})`);
  }
  return Object.freeze({
    maxListeners: integerOption('hystrixStream.maxListeners', options.maxListeners, 5, 1),
    delayMs,
    minDelayMs,
    maxDelayMs,
    clock: options.clock ?? systemClock,
    logger: options.logger ?? silentLogger,
  });
}

/** How often a stream looks for its server closing, whatever its delay, in ms. */
const CLOSE_CHECK_MS = 250;

interface Listener {
  readonly res: ServerResponse;
  readonly task: RepeatingTask;
}

/**
 * The `hystrix.stream` endpoint: Server-Sent Events for Hystrix Dashboard and Turbine. Every `delay` ms each
 * listener gets one `data: {HystrixCommand}` and one `data: {HystrixThreadPool}` line per command, each
 * followed by a blank line; `ping: ` lines keep an idle stream alive. Snapshots are taken per tick, so
 * latency percentiles are computed only while someone listens.
 */
export class HystrixStream {
  readonly #source: () => readonly CommandSnapshot[];
  readonly #options: ResolvedHystrixStreamOptions;
  readonly #listeners = new Set<Listener>();
  #closed = false;

  /**
   * @param source - the snapshots to publish (e.g. `() => registry.snapshots()`)
   * @param options - limits and timing
   */
  constructor(source: () => readonly CommandSnapshot[], options: HystrixStreamOptions = {}) {
    this.#source = source;
    this.#options = resolveHystrixStreamOptions(options);
  }

  /** Streams open now. */
  get listeners(): number {
    return this.#listeners.size;
  }

  /** Answers one `GET /hystrix.stream` request: validates `?delay=`, enforces the listener limit, then streams. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const delayMs = this.#delay(url);
    if (this.#closed) {
      sendJson(res, 503, { error: 'the hystrix stream is shutting down' }, { 'retry-after': '1' });
      return;
    }
    if (this.#listeners.size >= this.#options.maxListeners) {
      sendJson(res, 503, { error: `MaxConcurrentConnections reached: ${this.#options.maxListeners}` }, { 'retry-after': '5' });
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream;charset=UTF-8',
      'cache-control': 'no-cache, no-store, max-age=0, must-revalidate',
      pragma: 'no-cache',
      // Stops nginx-style proxies from buffering the stream.
      'x-accel-buffering': 'no',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    req.socket.setNoDelay(true);
    res.flushHeaders();
    const { clock } = this.#options;
    let lastSent = -Infinity;
    const listener: Listener = {
      res,
      task: new RepeatingTask({
        clock,
        initialDelayMs: 0,
        run: () => {
          if (serverClosing(req)) {
            void this.#end(listener);
            return Promise.resolve(CLOSE_CHECK_MS);
          }
          const now = clock.now();
          if (now - lastSent >= delayMs) {
            lastSent = now;
            this.#send(listener);
          }
          return Promise.resolve(Math.max(1, Math.min(CLOSE_CHECK_MS, delayMs - (clock.now() - lastSent))));
        },
      }),
    };
    this.#listeners.add(listener);
    res.once('close', () => void this.#end(listener));
  }

  /** Ends every stream and refuses new ones (503). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#listeners].map((listener) => this.#end(listener)));
  }

  /** Same as {@link HystrixStream.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #delay(url: URL): number {
    const raw = url.searchParams.get('delay');
    if (raw === null) return this.#options.delayMs;
    const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
    const { minDelayMs, maxDelayMs } = this.#options;
    if (!Number.isSafeInteger(value) || value < minDelayMs || value > maxDelayMs) {
      throw new HttpError(400, `query parameter 'delay' must be an integer number of ms between ${minDelayMs} and ${maxDelayMs} (got ${JSON.stringify(raw)})`);
    }
    return value;
  }

  #send(listener: Listener): void {
    const { res } = listener;
    // A client that reads slower than we write would make us buffer without bound: skip ticks until it drains.
    if (res.writableNeedDrain || res.destroyed) return;
    let text = '';
    try {
      for (const snapshot of this.#source()) {
        text += `data: ${JSON.stringify(toHystrixCommand(snapshot))}\n\n`;
        text += `data: ${JSON.stringify(toHystrixThreadPool(snapshot))}\n\n`;
      }
    } catch (error) {
      this.#options.logger.error('hystrix.stream could not take snapshots', { error: errorMessage(error) });
    }
    res.write(text === '' ? 'ping: \n\n' : text);
  }

  async #end(listener: Listener): Promise<void> {
    if (!this.#listeners.delete(listener)) return;
    if (!listener.res.writableEnded) listener.res.end();
    await listener.task.close();
  }
}

/** True once the server that accepted this request stopped listening (its owner is closing it). */
function serverClosing(req: IncomingMessage): boolean {
  // Node sets `socket.server` on accepted sockets; it is not in the typings, so it is read defensively.
  const server = (req.socket as { server?: { listening?: unknown } }).server;
  return server !== undefined && server.listening === false;
}
