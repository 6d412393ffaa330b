// The development Eureka server at registry sizes from 1,000 to 100,000 instances, against a plain node:http
// server doing the same I/O (answering the same requests with the same bytes and nothing else), measured in the
// same run, alternating rounds so noise on the shared machine hits both sides alike. At each size:
//  1. memory per lease: this process's heap plus Buffers after two full GCs, once the registry holds the
//     instances and has served every payload below (raw and gzipped), minus the same before the server started,
//     divided by the instances. The plain server's figure counts the bytes it holds to answer the same GETs.
//  2. heartbeats: PUT /eureka/apps/{APP}/{ID}?status=UP&lastDirtyTimestamp=T round-robin over every registered
//     instance, closed loop on 32 keep-alive connections (each sends its next heartbeat when the last one is
//     answered), 0.5 s warm-up then 3 s measured; the plain server answers 200. The load generator is a child
//     process, so the server under test has this process's thread to itself; "per CPU-second" divides every
//     heartbeat sent (warm-up included) by this process's CPU time (process.cpuUsage) over the round.
//  3. GET latency, sequential on one keep-alive connection in the child, after a warm-up run of up to 20
//     requests (a fifth of the measured ones, at least 2) that nothing measures: GET /apps/delta
//     with the fleet registered long ago and 200 recent changes in it, and the full GET /apps; each with the
//     registry unchanged between fetches and with a status change (PUT/DELETE .../status, sent to the plain
//     server too) before every fetch, each plain and with Accept-Encoding: gzip. The plain server sends the
//     bytes the development server sends for the same request (the gzipped ones for gzip). The client counts
//     the body's bytes and drops them (collecting 90 MiB would time the client's copy and garbage as the
//     server's). With each case, the server's CPU per GET (this process's CPU time over the measured requests,
//     zlib and GC helper threads included; status changes included where they precede each GET) and its GC
//     pauses per GET (from `gc` performance entries): figures the machine's load moves far less than latency.
// Results: medians over ROUNDS rounds (of each round's percentile for latencies), per size; the ratio to the
// plain server; the growth exponent k of cost ~ n^k from the smallest to the largest size (1 = linear, 0 = flat);
// with more than one size, the log-log plot of cost against size is written to docs/registry-server-scale.svg.
// Run: node --expose-gc --import tsx bench/registry-server.bench.ts           (1,000 and 10,000; 3 rounds)
//      REGISTRY_BENCH_SIZES=1000,10000,30000,100000 node --expose-gc --import tsx bench/registry-server.bench.ts
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Client, Pool, request } from 'undici';
import { systemClock } from '../src/common/Clock.js';
import type { Clock } from '../src/common/Clock.js';
import { encodeInstance } from '../src/registry/eureka/wire.js';
import { EurekaServer } from '../src/registry/server/index.js';
import type { InstanceDescriptor } from '../src/registry/types.js';
import { fmt, growthExponent, heapUsed, logLogPlot, median, percentile, stackPlots, table } from './support.js';

const SIZES = (process.env.REGISTRY_BENCH_SIZES ?? '1000,10000').split(',').map(Number);
const ROUNDS = Number(process.env.REGISTRY_BENCH_ROUNDS ?? 3);
const HEARTBEAT_SECONDS = 3;
const CONNECTIONS = 32;
const DELTA_CHANGES = 200;
const DELTA_REQUESTS = 300;
const LAST_DIRTY = 1_700_000_000_000;

/** Fetches of the full registry per round: fewer as it grows (9 KiB an instance... 90 MiB at 100,000). */
const fullRequests = (size: number, changeBefore: boolean): number => {
  const unchanged = Math.max(10, Math.min(300, Math.round(3_000_000 / size)));
  return changeBefore ? Math.max(5, Math.round(unchanged / 6)) : unchanged;
};

// ---------------------------------------------------------------------------------------------------------
// Load generator (the child process, one for the whole run, driven by messages)

interface HeartbeatJob {
  readonly kind: 'heartbeats';
  readonly base: string;
  readonly instances: number;
  readonly seconds: number;
}
interface LatencyJob {
  readonly kind: 'latency';
  readonly base: string;
  readonly path: string;
  readonly requests: number;
  readonly gzip: boolean;
  /** Whether a status change (PUT, then DELETE, of i-0's override) precedes each GET. */
  readonly changeBefore: boolean;
}
type Job = HeartbeatJob | LatencyJob;

