import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import StatsD from 'hot-shots';
import type { ClientOptions, StatsD as StatsDClient } from 'hot-shots';
import { KaryonError } from '../common/KaryonError.js';
import { errorMessage, jitter, runWithTimeout } from '../internal/async.js';
import { RepeatingTask } from '../internal/RepeatingTask.js';
import type { ResolvedMetricsOptions, StatsdTarget } from './MetricsOptions.js';

/**
 * The entry point every hot-shots metric method ends in: it takes a finished line and buffers or sends it.
 * Its public methods would re-sanitise the name and re-format the tags on every call; our handles build
 * the line parts once, so they hand hot-shots the finished line. The wire tests pin this down.
 */
interface HotShotsWire {
  send(message: string): void;
}

/** Lines kept while the host is being resolved at start-up; beyond this they are dropped. */
const maxPendingBytes = 64 * 1024;

/** hot-shots runs its own flush interval; ours runs on the injected clock, so its own is pushed out of reach. */
const hotShotsIntervalNeverMs = 2_147_483_647;

/** A default error handler logs at most this often, with the count of errors in between. */
const errorLogIntervalMs = 60_000;

type SinkState = 'resolving' | 'unresolved' | 'ready';

/**
 * The statsd transport: a hot-shots client with buffering, the host resolved once (never per send),
 * errors routed to a handler so a socket error cannot crash the service, and a close that flushes.
 * Sending never throws and never waits.
 */
export class StatsdSink {
  readonly #options: ResolvedMetricsOptions;
  readonly #target: StatsdTarget;
  #client: StatsDClient | undefined;
  #wire: HotShotsWire | undefined;
  #state: SinkState = 'ready';
  #closed = false;
  #pending: string[] = [];
  #pendingBytes = 0;
  #firstLookup: Promise<void> | undefined;
  #retryTask: RepeatingTask | undefined;
  #flushTask: RepeatingTask | undefined;
  #closing: Promise<void> | undefined;
  #sent = 0;
  #dropped = 0;
  #errors = 0;
  #lastLogAt: number | undefined;
  #suppressed = 0;

