// The development Eureka server against a plain node:http server doing the least the same requests need,
// measured in the same run, alternating rounds so noise on the shared machine hits both sides alike:
//  1. heartbeats per second: PUT /eureka/apps/{APP}/{ID}?status=UP&lastDirtyTimestamp=T round-robin over
//     1,000 registered instances, 32 keep-alive connections, against a plain server answering 200. The load
//     generator runs in a child process, so the server under test has this process's one thread to itself.
//  2. GET /apps/delta latency (p50/p99, sequential on one keep-alive connection) with 10,000 registered
//     instances and 200 changes in the delta, against a plain server sending the same bytes: with the
//     registry unchanged between fetches (the payload is built once per change), with a status change before
//     every fetch (the payload is rebuilt every time), and gzipped as clients ask for it. The full registry
//     (GET /apps) is measured the same way, for scale.
// Run: npx tsx bench/registry-server.bench.ts
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { cpus } from 'node:os';
import { gzipSync } from 'node:zlib';
import { Client, Pool, request } from 'undici';
import { systemClock } from '../src/common/Clock.js';
import type { Clock } from '../src/common/Clock.js';
import { encodeInstance } from '../src/registry/eureka/wire.js';
import { EurekaServer } from '../src/registry/server/index.js';
import type { InstanceDescriptor } from '../src/registry/types.js';
import { fmt, median, percentile, table } from './support.js';

const ROUNDS = 5;
const HEARTBEAT_INSTANCES = 1_000;
const HEARTBEAT_SECONDS = 3;
const CONNECTIONS = 32;
const DELTA_INSTANCES = 10_000;
const DELTA_CHANGES = 200;
const LATENCY_REQUESTS = 1_000;
const FULL_REQUESTS = 30;
const LAST_DIRTY = 1_700_000_000_000;

// ---------------------------------------------------------------------------------------------------------
// Load generator (the child process)

interface HeartbeatJob {
  readonly kind: 'heartbeats';
  readonly base: string;
  readonly seconds: number;
}
interface LatencyJob {
  readonly kind: 'latency';
  readonly url: string;
  readonly requests: number;
  readonly gzip: boolean;
  /** URLs to PUT/DELETE in turn before each GET (a status change), or none. */
  readonly changeBefore: boolean;
  readonly base: string;
}
type Job = HeartbeatJob | LatencyJob;

interface HeartbeatResult {
  /** Heartbeats per wall-clock second in the measured window. */
  readonly perSecond: number;
  /** Every heartbeat sent, warm-up included (to divide the server's CPU time by). */
  readonly total: number;
  readonly failures: number;
}