interface HeartbeatResult {
  /** Heartbeats per wall-clock second in the measured window. */
  readonly perSecond: number;
  /** Every heartbeat sent, warm-up included (to divide the server's CPU time by). */
  readonly total: number;
  readonly failures: number;
}
interface LatencyResult {
  readonly samples: number[];
  /** Requests sent: the GETs and the status changes before them. */
  readonly requests: number;
  /** The GETs among them. */
  readonly gets: number;
  readonly failures: number;
}

async function heartbeats(job: HeartbeatJob): Promise<HeartbeatResult> {
  const { origin, pathname } = new URL(job.base);
  const pool = new Pool(origin, { connections: CONNECTIONS, pipelining: 1 });
  let next = 0;
  let done = 0;
  let total = 0;
  let failures = 0;
  let measuring = false;
  let stop = false;
  const worker = async (): Promise<void> => {
    while (!stop) {
      const id = next++ % job.instances;
      const { statusCode, body } = await pool.request({
        method: 'PUT',
        path: `${pathname}/apps/BENCH/i-${id}?status=UP&lastDirtyTimestamp=${LAST_DIRTY}`,
      });
      await body.dump();
      if (statusCode !== 200) failures++;
      total++;
      if (measuring) done++;
    }
  };
  const workers = Array.from({ length: CONNECTIONS }, () => worker());
  await new Promise((resolve) => setTimeout(resolve, 500)); // warm up connections and the JIT
  measuring = true;
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, job.seconds * 1000));
  const elapsed = performance.now() - started;
  measuring = false;
  stop = true;
  await Promise.all(workers);
  await pool.close();
  return { perSecond: (done / elapsed) * 1000, total, failures };
}

async function latency(job: LatencyJob): Promise<LatencyResult> {
  const { origin, pathname } = new URL(job.base);
  const client = new Client(origin, { pipelining: 1, bodyTimeout: 120_000, headersTimeout: 120_000 });
  const headers = { accept: 'application/json', ...(job.gzip ? { 'accept-encoding': 'gzip' } : {}) };
  const samples: number[] = [];
  let failures = 0;
  const changePath = `${pathname}/apps/BENCH/i-0/status`;
  for (let i = 0; i < job.requests; i++) {
    if (job.changeBefore) {
      const change = await client.request(
        i % 2 === 0 ? { method: 'PUT', path: `${changePath}?value=OUT_OF_SERVICE` } : { method: 'DELETE', path: `${changePath}?value=UP` },
      );
      await change.body.dump();
    }
    const started = performance.now();
    const response = await client.request({ method: 'GET', path: `${pathname}${job.path}`, headers });
    // The bytes are counted, not kept: collecting 90 MiB into one buffer is the client's cost (a copy, and
    // garbage that grows with the body), which would be timed as the server's.
    let bytes = 0;
    for await (const chunk of response.body) bytes += (chunk as Buffer).length;
    const ms = performance.now() - started;
    if (response.statusCode !== 200 || bytes === 0) failures++;
    samples.push(ms);
  }
  await client.close();
  return { samples, requests: job.changeBefore ? job.requests * 2 : job.requests, gets: job.requests, failures };
}

/** The load generator child: one process for the whole run, so its start-up is in no measurement. */
class LoadGenerator {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, (result: unknown) => void>();
  #next = 0;

  constructor() {
    this.#child = fork(fileURLToPath(import.meta.url), ['--loadgen'], { execArgv: ['--import', 'tsx'] });
    this.#child.on('message', (message: { id: number; result: unknown }) => {
      this.#pending.get(message.id)?.(message.result);
      this.#pending.delete(message.id);
    });
    this.#child.on('exit', (code) => {
      for (const settle of this.#pending.values()) settle(new Error(`load generator exited with ${code}`));
    });
  }

  async run<T>(job: Job): Promise<T> {
    const id = this.#next++;
    const result = await new Promise<unknown>((resolve) => {
      this.#pending.set(id, resolve);
      this.#child.send({ id, job });
    });
    if (result instanceof Error) throw result;
    return result as T;
  }

  close(): void {
    if (this.#child.connected) this.#child.disconnect();
    if (this.#child.exitCode === null) this.#child.kill();
  }
}

// ---------------------------------------------------------------------------------------------------------
// The servers (this process)

function descriptor(i: number): InstanceDescriptor {
  return {
    instanceId: `i-${i}`,
    app: 'BENCH',
    vipAddress: 'bench',
    secureVipAddress: 'bench',
    hostName: `host-${i}.internal`,
    ipAddr: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    port: 8080,
    portEnabled: true,
    securePort: 8443,
    securePortEnabled: false,
    zone: 'eu-west-1a',
    metadata: { zone: 'eu-west-1a', version: '1.4.2' },
    homePageUrl: `http://host-${i}.internal:8080/`,
    statusPageUrl: `http://host-${i}.internal:8077/status`,
    healthCheckUrl: `http://host-${i}.internal:8077/healthcheck`,
    leaseRenewalIntervalMs: 30_000,
    leaseDurationMs: 3_600_000,
  };
}

async function registerAll(server: EurekaServer, count: number, status = 'UP', lastDirty = LAST_DIRTY): Promise<void> {
  const pool = new Pool(new URL(server.url).origin, { connections: 16 });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const { statusCode, body } = await pool.request({
        method: 'POST',
        path: '/eureka/apps/BENCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ instance: encodeInstance(descriptor(i), status, lastDirty) }),
      });
      await body.dump();
      if (statusCode !== 204) throw new Error(`registration ${i} answered ${statusCode}`);
    }
  };
  await Promise.all(Array.from({ length: 16 }, () => worker()));
  await pool.close();
}

