import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { KaryonError } from '../common/KaryonError.js';
import type { Clock } from '../common/Clock.js';
import type { Logger } from '../common/Logger.js';
import { errorMessage } from '../internal/async.js';
import type { Metrics, MetricTags } from '../metrics/types.js';
import { parseStatsdLine } from './statsdLine.js';
import type { StatsdLine } from './statsdLine.js';

/** Options of a {@link StatsdRelay}. */
export interface StatsdRelayDeps {
  /** Where relayed metrics go: the service's metrics, which add the standard tags and know the wire format. */
  readonly metrics: Metrics;
  /** Tags the application may not set: the relay's scope owns them (`app`, `instance`, `zone`, `version`). */
  readonly reservedTags: readonly string[];
  /** Time source, for rate-limiting the log of bad lines. */
  readonly clock: Clock;
  /** Where bad lines are reported (one line a minute at most). */
  readonly logger: Logger;
}

/** What a {@link StatsdRelay} has done so far. */
export interface StatsdRelayStats {
  /** Datagrams received. */
  readonly datagrams: number;
  /** Metric lines forwarded. */
  readonly relayed: number;
  /** Lines dropped because they were not metrics (events, broken lines). */
  readonly rejected: number;
}

type Forward = (line: StatsdLine) => void;

/** Distinct series a relay keeps a pre-bound handle for; beyond, lines are recorded through one-shot calls. */
const MAX_SERIES = 10_000;
const LOG_INTERVAL_MS = 60_000;

/**
 * A statsd relay: listens on UDP for the plain statsd an application sends, and forwards every metric line
 * through the service's metrics. Going through the service's sink, rather than re-sending bytes, is what
 * adds the standard tags (app, instance, zone) in the configured tag format (DogStatsD, Telegraf or none),
 * puts the application's metrics in the sidecar's Prometheus exposition too, and shares one socket and its
 * buffering. Each distinct series gets a pre-bound handle once, so a line costs a parse and a map lookup.
 */
export class StatsdRelay implements AsyncDisposable {
  readonly #deps: StatsdRelayDeps;
  readonly #reserved: ReadonlySet<string>;
  readonly #handles = new Map<string, Forward>();
  #socket: Socket | undefined;
  #port: number | undefined;
  #closing: Promise<void> | undefined;
  #datagrams = 0;
  #relayed = 0;
  #rejected = 0;
  #lastLogAt: number | undefined;
  #unlogged = 0;

  constructor(deps: StatsdRelayDeps) {
    this.#deps = deps;
    this.#reserved = new Set(deps.reservedTags);
  }

  /** The UDP port listened on, once listening. */
  get port(): number | undefined {
    return this.#port;
  }

  /** What the relay has done so far. */
  stats(): StatsdRelayStats {
    return { datagrams: this.#datagrams, relayed: this.#relayed, rejected: this.#rejected };
  }

  /**
   * Binds the UDP socket; resolves with the port.
   * @throws KaryonError ERR_LISTEN when the port cannot be bound.
   */
  async listen(port: number, host: string): Promise<number> {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    socket.on('message', (message) => this.receive(message));
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(port, host, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      socket.close();
      throw new KaryonError('ERR_LISTEN', `statsd relay could not listen on udp ${host}:${port}: ${errorMessage(error)}`, { cause: error });
    }
    // A socket error after binding must not crash the sidecar; the relay just loses those datagrams.
    socket.on('error', (error) => this.#deps.logger.warn(`statsd relay socket error: ${error.message}`));
    this.#socket = socket;
    this.#port = socket.address().port;
    return this.#port;
  }

  /** Relays the lines of one datagram (exposed for tests and for feeding lines from elsewhere). */
  receive(datagram: Buffer | string): void {
    this.#datagrams++;
    const text = typeof datagram === 'string' ? datagram : datagram.toString('utf8');
    for (const raw of text.split('\n')) {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (line === '') continue;
      const parsed = parseStatsdLine(line);
      if (typeof parsed === 'string') {
        this.#reject(line, parsed);
        continue;
      }
      let forward = this.#handles.get(parsed.seriesKey);
      if (forward === undefined) {
        forward = this.#bind(parsed);
        if (this.#handles.size < MAX_SERIES) this.#handles.set(parsed.seriesKey, forward);
      }
      forward(parsed);
      this.#relayed++;
    }
  }

  /** Stops listening. Idempotent. Metrics already handed to the sink are flushed by the sink's owner. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      const socket = this.#socket;
      if (socket === undefined) return resolve();
      socket.close(() => resolve());
    });
    return this.#closing;
  }

  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** A pre-bound handle for the line's series, with the application's tags less the reserved ones. */
  #bind(line: StatsdLine): Forward {
    const metrics = this.#deps.metrics;
    const tags: Record<string, string> = {};
    let tagged = false;
    for (const [key, value] of Object.entries(line.tags)) {
      if (this.#reserved.has(key)) continue;
      tags[key] = value;
      tagged = true;
    }
    const own: MetricTags | undefined = tagged ? tags : undefined;
    try {
      switch (line.type) {
        case 'c': {
          const counter = metrics.counter(line.name, own);
          // statsd servers scale a sampled counter by 1/rate; the sink gets the scaled value.
          return (l) => counter.increment(Number(l.value) / l.rate);
        }
        case 'ms': {
          const timer = metrics.timer(line.name, own);
          return (l) => timer.record(Number(l.value));
        }
        case 'h': {
          const histogram = metrics.histogram(line.name, own);
          return (l) => histogram.record(Number(l.value));
        }
        case 'd': {
          const distribution = metrics.distribution(line.name, own);
          return (l) => distribution.record(Number(l.value));
        }
        case 'g': {
          const gauge = metrics.gauge(line.name, own);
          return (l) => {
            const first = l.value.charCodeAt(0);
            // statsd reads a signed gauge value as a change, an unsigned one as the new value.
            if (first === 43 /* + */ || first === 45 /* - */) gauge.add(Number(l.value));
            else gauge.set(Number(l.value));
          };
        }
        case 's': {
          const set = metrics.set(line.name, own);
          return (l) => set.add(l.value);
        }
      }
    } catch (error) {
      // A name or tag the sink refuses (or a Prometheus type clash): every line of this series is dropped.
      const reason = errorMessage(error);
      return (l) => {
        this.#relayed--;
        this.#reject(`${l.name}:${l.value}|${l.type}`, reason);
      };
    }
  }

  #reject(line: string, reason: string): void {
    this.#rejected++;
    const now = this.#deps.clock.now();
    if (this.#lastLogAt !== undefined && now - this.#lastLogAt < LOG_INTERVAL_MS) {
      this.#unlogged++;
      return;
    }
    const more = this.#unlogged > 0 ? ` (${this.#unlogged} more since the last report)` : '';
    this.#deps.logger.warn(`statsd relay dropped '${line.slice(0, 200)}': ${reason}${more}`);
    this.#lastLogAt = now;
    this.#unlogged = 0;
  }
}