async function heartbeats(job: HeartbeatJob): Promise<HeartbeatResult> {
  const origin = new URL(job.base).origin;
  const path = new URL(job.base).pathname;
  const pool = new Pool(origin, { connections: CONNECTIONS, pipelining: 1 });
  let next = 0;
  let done = 0;
  let total = 0;
  let failures = 0;
  let measuring = false;
  let stop = false;
  const worker = async (): Promise<void> => {
    while (!stop) {
      const id = next++ % HEARTBEAT_INSTANCES;
      const { statusCode, body } = await pool.request({
        method: 'PUT',
        path: `${path}/apps/BENCH/i-${id}?status=UP&lastDirtyTimestamp=${LAST_DIRTY}`,
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

async function latency(job: LatencyJob): Promise<{ samples: number[]; failures: number; bytes: number }> {
  const url = new URL(job.url);
  const client = new Client(url.origin, { pipelining: 1 });
  const headers = { accept: 'application/json', ...(job.gzip ? { 'accept-encoding': 'gzip' } : {}) };
  const samples: number[] = [];
  let failures = 0;
  let bytes = 0;
  const changePath = `${new URL(job.base).pathname}/apps/BENCH/i-0/status`;
  for (let i = 0; i < job.requests + 20; i++) {
    if (job.changeBefore) {
      const change = await client.request(
        i % 2 === 0 ? { method: 'PUT', path: `${changePath}?value=OUT_OF_SERVICE` } : { method: 'DELETE', path: `${changePath}?value=UP` },
      );
      await change.body.dump();
    }
    const started = performance.now();
    const response = await client.request({ method: 'GET', path: url.pathname, headers });
    const body = Buffer.from(await response.body.arrayBuffer());
    const ms = performance.now() - started;
    if (response.statusCode !== 200 || body.length === 0) failures++;
    if (i >= 20) samples.push(ms); // the first few warm the JIT and the connection
    bytes = body.length;
  }
  await client.close();
  return { samples, failures, bytes };
}

if (process.argv[2] === '--loadgen') {
  const job = JSON.parse(process.argv[3] ?? '{}') as Job;
  const result = job.kind === 'heartbeats' ? await heartbeats(job) : await latency(job);
  process.send?.(result);
  process.exit(0);
}

function runChild<T>(job: Job): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = fork(new URL(import.meta.url).pathname, ['--loadgen', JSON.stringify(job)], { execArgv: ['--import', 'tsx'] });
    let result: T | undefined;
    child.on('message', (message) => (result = message as T));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 && result !== undefined ? resolve(result) : reject(new Error(`load generator exited with ${code}`))));
  });
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

/** A plain server: 200 to anything but GET, and `body` (with its headers) to GET. */
async function plainServer(body: Buffer = Buffer.alloc(0), headers: Record<string, string> = {}): Promise<{ server: Server; base: string }> {
  const server = createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length, ...headers });
      res.end(body);
    } else {
      res.writeHead(200).end();
    }
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

/** Runs a heartbeat load against `base`; also measures this process's CPU time, which is the server's. */
async function heartbeatRound(base: string): Promise<{ perSecond: number; perCpuSecond: number }> {
  const cpu = process.cpuUsage();
  const result = await runChild<HeartbeatResult>({ kind: 'heartbeats', base, seconds: HEARTBEAT_SECONDS });
  const used = process.cpuUsage(cpu);
  if (result.failures > 0) throw new Error(`${result.failures} heartbeats failed against ${base}`);
  return { perSecond: result.perSecond, perCpuSecond: result.total / ((used.user + used.system) / 1e6) };
}

async function heartbeatBenchmark(): Promise<void> {
  const eureka = new EurekaServer({ port: 0, host: '127.0.0.1', leaseDurationMs: 3_600_000 });
  await eureka.listen();
  await registerAll(eureka, HEARTBEAT_INSTANCES);
  const plain = await plainServer();
  const plainRounds: { perSecond: number; perCpuSecond: number }[] = [];
  const eurekaRounds: { perSecond: number; perCpuSecond: number }[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    plainRounds.push(await heartbeatRound(plain.base));
    eurekaRounds.push(await heartbeatRound(eureka.url));
  }
  const wall = (rounds: typeof plainRounds): number => median(rounds.map((r) => r.perSecond));
  const cpu = (rounds: typeof plainRounds): number => median(rounds.map((r) => r.perCpuSecond));
  table(
    `Heartbeats: PUT renew over ${CONNECTIONS} keep-alive connections, ${HEARTBEAT_INSTANCES} instances, load generator in a child process ` +
      `(median of ${ROUNDS} rounds of ${HEARTBEAT_SECONDS} s). "per CPU-second" divides by the server thread's own CPU time: ` +
      'heartbeats one core sustains, and the steadier figure on a shared machine.',
    [
      { server: 'plain node:http answering 200', 'per CPU-second': fmt(cpu(plainRounds), 0), 'vs plain': '1.00', 'per wall second': fmt(wall(plainRounds), 0), 'vs plain ': '1.00' },
      {
        server: 'development Eureka server',
        'per CPU-second': fmt(cpu(eurekaRounds), 0),
        'vs plain': fmt(cpu(eurekaRounds) / cpu(plainRounds)),
        'per wall second': fmt(wall(eurekaRounds), 0),
        'vs plain ': fmt(wall(eurekaRounds) / wall(plainRounds)),
      },
    ],
  );
  await Promise.all([eureka.close(), closeServer(plain.server)]);
}