/** A plain server: 200 to anything but GET, and to a GET the bytes `bodies` holds for its path and encoding. */
async function plainServer(bodies: ReadonlyMap<string, Buffer>): Promise<{ server: Server; base: string }> {
  const server = createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    if (req.method !== 'GET') {
      res.writeHead(200).end();
      return;
    }
    const gzip = (req.headers['accept-encoding'] ?? '').includes('gzip');
    const body = bodies.get(`${gzip ? 'gz' : 'raw'} ${req.url ?? ''}`) ?? Buffer.alloc(0);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length, ...(gzip ? { 'content-encoding': 'gzip' } : {}) });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = address !== null && typeof address === 'object' ? address.port : 0;
  return { server, base: `http://127.0.0.1:${port}/eureka` };
}

const closeServer = (server: Server): Promise<void> =>
  new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });

/** Garbage collections of this process (the servers') so far: their count and total pause, in ms. */
const gcTotals = { count: 0, ms: 0 };
const gcObserver = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gcTotals.count++;
    gcTotals.ms += entry.duration;
  }
});

/** The GC totals once the entries queued so far are delivered (the observer hears of them a little later). */
async function gcSoFar(): Promise<{ count: number; ms: number }> {
  await new Promise((resolve) => setImmediate(resolve));
  return { ...gcTotals };
}

/** Heap in use plus Buffers (payloads are Buffers, outside the heap), after full collections. */
function memoryInUse(): number {
  const heap = heapUsed();
  return heap + process.memoryUsage().arrayBuffers;
}

interface LatencyCase {
  readonly name: string;
  readonly path: '/apps/delta' | '/apps';
  readonly gzip: boolean;
  readonly changeBefore: boolean;
}

const CASES: readonly LatencyCase[] = [
  { name: 'delta, unchanged', path: '/apps/delta', gzip: false, changeBefore: false },
  { name: 'delta gzip, unchanged', path: '/apps/delta', gzip: true, changeBefore: false },
  { name: 'delta, a change before each', path: '/apps/delta', gzip: false, changeBefore: true },
  { name: 'delta gzip, a change before each', path: '/apps/delta', gzip: true, changeBefore: true },
  { name: '/apps, unchanged', path: '/apps', gzip: false, changeBefore: false },
  { name: '/apps gzip, unchanged', path: '/apps', gzip: true, changeBefore: false },
  { name: '/apps, a change before each', path: '/apps', gzip: false, changeBefore: true },
  { name: '/apps gzip, a change before each', path: '/apps', gzip: true, changeBefore: true },
];

/** One measured cost at one size, ours and the plain server's. */
interface Cost {
  readonly metric: string;
  readonly size: number;
  readonly ours: number;
  readonly plain: number;
  readonly unit: string;
}