  constructor(target: StatsdTarget, options: ResolvedMetricsOptions) {
    this.#target = target;
    this.#options = options;
    if (target.kind === 'uds') {
      this.#connect({ protocol: 'uds', path: target.path });
    } else if (isIP(target.host) !== 0) {
      this.#connect({ protocol: 'udp', host: target.host, port: target.port });
    } else {
      this.#state = 'resolving';
      this.#firstLookup = this.#resolve(target.host, target.port).then((ok) => {
        this.#firstLookup = undefined;
        if (!ok) this.#startRetries(target.host, target.port);
      });
    }
    if (options.maxBufferSize > 0) {
      const intervalMs = options.flushIntervalMs;
      this.#flushTask = new RepeatingTask({
        clock: options.clock,
        initialDelayMs: intervalMs,
        run: () => {
          // Without a callback hot-shots reports failures to the error handler; an empty buffer costs nothing.
          this.#client?.flush();
          return Promise.resolve(intervalMs);
        },
      });
    }
  }

  /** Lines handed to hot-shots. */
  get sent(): number {
    return this.#sent;
  }

  /** Lines dropped (host unresolved, closed). */
  get dropped(): number {
    return this.#dropped;
  }

  /** Transport errors. */
  get errors(): number {
    return this.#errors;
  }

  /** Buffers or sends one finished line. Never throws. */
  send(line: string): void {
    const wire = this.#wire;
    if (wire !== undefined && !this.#closed) {
      wire.send(line);
      this.#sent++;
      return;
    }
    if (this.#state === 'resolving' && !this.#closed && this.#pendingBytes + line.length <= maxPendingBytes) {
      this.#pending.push(line);
      this.#pendingBytes += line.length;
      return;
    }
    this.#dropped++;
  }

  /** Counts a line that never reached the transport (e.g. a value that is not a finite number). */
  drop(): void {
    this.#dropped++;
  }

  /** Sends what is buffered; resolves when it has been handed to the socket. Never rejects. */
  flush(): Promise<void> {
    const client = this.#client;
    if (client === undefined || this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      try {
        client.flush((error?: Error) => {
          if (error) this.#onError(error);
          resolve();
        });
      } catch (error) {
        this.#onError(error);
        resolve();
      }
    });
  }

  /**
   * Stops the flush timer and resolution retries, waits for a start-up resolution in progress (bounded by
   * `lookupTimeoutMs`), sends everything buffered and closes the socket. Idempotent; never rejects.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** Same as {@link StatsdSink.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    this.#closed = true;
    await Promise.all([this.#flushTask?.close(), this.#retryTask?.close()]);
    // Lines recorded before close while the host was resolving are sent once it resolves.
    await this.#firstLookup;
    this.#dropPending();
    const client = this.#client;
    this.#client = undefined;
    this.#wire = undefined;
    if (client === undefined) return;
    await new Promise<void>((resolve) => {
      try {
        client.close((error?: Error) => {
          if (error) this.#onError(error);
          resolve();
        });
      } catch (error) {
        this.#onError(error);
        resolve();
      }
    });
  }

  /** One attempt to resolve the host; on success the client is created and pending lines replayed. */
  async #resolve(host: string, port: number, signal?: AbortSignal): Promise<boolean> {
    const { clock, lookupTimeoutMs } = this.#options;
    const lookup = this.#options.lookup ?? lookupPreferringIpv4;
    try {
      const address = await runWithTimeout((attempt) => lookup(host, attempt), {
        clock,
        signal,
        timeoutMs: lookupTimeoutMs,
        onTimeout: () => new KaryonError('ERR_METRICS_TRANSPORT', `resolving statsd host '${host}' took longer than ${lookupTimeoutMs} ms`),
      });
      if (typeof address !== 'string' || isIP(address) === 0) {
        throw new KaryonError('ERR_METRICS_TRANSPORT', `resolving statsd host '${host}' gave ${JSON.stringify(address)}, not an IP address`);
      }
      // After close() only a start-up resolution still matters: it carries lines recorded before close.
      if (this.#closed && this.#state !== 'resolving') return true;
      this.#connect({ protocol: 'udp', host: address, port });
      return true;
    } catch (error) {
      // A retry cut short by close() is not a transport error.
      if (signal?.aborted === true) return false;
      this.#onError(
        error instanceof KaryonError
          ? error
          : new KaryonError('ERR_METRICS_TRANSPORT', `statsd host '${host}' did not resolve: ${errorMessage(error)}`, { cause: error }),
      );
      if (this.#state === 'resolving') {
        this.#state = 'unresolved';
        this.#dropPending();
      }
      return false;
    }
  }

  #startRetries(host: string, port: number): void {
    if (this.#closed) return;
    const { clock, lookupRetryMs, lookupRetryMaxMs } = this.#options;
    let delayMs = lookupRetryMs;
    const task = new RepeatingTask({
      clock,
      initialDelayMs: jitter(delayMs, 0.2),
      run: async (signal) => {
        if (await this.#resolve(host, port, signal)) {
          void task.close();
          return lookupRetryMaxMs;
        }
        delayMs = Math.min(delayMs * 2, lookupRetryMaxMs);
        return jitter(delayMs, 0.2);
      },
    });
    this.#retryTask = task;
  }

  #connect(transport: Pick<ClientOptions, 'protocol' | 'host' | 'port' | 'path'>): void {
    const { maxBufferSize } = this.#options;
    const client = new StatsD({
      ...transport,
      maxBufferSize,
      bufferFlushInterval: hotShotsIntervalNeverMs,
      errorHandler: (error) => this.#onError(error),
      // Every option that hot-shots would otherwise take from DD_* environment variables is given here, so
      // the environment cannot switch it to Datadog mode, add tags, start telemetry or reroute it.
      datadog: false,
      includeDataDogTags: false,
      includeDatadogTelemetry: false,
      originDetection: false,
      telegraf: false,
      globalTags: [],
      prefix: '',
      suffix: '',
      sampleRate: 1,
      cacheDns: false,
      globalize: false,
      mock: false,
      aggregation: false,
      useDefaultRoute: false,
    });
    const wire = client as unknown as Partial<HotShotsWire>;
    if (typeof wire.send !== 'function') {
      throw new KaryonError('ERR_METRICS_TRANSPORT', 'this version of hot-shots has no send(line) method; metrics cannot be sent');
    }
    this.#client = client;
    this.#wire = wire as HotShotsWire;
    this.#state = 'ready';
    const pending = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    for (const line of pending) {
      this.#wire.send(line);
      this.#sent++;
    }
  }

  #dropPending(): void {
    this.#dropped += this.#pending.length;
    this.#pending = [];
    this.#pendingBytes = 0;
  }

  #onError(error: unknown): void {
    this.#errors++;
    const wrapped =
      error instanceof KaryonError
        ? error
        : new KaryonError('ERR_METRICS_TRANSPORT', `statsd ${describeTarget(this.#target)}: ${errorMessage(error)}`, { cause: error });
    const handler = this.#options.errorHandler;
    if (handler === undefined) {
      this.#log(wrapped);
      return;
    }
    try {
      handler(wrapped);
    } catch {
      // The handler runs inside a caller's hot path or a socket callback: its failure must not escape.
    }
  }

  #log(error: KaryonError): void {
    const now = this.#options.clock.now();
    if (this.#lastLogAt !== undefined && now - this.#lastLogAt < errorLogIntervalMs) {
      this.#suppressed++;
      return;
    }
    this.#options.logger.warn('statsd transport error', {
      target: describeTarget(this.#target),
      error: error.message,
      errorsSinceLastLine: this.#suppressed,
    });
    this.#lastLogAt = now;
    this.#suppressed = 0;
  }
}

function describeTarget(target: StatsdTarget): string {
  return target.kind === 'uds' ? `unix:${target.path}` : `${target.host}:${target.port}`;
}

/** dns.lookup, taking an IPv4 address when there is one: statsd daemons usually listen on IPv4 only. */
async function lookupPreferringIpv4(host: string, _signal: AbortSignal): Promise<string> {
  const addresses = await dnsLookup(host, { all: true });
  const chosen = addresses.find((a) => a.family === 4) ?? addresses[0];
  if (chosen === undefined) throw new Error(`no address for ${host}`);
  return chosen.address;
}