interface LatencyCase {
  readonly name: string;
  readonly path: '/apps/delta' | '/apps';
  readonly gzip: boolean;
  readonly changeBefore: boolean;
  readonly requests: number;
}

async function latencyBenchmark(): Promise<void> {
  // The fleet registered long ago: a clock moved past the delta retention after the registrations leaves
  // only the recent changes in the delta, as on a server that has been running for a while.
  let offsetMs = 0;
  const clock: Clock = { now: () => Date.now() + offsetMs, setTimeout: (callback, delayMs) => systemClock.setTimeout(callback, delayMs) };
  const eureka = new EurekaServer({ port: 0, host: '127.0.0.1', leaseDurationMs: 3_600_000, deltaRetentionMs: 180_000, clock });
  await eureka.listen();
  await registerAll(eureka, DELTA_INSTANCES);
  offsetMs = 181_000;
  // Recent changes: 200 instances re-registered as DOWN (a deploy going through the fleet).
  await registerAll(eureka, DELTA_CHANGES, 'DOWN', LAST_DIRTY + 1);
  const cases: LatencyCase[] = [
    { name: 'delta, registry unchanged', path: '/apps/delta', gzip: false, changeBefore: false, requests: LATENCY_REQUESTS },
    { name: 'delta, a change before each', path: '/apps/delta', gzip: false, changeBefore: true, requests: LATENCY_REQUESTS },
    { name: 'delta gzip, a change before each', path: '/apps/delta', gzip: true, changeBefore: true, requests: LATENCY_REQUESTS },
    { name: 'full /apps, registry unchanged', path: '/apps', gzip: false, changeBefore: false, requests: FULL_REQUESTS },
  ];
  const rows: Record<string, string>[] = [];
  for (const c of cases) {
    // The plain server sends exactly the bytes the development server sends for the same request.
    const sample = await request(`${eureka.url}${c.path}`, { headers: { accept: 'application/json' } });
    const json = Buffer.from(await sample.body.arrayBuffer());
    const bytes = c.gzip ? gzipSync(json) : json;
    const plain = await plainServer(bytes, c.gzip ? { 'content-encoding': 'gzip' } : {});
    const plainRuns: number[][] = [];
    const eurekaRuns: number[][] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const [base, runs] of [
        [plain.base, plainRuns],
        [eureka.url, eurekaRuns],
      ] as const) {
        const result = await runChild<{ samples: number[]; failures: number }>({
          kind: 'latency',
          url: `${base}${c.path}`,
          base,
          requests: c.requests,
          gzip: c.gzip,
          changeBefore: c.changeBefore,
        });
        if (result.failures > 0) throw new Error(`${c.name}: ${result.failures} failed requests`);
        runs.push(result.samples);
      }
    }
    const p = (runs: number[][], q: number): number => median(runs.map((samples) => percentile(samples, q)));
    rows.push({
      case: c.name,
      body: c.gzip ? `${fmt(bytes.length / 1024, 0)} KiB gz` : `${fmt(bytes.length / 1024, 0)} KiB`,
      'plain p50 ms': fmt(p(plainRuns, 50), 3),
      'server p50 ms': fmt(p(eurekaRuns, 50), 3),
      'p50 ratio': fmt(p(eurekaRuns, 50) / p(plainRuns, 50)),
      'plain p99 ms': fmt(p(plainRuns, 99), 3),
      'server p99 ms': fmt(p(eurekaRuns, 99), 3),
      'p99 ratio': fmt(p(eurekaRuns, 99) / p(plainRuns, 99)),
    });
    await closeServer(plain.server);
  }
  table(
    `GET latency with ${DELTA_INSTANCES} instances and ${DELTA_CHANGES} recent changes, sequential on one keep-alive connection (median over ${ROUNDS} rounds of each round's percentile)`,
    rows,
  );
  await eureka.close();
}

console.log(`registry-server benchmark: node ${process.version}, ${cpus().length} CPUs`);
await heartbeatBenchmark();
await latencyBenchmark();