async function measureSize(size: number, loadgen: LoadGenerator): Promise<Cost[]> {
  const costs: Cost[] = [];
  const before = memoryInUse();
  // The fleet registered long ago: a clock moved past the delta retention after the registrations leaves
  // only the recent changes in the delta, as on a server that has been running for a while.
  let offsetMs = 0;
  const clock: Clock = { now: () => Date.now() + offsetMs, setTimeout: (callback, delayMs) => systemClock.setTimeout(callback, delayMs) };
  const eureka = new EurekaServer({ port: 0, host: '127.0.0.1', leaseDurationMs: 3_600_000, deltaRetentionMs: 180_000, clock });
  await eureka.listen();
  await registerAll(eureka, size);
  offsetMs = 181_000;
  // Recent changes: 200 instances re-registered as DOWN (a deploy going through the fleet).
  await registerAll(eureka, DELTA_CHANGES, 'DOWN', LAST_DIRTY + 1);

  // The bytes the plain server sends: the development server's own answers.
  const bodies = new Map<string, Buffer>();
  for (const path of ['/apps/delta', '/apps']) {
    for (const gzip of [false, true]) {
      const response = await request(`${eureka.url}${path}`, { headers: { accept: 'application/json', ...(gzip ? { 'accept-encoding': 'gzip' } : {}) } });
      const bytes = Buffer.from(await response.body.arrayBuffer());
      bodies.set(`${gzip ? 'gz' : 'raw'} /eureka${path}`, bytes);
    }
  }
  const withServer = memoryInUse();
  const held = new Map([...bodies].map(([key, bytes]) => [key, Buffer.from(bytes)]));
  const withPlainBytes = memoryInUse();
  costs.push({ metric: 'memory per lease', size, ours: (withServer - before) / size, plain: (withPlainBytes - withServer) / size, unit: 'bytes' });
  held.clear();

  const plain = await plainServer(bodies);
  try {
    // Heartbeats.
    const rounds = { ours: [] as { wall: number; cpu: number }[], plain: [] as { wall: number; cpu: number }[] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const [side, base] of [
        ['plain', plain.base],
        ['ours', eureka.url],
      ] as const) {
        const cpu = process.cpuUsage();
        const result = await loadgen.run<HeartbeatResult>({ kind: 'heartbeats', base, instances: size, seconds: HEARTBEAT_SECONDS });
        const used = process.cpuUsage(cpu);
        if (result.failures > 0) throw new Error(`${result.failures} heartbeats failed against ${base}`);
        rounds[side].push({ wall: result.perSecond, cpu: (used.user + used.system) / result.total });
      }
    }
    const cpuPer = (side: 'ours' | 'plain'): number => median(rounds[side].map((r) => r.cpu));
    const wallPer = (side: 'ours' | 'plain'): number => median(rounds[side].map((r) => r.wall));
    costs.push({ metric: 'heartbeat: server CPU', size, ours: cpuPer('ours'), plain: cpuPer('plain'), unit: 'µs' });
    costs.push({ metric: 'heartbeats per wall second', size, ours: wallPer('ours'), plain: wallPer('plain'), unit: '/s' });

    // GET latencies.
    for (const c of CASES) {
      const requests = c.path === '/apps' ? fullRequests(size, c.changeBefore) : DELTA_REQUESTS;
      const runs = { ours: [] as number[][], plain: [] as number[][] };
      const cpu = { ours: [] as number[], plain: [] as number[] };
      const gcPause = { ours: [] as number[], plain: [] as number[] };
      for (let round = 0; round < ROUNDS; round++) {
        for (const [side, base] of [
          ['plain', plain.base],
          ['ours', eureka.url],
        ] as const) {
          const job = { kind: 'latency', base, path: c.path, gzip: c.gzip, changeBefore: c.changeBefore } as const;
          // A warm-up run first (the JIT, the connection, a payload built by the previous case), measured by nothing.
          await loadgen.run<LatencyResult>({ ...job, requests: Math.min(20, Math.max(2, Math.round(requests / 5))) });
          const gcBefore = await gcSoFar();
          const cpuBefore = process.cpuUsage();
          const result = await loadgen.run<LatencyResult>({ ...job, requests });
          const used = process.cpuUsage(cpuBefore);
          const gcAfter = await gcSoFar();
          if (result.failures > 0) throw new Error(`${c.name}: ${result.failures} failed requests against ${base}`);
          runs[side].push(result.samples);
          cpu[side].push((used.user + used.system) / 1000 / result.gets);
          gcPause[side].push((gcAfter.ms - gcBefore.ms) / result.gets);
        }
      }
      const p = (side: 'ours' | 'plain', q: number): number => median(runs[side].map((samples) => percentile(samples, q)));
      const bytes = bodies.get(`${c.gzip ? 'gz' : 'raw'} /eureka${c.path}`)?.length ?? 0;
      costs.push({ metric: `${c.name} p50`, size, ours: p('ours', 50), plain: p('plain', 50), unit: `ms (${kib(bytes)})` });
      costs.push({ metric: `${c.name} p99`, size, ours: p('ours', 99), plain: p('plain', 99), unit: `ms (${kib(bytes)})` });
      costs.push({ metric: `${c.name}: server CPU`, size, ours: median(cpu.ours), plain: median(cpu.plain), unit: 'ms per GET' });
      costs.push({ metric: `${c.name}: GC pause`, size, ours: median(gcPause.ours), plain: median(gcPause.plain), unit: 'ms per GET' });
    }
  } finally {
    await Promise.all([eureka.close(), closeServer(plain.server)]);
  }
  return costs;
}

