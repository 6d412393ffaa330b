// The cost of recording one counter, one timing and one gauge with three tags per call, through karyon-ts
// pre-bound handles against hot-shots used directly (unbuffered and buffered), measured in the same run
// with the variants interleaved round by round, so the shared machine's noise falls on all of them alike.
// Also counts the datagrams each variant sends per 10,000 calls (at the socket) and what a real UDP
// receiver on loopback got.
// Run: npx tsx bench/metrics.bench.ts
import dgram from 'node:dgram';
import StatsD from 'hot-shots';
import type { ClientOptions, StatsD as StatsDClient } from 'hot-shots';
import { createMetrics, noopMetrics } from '../src/metrics/index.js';
import type { Metrics } from '../src/metrics/index.js';
import { fmt, median, table } from './support.js';

const CALLS = 10_000;
const ROUNDS = 25;
const TAGS = { route: '/hello', method: 'GET', zone: 'eu-1a' } as const;

// Count datagrams at the socket: every UDP send of every variant goes through this method.
let datagrams = 0;
const send = Object.getOwnPropertyDescriptor(dgram.Socket.prototype, 'send')!.value as (...args: unknown[]) => void;
dgram.Socket.prototype.send = function (this: dgram.Socket, ...args: unknown[]) {
  datagrams++;
  send.apply(this, args);
} as typeof dgram.Socket.prototype.send;

const receiver = dgram.createSocket('udp4');
let received = 0;
receiver.on('message', () => received++);
await new Promise<void>((resolve) => receiver.bind(0, '127.0.0.1', resolve));
receiver.setRecvBufferSize(16 * 1024 * 1024);
const port = receiver.address().port;

interface Variant {
  readonly name: string;
  /** One call: a counter, a timing and a gauge, three tags each. */
  readonly call: (i: number) => void;
  /** Sends anything buffered and waits until every send completed. */
  readonly drain: () => Promise<void>;
  readonly close: () => Promise<void>;
}

// hot-shots configured as the sink configures it, so the environment cannot change what is measured.
const hotShotsOptions: ClientOptions = {
  host: '127.0.0.1',
  port,
  datadog: false,
  includeDataDogTags: false,
  includeDatadogTelemetry: false,
  telegraf: false,
  cacheDns: false,
  errorHandler: () => undefined,
};

function hotShots(name: string, maxBufferSize: number): Variant {
  const client: StatsDClient = new StatsD({ ...hotShotsOptions, maxBufferSize, bufferFlushInterval: 1000 });
  return {
    name,
    call: (i) => {
      client.increment('bench.requests', 1, TAGS);
      client.timing('bench.latency', i & 63, TAGS);
      client.gauge('bench.queue', i & 15, TAGS);
    },
    drain: () => new Promise((resolve) => client.flush(() => resolve())),
    close: () => new Promise((resolve) => client.close(() => resolve())),
  };
}

function handles(name: string, metrics: Metrics): Variant {
  const requests = metrics.counter('bench.requests', TAGS);
  const latency = metrics.timer('bench.latency', TAGS);
  const queue = metrics.gauge('bench.queue', TAGS);
  return {
    name,
    call: (i) => {
      requests.increment();
      latency.record(i & 63);
      queue.set(i & 15);
    },
    drain: () => metrics.flush(),
    close: () => metrics.close(),
  };
}

function oneShot(name: string, metrics: Metrics): Variant {
  return {
    name,
    call: (i) => {
      metrics.increment('bench.requests', 1, TAGS);
      metrics.timing('bench.latency', i & 63, TAGS);
      metrics.gauge('bench.queue', i & 15, TAGS);
    },
    drain: () => metrics.flush(),
    close: () => metrics.close(),
  };
}

const statsd = { host: '127.0.0.1', port } as const;
const makers: (() => Variant)[] = [
  () => hotShots('hot-shots unbuffered', 0),
  () => hotShots('hot-shots buffered 1400', 1400),
  () => handles('karyon handles, unbuffered', createMetrics({ ...statsd, maxBufferSize: 0 })),
  () => handles('karyon handles, buffered 1400', createMetrics(statsd)),
  () => handles('karyon handles, buffered + Prometheus', createMetrics({ ...statsd, prometheus: true })),
  () => handles('karyon handles, Prometheus only', createMetrics({ prometheus: true })),
  () => oneShot('karyon one-shot calls, buffered 1400', createMetrics(statsd)),
  () => handles('karyon no-op (statsd off)', noopMetrics),
];

async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Datagrams sent and received for 10,000 calls on a fresh instance of a variant. */
async function countDatagrams(make: () => Variant): Promise<{ sent: number; received: number }> {
  const variant = make();
  await variant.drain();
  await settle();
  const sentBefore = datagrams;
  const receivedBefore = received;
  for (let i = 0; i < CALLS; i++) {
    variant.call(i);
    // Yield often, so the receiver (in this process) keeps up and counts what was sent, not what its
    // socket buffer could hold.
    if (i % 100 === 99) await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await variant.close();
  await new Promise((resolve) => setTimeout(resolve, 200));
  return { sent: datagrams - sentBefore, received: received - receivedBefore };
}

const variants = makers.map((make) => make());
const sync = new Map<string, number[]>(variants.map((v) => [v.name, []]));
const drained = new Map<string, number[]>(variants.map((v) => [v.name, []]));

// Warm up every path (JIT, socket bind) before measuring.
for (const variant of variants) {
  for (let i = 0; i < CALLS; i++) variant.call(i);
  await variant.drain();
  await settle();
}

for (let round = 0; round < ROUNDS; round++) {
  // Each round starts at another variant, so none always runs right after the costly unbuffered ones.
  for (let k = 0; k < variants.length; k++) {
    const variant = variants[(round + k) % variants.length]!;
    const started = performance.now();
    for (let i = 0; i < CALLS; i++) variant.call(i);
    const recorded = performance.now();
    await variant.drain();
    const done = performance.now();
    sync.get(variant.name)!.push(((recorded - started) * 1e6) / CALLS);
    drained.get(variant.name)!.push(((done - started) * 1e6) / CALLS);
    await settle();
  }
}
for (const variant of variants) await variant.close();

const counts = new Map<string, { sent: number; received: number }>();
for (const make of makers) {
  const probe = make();
  await probe.close();
  counts.set(probe.name, await countDatagrams(make));
}

const baseline = median(sync.get('hot-shots buffered 1400')!);
const baselineDrained = median(drained.get('hot-shots buffered 1400')!);
table(
  `Recording 1 counter + 1 timing + 1 gauge, 3 tags each, per call (median of ${ROUNDS} rounds of ${CALLS} calls; ratio < 1 is faster than hot-shots buffered)`,
  variants.map((v) => {
    const s = median(sync.get(v.name)!);
    const d = median(drained.get(v.name)!);
    const c = counts.get(v.name)!;
    return {
      variant: v.name,
      'ns/call (recording)': fmt(s, 0),
      'x hot-shots buffered': fmt(s / baseline),
      'ns/call (incl. sending)': fmt(d, 0),
      'x hot-shots buffered ': fmt(d / baselineDrained),
      'datagrams / 10k calls': c.sent,
      'received / 10k calls': c.received,
    };
  }),
);
receiver.close();
