import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KaryonError, createMetrics } from 'karyon-ts';
import type { Logger, Metrics, MetricsOptions } from 'karyon-ts';
import { silentLogger, lifecycleMetrics } from 'karyon-ts/extend';
import { ManualClock } from 'karyon-ts/testing';

/** A real statsd server: a UDP socket on loopback keeping every datagram it receives. */
class StatsdServer {
  readonly datagrams: string[] = [];
  readonly #socket = dgram.createSocket('udp4');
  #markers = 0;
  port = 0;

  async start(): Promise<this> {
    this.#socket.on('message', (message) => this.datagrams.push(message.toString('utf8')));
    await new Promise<void>((resolve) => this.#socket.bind(0, '127.0.0.1', resolve));
    // Room for bursts: the default (about 200 KiB) holds only ~100 full datagrams.
    this.#socket.setRecvBufferSize(4 * 1024 * 1024);
    this.port = this.#socket.address().port;
    return this;
  }

  lines(): string[] {
    return this.datagrams.flatMap((d) => d.split('\n'));
  }

  async waitForLines(count: number, timeoutMs = 10_000): Promise<string[]> {
    await waitFor(() => this.lines().length >= count, timeoutMs, () => `${count} lines (got ${this.lines().length})`);
    return this.lines();
  }

  /**
   * Sends a marker datagram from another socket and waits for it, then forgets it: a positive sign that anything
   * sent to this server before now has arrived, so the absence of a line after it means it was not sent.
   */
  async settle(): Promise<void> {
    const marker = `settle.marker.${++this.#markers}:1|c`;
    const sender = dgram.createSocket('udp4');
    try {
      await new Promise<void>((resolve, reject) => sender.send(marker, this.port, '127.0.0.1', (error) => (error ? reject(error) : resolve())));
      await waitFor(() => this.datagrams.includes(marker), 10_000, () => `the marker datagram ${marker}`);
    } finally {
      sender.close();
    }
    this.datagrams.splice(this.datagrams.indexOf(marker), 1);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Milliseconds that 10,000 calls of `call` take, and 10,000 of `baseline`, measured in turns (five rounds of
 * 2,000 each) so that the load of the machine weighs on both alike.
 */
function timedAgainst(call: () => void, baseline: () => void): { elapsed: number; baselineElapsed: number } {
  let elapsed = 0;
  let baselineElapsed = 0;
  for (let round = 0; round < 5; round++) {
    let started = performance.now();
    for (let i = 0; i < 2_000; i++) baseline();
    baselineElapsed += performance.now() - started;
    started = performance.now();
    for (let i = 0; i < 2_000; i++) call();
    elapsed += performance.now() - started;
  }
  return { elapsed, baselineElapsed };
}


const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function server(): Promise<StatsdServer> {
  const s = await new StatsdServer().start();
  cleanups.push(() => s.close());
  return s;
}

function metricsFor(options: MetricsOptions): Metrics {
  const metrics = createMetrics(options);
  cleanups.push(() => metrics.close());
  return metrics;
}

/** A UDP port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

function recordEveryType(metrics: Metrics): void {
  metrics.counter('requests', { route: '/hello' }).increment();
  metrics.increment('requests', 2, { route: '/hello' });
  metrics.timer('latency', { route: '/hello' }).record(12.5);
  metrics.timing('latency', 3, { route: '/bye' });
  metrics.gauge('queue', { q: 'mail' }).set(7);
  metrics.gauge('queue', 8, { q: 'mail' });
  metrics.histogram('size', { kind: 'body' }).record(512);
  metrics.histogram('size', 64);
  metrics.distribution('spread').record(0.25);
  metrics.distribution('spread', 1);
  metrics.set('users').add('ann');
  metrics.unique('users', 42);
  metrics.scope('db', { pool: 'main' }).increment('queries');
}

describe('statsd over UDP (real socket)', () => {
  it('sends the exact lines of every metric type with DogStatsD tags, global tags first', async () => {
    const statsd = await server();
    const metrics = metricsFor({ host: '127.0.0.1', port: statsd.port, prefix: 'greeter', globalTags: { app: 'greeter', zone: 'eu-1a' } });
    recordEveryType(metrics);
    await metrics.close();
    expect(await statsd.waitForLines(13)).toEqual([
      'greeter.requests:1|c|#app:greeter,zone:eu-1a,route:/hello',
      'greeter.requests:2|c|#app:greeter,zone:eu-1a,route:/hello',
      'greeter.latency:12.5|ms|#app:greeter,zone:eu-1a,route:/hello',
      'greeter.latency:3|ms|#app:greeter,zone:eu-1a,route:/bye',
      'greeter.queue:7|g|#app:greeter,zone:eu-1a,q:mail',
      'greeter.queue:8|g|#app:greeter,zone:eu-1a,q:mail',
      'greeter.size:512|h|#app:greeter,zone:eu-1a,kind:body',
      'greeter.size:64|h|#app:greeter,zone:eu-1a',
      'greeter.spread:0.25|d|#app:greeter,zone:eu-1a',
      'greeter.spread:1|d|#app:greeter,zone:eu-1a',
      'greeter.users:ann|s|#app:greeter,zone:eu-1a',
      'greeter.users:42|s|#app:greeter,zone:eu-1a',
      'greeter.db.queries:1|c|#app:greeter,zone:eu-1a,pool:main',
    ]);
    expect(metrics.stats()).toMatchObject({ sent: 13, dropped: 0, errors: 0 });
  });

  it('sends Telegraf tags after the name, and no tags at all in the plain format', async () => {
    const statsd = await server();
    const telegraf = metricsFor({ host: '127.0.0.1', port: statsd.port, tagFormat: 'telegraf', globalTags: { app: 'greeter' } });
    telegraf.counter('requests', { route: '/hello' }).increment();
    telegraf.timing('latency', 4, { route: '/bye' });
    telegraf.gauge('queue', 1);
    await telegraf.close();
    const plain = metricsFor({ host: '127.0.0.1', port: statsd.port, tagFormat: 'none', globalTags: { app: 'greeter' } });
    plain.counter('requests', { route: '/hello' }).increment(5);
    await plain.close();
    expect(await statsd.waitForLines(4)).toEqual([
      'requests,app=greeter,route=/hello:1|c',
      'latency,app=greeter,route=/bye:4|ms',
      'queue,app=greeter:1|g',
      'requests:5|c',
    ]);
  });

  it('sets a negative gauge through zero (statsd reads a signed value as a delta) and sends signed deltas', async () => {
    const statsd = await server();
    const metrics = metricsFor({ host: '127.0.0.1', port: statsd.port });
    const temperature = metrics.gauge('temperature');
    temperature.set(-5);
    temperature.add(3);
    temperature.add(-1.5);
    await metrics.close();
    expect(await statsd.waitForLines(4)).toEqual(['temperature:0|g', 'temperature:-5|g', 'temperature:+3|g', 'temperature:-1.5|g']);
  });

  it('buffers lines until the flush interval, on the injected clock, then sends them in one datagram', async () => {
    const statsd = await server();
    const clock = new ManualClock();
    const metrics = metricsFor({ host: '127.0.0.1', port: statsd.port, clock, flushIntervalMs: 500 });
    const hits = metrics.counter('hits');
    hits.increment();
    hits.increment();
    hits.increment();
    await statsd.settle();
    expect(statsd.datagrams).toEqual([]);
    await clock.advanceAsync(500);
    await statsd.waitForLines(3);
    expect(statsd.datagrams).toEqual(['hits:1|c\nhits:1|c\nhits:1|c']);
    hits.increment(9);
    await clock.advanceAsync(500);
    await statsd.waitForLines(4);
    expect(statsd.datagrams).toEqual(['hits:1|c\nhits:1|c\nhits:1|c', 'hits:9|c']);
  });

  it('fills datagrams up to maxBufferSize bytes and sends each as soon as the next line would not fit', async () => {
    const statsd = await server();
    const metrics = metricsFor({ host: '127.0.0.1', port: statsd.port, clock: new ManualClock() });
    const handle = metrics.timer('a.reasonably.long.metric.name.for.filling', { endpoint: '/v1/resources/items' });
    const line = 'a.reasonably.long.metric.name.for.filling:100|ms|#endpoint:/v1/resources/items';
    const perDatagram = Math.floor((1400 + 1) / (line.length + 1));
    for (let i = 0; i < perDatagram * 3; i++) handle.record(100);
    // Three full buffers: the first two went out when the next line did not fit, the third is still held.
    await statsd.waitForLines(perDatagram * 2);
    await statsd.settle();
    expect(statsd.datagrams).toHaveLength(2);
    for (const datagram of statsd.datagrams) {
      expect(Buffer.byteLength(datagram)).toBeLessThanOrEqual(1400);
      expect(datagram.split('\n')).toEqual(new Array(perDatagram).fill(line));
    }
    await metrics.flush();
    await statsd.waitForLines(perDatagram * 3);
    expect(statsd.datagrams).toHaveLength(3);
  });

  it('close() sends everything still buffered: 5000 lines recorded, 5000 received, nothing lost', async () => {
    const statsd = await server();
    const metrics = metricsFor({ host: '127.0.0.1', port: statsd.port, clock: new ManualClock(), flushIntervalMs: 3_600_000 });
    const counter = metrics.counter('orders', { shop: 'eu' });
    for (let i = 0; i < 5000; i++) {
      counter.increment(i);
      // Full buffers go out as they fill; yielding now and then lets the receiver (in this process) read
      // them before the kernel's socket buffer overflows, so a loss can only be the sink's.
      if (i % 250 === 249) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(statsd.lines().length).toBeLessThan(5000);
    await metrics.close();
    const lines = await statsd.waitForLines(5000);
    expect(lines).toHaveLength(5000);
    expect(lines.map((l) => Number(/^orders:(\d+)\|c\|#shop:eu$/.exec(l)?.[1]))).toEqual(Array.from({ length: 5000 }, (_, i) => i));
    const bytes = lines.reduce((sum, l) => sum + l.length + 1, 0);
    expect(statsd.datagrams.length).toBeLessThanOrEqual(Math.ceil(bytes / 1300));
    expect(metrics.stats()).toMatchObject({ sent: 5000, dropped: 0, errors: 0 });
  });

  it('sends one datagram per metric when maxBufferSize is 0', async () => {
    const statsd = await server();
    const metrics = metricsFor({ host: '127.0.0.1', port: statsd.port, maxBufferSize: 0 });
    for (let i = 0; i < 5; i++) metrics.increment('single', i);
    await statsd.waitForLines(5);
    expect(statsd.datagrams).toEqual(['single:0|c', 'single:1|c', 'single:2|c', 'single:3|c', 'single:4|c']);
  });

  it('ignores DD_* environment variables: no Datadog mode, no extra tags, no other destination', async () => {
    const statsd = await server();
    const saved = { ...process.env };
    cleanups.push(() => {
      for (const key of Object.keys(process.env)) if (key.startsWith('DD_')) delete process.env[key];
      Object.assign(process.env, saved);
    });
    Object.assign(process.env, {
      DD_AGENT_HOST: '127.0.0.2',
      DD_DOGSTATSD_PORT: '9',
      DD_DOGSTATSD_URL: 'udp://127.0.0.3:9',
      DD_TAGS: 'injected:yes',
      DD_ENV: 'prod',
      DD_SERVICE: 'other',
      DD_VERSION: '9',
      DD_ENTITY_ID: 'pod-1',
      DD_EXTERNAL_ENV: 'it-x',
      DD_CARDINALITY: 'high',
    });
    const metrics = metricsFor({ host: '127.0.0.1', port: statsd.port, globalTags: { app: 'a' } });
    metrics.increment('clean', 1, { k: 'v' });
    await metrics.close();
    expect(await statsd.waitForLines(1)).toEqual(['clean:1|c|#app:a,k:v']);
  });
});

describe('statsd host resolution', () => {
  it('resolves a host name once, at creation, never per send, and keeps the lines recorded meanwhile', async () => {
    const statsd = await server();
    const lookups: string[] = [];
    const metrics = metricsFor({
      host: 'localhost',
      port: statsd.port,
      maxBufferSize: 0,
      lookup: async (host) => {
        lookups.push(host);
        return (await lookup(host, { family: 4 })).address;
      },
    });
    // Recorded before the lookup finished: held, then sent.
    for (let i = 0; i < 100; i++) metrics.increment('resolved', i);
    await statsd.waitForLines(100);
    for (let i = 0; i < 100; i++) metrics.increment('after', i);
    await statsd.waitForLines(200);
    expect(lookups).toEqual(['localhost']);
    expect(statsd.lines().slice(0, 3)).toEqual(['resolved:0|c', 'resolved:1|c', 'resolved:2|c']);
    expect(metrics.stats()).toMatchObject({ sent: 200, dropped: 0 });
  });

  it('resolves with dns.lookup by default (localhost reaches the loopback server)', async () => {
    const statsd = await server();
    const metrics = metricsFor({ host: 'localhost', port: statsd.port });
    metrics.increment('via.dns');
    await metrics.close();
    expect(await statsd.waitForLines(1)).toEqual(['via.dns:1|c']);
  });

  it('a host that does not resolve: calls neither throw nor slow down, lines are dropped and counted, the error is reported', async () => {
    const errors: Error[] = [];
    const metrics = metricsFor({ host: 'statsd.invalid', errorHandler: (error) => errors.push(error) });
    await waitFor(() => errors.length > 0, 15_000, () => 'the resolution failure');
    expect(errors[0]).toBeInstanceOf(KaryonError);
    expect(errors[0]).toMatchObject({ code: 'ERR_METRICS_TRANSPORT' });
    expect(errors[0]!.message).toMatch(/statsd host 'statsd.invalid' did not resolve/);
    // As cheap as calls to a statsd that answers, measured beside them (a call that blocked on the resolution
    // would take milliseconds, a hundred thousand times more).
    const counter = metrics.counter('lost', { a: 'b' });
    const statsd = await server();
    const baseline = metricsFor({ host: '127.0.0.1', port: statsd.port }).counter('lost', { a: 'b' });
    const { elapsed, baselineElapsed } = timedAgainst(() => counter.increment(), () => baseline.increment());
    expect(elapsed).toBeLessThan(10 * baselineElapsed + 20);
    expect(metrics.stats().dropped).toBeGreaterThanOrEqual(10_000);
    await metrics.close();
  });

  it('retries a failed resolution with doubling delays on the injected clock, then sends', async () => {
    const statsd = await server();
    const clock = new ManualClock();
    const attempts: number[] = [];
    const errors: Error[] = [];
    const start = clock.now();
    const metrics = metricsFor({
      host: 'statsd.example',
      port: statsd.port,
      clock,
      maxBufferSize: 0,
      lookupRetryMs: 1000,
      lookupRetryMaxMs: 8000,
      errorHandler: (error) => errors.push(error),
      lookup: (host) => {
        attempts.push(clock.now() - start);
        if (attempts.length < 4) return Promise.reject(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' }));
        return Promise.resolve('127.0.0.1');
      },
    });
    await clock.advanceAsync(0);
    metrics.increment('while.down');
    expect(metrics.stats().dropped).toBe(1);
    for (let i = 0; i < 40 && attempts.length < 4; i++) await clock.advanceAsync(500);
    expect(attempts).toHaveLength(4);
    // 1 s, 2 s, 4 s apart, each jittered by at most 20 %, on a 500 ms step.
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    expect(gaps[0]).toBeGreaterThanOrEqual(500);
    expect(gaps[0]).toBeLessThanOrEqual(1500);
    expect(gaps[1]).toBeGreaterThanOrEqual(1500);
    expect(gaps[1]).toBeLessThanOrEqual(2500);
    expect(gaps[2]).toBeGreaterThanOrEqual(3000);
    expect(gaps[2]).toBeLessThanOrEqual(5000);
    expect(errors).toHaveLength(3);
    metrics.increment('while.up');
    expect(await statsd.waitForLines(1)).toEqual(['while.up:1|c']);
    await clock.advanceAsync(60_000);
    expect(attempts).toHaveLength(4);
  });

  it('gives up on a resolution after lookupTimeoutMs, and close() aborts a retry in progress without reporting it', async () => {
    const clock = new ManualClock();
    const errors: Error[] = [];
    const signals: AbortSignal[] = [];
    const metrics = metricsFor({
      host: 'hangs.example',
      clock,
      lookupTimeoutMs: 2000,
      lookupRetryMs: 1000,
      errorHandler: (error) => errors.push(error),
      lookup: (_host, signal) => {
        signals.push(signal);
        return new Promise(() => undefined);
      },
    });
    await clock.advanceAsync(1999);
    expect(errors).toEqual([]);
    await clock.advanceAsync(1);
    expect(errors.map((e) => e.message)).toEqual(["resolving statsd host 'hangs.example' took longer than 2000 ms"]);
    expect(signals[0]!.aborted).toBe(true);
    await clock.advanceAsync(1200);
    expect(signals).toHaveLength(2);
    expect(signals[1]!.aborted).toBe(false);
    await metrics.close();
    expect(signals[1]!.aborted).toBe(true);
    expect(errors).toHaveLength(1);
  });

  it('close() waits for a resolution in progress and sends what was recorded meanwhile', async () => {
    const statsd = await server();
    let release: (address: string) => void = () => undefined;
    const metrics = metricsFor({ host: 'slow.example', port: statsd.port, lookup: () => new Promise((resolve) => (release = resolve)) });
    metrics.increment('early', 1);
    metrics.increment('early', 2);
    const closed = metrics.close();
    metrics.increment('too.late');
    release('127.0.0.1');
    await closed;
    expect(await statsd.waitForLines(2)).toEqual(['early:1|c', 'early:2|c']);
    expect(metrics.stats()).toMatchObject({ sent: 2, dropped: 1 });
  });
});

describe('statsd failures never reach the caller', () => {
  it('an unreachable port (nothing listening): no throw, calls stay cheap, close still resolves', async () => {
    const port = await closedPort();
    const errors: Error[] = [];
    const metrics = metricsFor({ host: '127.0.0.1', port, errorHandler: (e) => errors.push(e) });
    const counter = metrics.counter('nobody.listens', { a: 'b' });
    // As cheap as calls to a statsd that listens, measured beside them.
    const statsd = await server();
    const baseline = metricsFor({ host: '127.0.0.1', port: statsd.port }).counter('nobody.listens', { a: 'b' });
    const { elapsed, baselineElapsed } = timedAgainst(() => counter.increment(), () => baseline.increment());
    expect(elapsed).toBeLessThan(10 * baselineElapsed + 20);
    await metrics.flush();
    for (let i = 0; i < 100; i++) counter.increment();
    await metrics.close();
    expect(metrics.stats().sent).toBe(10_100);
  });

  it('a socket error (a datagram too large to send) goes to the error handler; later lines still arrive', async () => {
    const statsd = await server();
    const errors: Error[] = [];
    const metrics = metricsFor({ host: '127.0.0.1', port: statsd.port, maxBufferSize: 0, errorHandler: (e) => errors.push(e) });
    metrics.unique('huge', 'x'.repeat(70_000));
    await waitFor(() => errors.length > 0, 10_000, () => 'the send error');
    expect(errors[0]).toMatchObject({ code: 'ERR_METRICS_TRANSPORT' });
    expect(errors[0]!.message).toMatch(/EMSGSIZE/);
    metrics.increment('still.works');
    expect(await statsd.waitForLines(1)).toEqual(['still.works:1|c']);
    expect(metrics.stats().errors).toBe(1);
  });

  it('a buffered line longer than the buffer fails alone, not the lines around it', async () => {
    const statsd = await server();
    const errors: Error[] = [];
    const metrics = metricsFor({ host: '127.0.0.1', port: statsd.port, errorHandler: (e) => errors.push(e) });
    metrics.increment('before');
    metrics.unique('huge', 'y'.repeat(70_000));
    metrics.increment('after');
    await metrics.close();
    expect(await statsd.waitForLines(2)).toEqual(['before:1|c', 'after:1|c']);
    expect(errors).toHaveLength(1);
  });

  it('an error handler that throws is contained', async () => {
    const statsd = await server();
    let calls = 0;
    const metrics = metricsFor({
      host: '127.0.0.1',
      port: statsd.port,
      maxBufferSize: 0,
      errorHandler: () => {
        calls++;
        throw new Error('handler bug');
      },
    });
    metrics.unique('huge', 'z'.repeat(70_000));
    await waitFor(() => calls > 0, 10_000, () => 'the handler call');
    metrics.increment('alive');
    expect(await statsd.waitForLines(1)).toEqual(['alive:1|c']);
  });

  it('the default error handler logs a warning at most once a minute, with the count of errors since', async () => {
    const statsd = await server();
    const clock = new ManualClock();
    const warnings: { message: string; fields: unknown }[] = [];
    const logger: Logger = { ...silentLogger, warn: (message, fields) => warnings.push({ message, fields }) };
    const metrics = metricsFor({ host: '127.0.0.1', port: statsd.port, maxBufferSize: 0, clock, logger });
    for (let i = 0; i < 3; i++) metrics.unique('huge', 'q'.repeat(70_000));
    await waitFor(() => metrics.stats().errors === 3, 10_000, () => '3 errors');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({
      message: 'statsd transport error',
      fields: { target: `127.0.0.1:${statsd.port}`, errorsSinceLastLine: 0 },
    });
    clock.advance(60_000);
    metrics.unique('huge', 'q'.repeat(70_000));
    await waitFor(() => metrics.stats().errors === 4, 10_000, () => '4 errors');
    expect(warnings).toHaveLength(2);
    expect(warnings[1]!.fields).toMatchObject({ errorsSinceLastLine: 2 });
  });

  it('close() is idempotent, flushes once, and drops what is recorded after it', async () => {
    const statsd = await server();
    const metrics = metricsFor({ host: '127.0.0.1', port: statsd.port });
    const counter = metrics.counter('c');
    counter.increment();
    await Promise.all([metrics.close(), metrics.close(), metrics[Symbol.asyncDispose]()]);
    counter.increment();
    metrics.increment('c');
    await metrics.flush();
    await metrics.close();
    await statsd.settle();
    expect(statsd.lines()).toEqual(['c:1|c']);
    expect(metrics.stats()).toMatchObject({ sent: 1, dropped: 2 });
  });

  it('built-in handles send their documented lines', async () => {
    const statsd = await server();
    const metrics = metricsFor({ host: '127.0.0.1', port: statsd.port, prefix: 'svc', globalTags: { app: 'svc' } });
    const lifecycle = lifecycleMetrics(metrics);
    lifecycle.state('STARTING');
    lifecycle.transition('STARTING', 'UP');
    lifecycle.initializeDuration(42);
    await metrics.close();
    expect(await statsd.waitForLines(5)).toEqual([
      'svc.karyon.lifecycle.state:1|g|#app:svc,state:STARTING',
      'svc.karyon.lifecycle.transitions:1|c|#app:svc,from:STARTING,to:UP',
      'svc.karyon.lifecycle.state:0|g|#app:svc,state:STARTING',
      'svc.karyon.lifecycle.state:1|g|#app:svc,state:UP',
      'svc.karyon.lifecycle.initialize.duration:42|ms|#app:svc',
    ]);
  });
});

interface UnixDgramSocket {
  on(event: 'message', listener: (message: Buffer) => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
  bind(path: string): void;
  close(): void;
}
/**
 * hot-shots' optional native addon, compiled by node-gyp at install: where it did not build (no compiler, no
 * Node headers), statsd over a Unix socket is unavailable, and these tests skip saying so instead of failing
 * the whole file.
 */
function loadUnixDgram(): { module?: { createSocket(type: 'unix_dgram'): UnixDgramSocket }; missing?: string } {
  try {
    return { module: createRequire(import.meta.url)('unix-dgram') as { createSocket(type: 'unix_dgram'): UnixDgramSocket } };
  } catch (error) {
    return { missing: `the optional native addon unix-dgram is not built (${(error as Error).message.split('\n')[0]}); install a C++ compiler and Node's headers, then npm rebuild unix-dgram` };
  }
}
const { module: unixDgramModule, missing: unixDgramMissing } = loadUnixDgram();

describe.skipIf(unixDgramMissing !== undefined)(`statsd over a Unix datagram socket${unixDgramMissing === undefined ? '' : ` (skipped: ${unixDgramMissing})`}`, () => {
  const unixDgram = unixDgramModule!;

  function socketDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'karyon-uds-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  it('sends the same lines to a Unix datagram socket, flushed on close', async () => {
    const path = join(socketDir(), 'dsd.socket');
    const received: string[] = [];
    const listener = unixDgram.createSocket('unix_dgram');
    listener.on('message', (message) => received.push(message.toString('utf8')));
    listener.bind(path);
    cleanups.push(() => listener.close());
    const metrics = metricsFor({ path, globalTags: { app: 'uds' } });
    metrics.counter('requests', { route: '/' }).increment(3);
    metrics.timing('latency', 7);
    await metrics.close();
    await waitFor(() => received.length > 0, 10_000, () => 'a datagram on the Unix socket');
    expect(received.flatMap((d) => d.split('\n'))).toEqual(['requests:3|c|#app:uds,route:/', 'latency:7|ms|#app:uds']);
  });

  it('a socket path with nothing bound reports errors and never throws', async () => {
    const errors: Error[] = [];
    const metrics = metricsFor({ path: join(socketDir(), 'absent.socket'), maxBufferSize: 0, errorHandler: (e) => errors.push(e) });
    expect(() => metrics.increment('nowhere')).not.toThrow();
    await metrics.close();
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatchObject({ code: 'ERR_METRICS_TRANSPORT' });
  });
});