function kib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${fmt(bytes / 1024 / 1024, 1)} MiB` : `${fmt(bytes / 1024, 1)} KiB`;
}

const decimals = (value: number): number => (value >= 100 ? 0 : value >= 1 ? 2 : 3);

function plot(costs: readonly Cost[]): string {
  const series = (metric: string, side: 'ours' | 'plain'): [number, number][] =>
    costs.filter((c) => c.metric === metric).map((c) => [c.size, c[side]]);
  const pair = (metric: string, label: string, color: string) => [
    { label: `server: ${label}`, color, points: series(metric, 'ours') },
    { label: `plain: ${label}`, color, dash: '6 4', points: series(metric, 'plain') },
  ];
  const xLabel = 'instances in the registry';
  return stackPlots([
    logLogPlot({
      title: 'Heartbeat: server CPU µs per PUT renew (log) against registry size',
      xLabel,
      series: pair('heartbeat: server CPU', 'CPU per heartbeat', '#1f77b4'),
    }),
    logLogPlot({
      title: 'GET p50 latency (ms, log) against registry size; dashed: plain node:http, same bytes',
      xLabel,
      series: [
        ...pair('delta gzip, a change before each p50', 'delta gz, changed', '#2ca02c'),
        ...pair('/apps gzip, unchanged p50', '/apps gz, unchanged', '#ff7f0e'),
        ...pair('/apps gzip, a change before each p50', '/apps gz, changed', '#d62728'),
      ],
    }),
    logLogPlot({
      title: 'Memory (heap + Buffers) per instance, bytes (log), against registry size',
      xLabel,
      series: pair('memory per lease', 'bytes per instance', '#9467bd'),
    }),
  ]);
}

async function main(): Promise<void> {
  if ((globalThis as { gc?: unknown }).gc === undefined) throw new Error('run with node --expose-gc --import tsx (memory is measured after full GCs)');
  console.log(`registry-server benchmark: node ${process.version}, ${cpus().length} CPUs, sizes ${SIZES.join(', ')}, ${ROUNDS} rounds`);
  console.log(`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(', ')}`);
  gcObserver.observe({ entryTypes: ['gc'] });
  const loadgen = new LoadGenerator();
  const costs: Cost[] = [];
  try {
    for (const size of SIZES) {
      const measured = await measureSize(size, loadgen);
      costs.push(...measured);
      table(
        `${size.toLocaleString('en-US')} instances (medians of ${ROUNDS} rounds; ratio = server / plain node:http doing the same I/O)`,
        measured.map((c) => ({
          metric: c.metric,
          unit: c.unit,
          server: fmt(c.ours, decimals(c.ours)),
          plain: fmt(c.plain, decimals(c.plain)),
          ratio: fmt(c.ours / c.plain),
        })),
      );
    }
  } finally {
    loadgen.close();
    gcObserver.disconnect();
    console.log(`load average at end: ${loadavg().map((l) => l.toFixed(2)).join(', ')}`);
  }
  if (SIZES.length < 2) return;
  const metrics = [...new Set(costs.map((c) => c.metric))];
  const first = Math.min(...SIZES);
  const last = Math.max(...SIZES);
  table(
    `Growth from ${first.toLocaleString('en-US')} to ${last.toLocaleString('en-US')} instances: exponent k of cost ~ n^k (1 = linear, 0 = flat; for heartbeats per wall second, a rate, 0 = flat)`,
    metrics.map((metric) => {
      const of = (side: 'ours' | 'plain'): [number, number][] => costs.filter((c) => c.metric === metric).map((c) => [c.size, c[side]]);
      const at = (size: number): Cost => costs.find((c) => c.metric === metric && c.size === size)!;
      return {
        metric,
        'server k': fmt(growthExponent(of('ours'))),
        'plain k': fmt(growthExponent(of('plain'))),
        [`ratio at ${first}`]: fmt(at(first).ours / at(first).plain),
        [`ratio at ${last}`]: fmt(at(last).ours / at(last).plain),
      };
    }),
  );
  const file = fileURLToPath(new URL('../docs/registry-server-scale.svg', import.meta.url));
  writeFileSync(file, plot(costs));
  console.log('\nplot written to docs/registry-server-scale.svg');
}

if (process.argv[2] === '--loadgen') {
  process.on('message', (message: { id: number; job: Job }) => {
    const run = message.job.kind === 'heartbeats' ? heartbeats(message.job) : latency(message.job);
    void run.then((result) => process.send?.({ id: message.id, result }));
  });
  process.on('disconnect', () => process.exit(0));
} else {
  await main();
}
