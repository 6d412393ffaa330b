// How much a full registry fetch stalls the service that makes it, and what it does to the requests that service
// serves meanwhile, against eureka-js-client 4.5.0 in the same run.
//
// Set-up: this (parent) process serves a synthetic `GET /apps` (see eureka-payload.ts) gzipped over loopback, as
// Eureka servers do, at each registry size, in two versions answered in turn that differ in every lease's
// lastRenewalTimestamp (30 s apart): a server writes its registry again after any change, with the leases as they
// are then, so a fetch over a held view reads the same instances in a new text. For each size and client, a child
// process runs a small HTTP service (each request answers a short JSON) and holds the client; every client warms
// its code up on a 500-instance registry first. The parent drives that service open-loop, one request every 2.5 ms
// (400 requests/s, keep-alive), for the whole measurement, and records when each request was sent and its latency.
// Load regime, for two kinds of fetch in turn: "fetch 1", a fresh client fetching into an empty view (the client
// of the repetition before is closed between repetitions), then "fetch 2", a full fetch over the view the client
// holds. One repetition: a fetch; 100 ms, then a clean-up outside any measured window (the retired client
// closed, two full GCs, so that one repetition's garbage is not collected during the next); then two windows
// without a fetch, each as long as that fetch took ("reference" and "control", their order alternating).
// Repetitions follow back to back until EUREKA_STALL_REQUESTS (default 2,000) requests were sent while a fetch was
// in progress, at least EUREKA_STALL_MIN_REPEATS (3) and at most EUREKA_STALL_MAX_REPEATS (60) times; from 50,000
// instances, where one fetch takes about 1 s, at most EUREKA_STALL_LARGE_REPEATS (4: 1,800 to 2,200 requests at a
// load average of 1.3). The output says where a cap ended the repetitions short of the requests asked for.
// Requests: those sent while a fetch was in progress are pooled over the repetitions (N of them) and compared with
// the first N sent in the reference windows (no fetch in progress, same child, same load, interleaved with the
// fetches so that a drift of the machine's load touches both alike, the same instruments running). Reported per
// sample: p50, p90, p99, p99.9 and max, and the share of requests delayed more than 1 ms and 5 ms beyond the
// reference p50; then p99 during / p99 without (the goal: at most 1.2) beside the control ratio, the p99 of N
// requests of the control windows over the reference p99: two samples of the same size with no fetch in either,
// so it reads what a ratio of such samples shows when nothing differs (the method's resolution on this machine),
// with the 90% band of that ratio over random splits of the same 2N no-fetch requests into two halves.
// The event loop, in every window: the longest gap between the ticks of a 1 ms interval timer ("longest block"),
// and monitorEventLoopDelay's max (1 ms resolution, "ELD max"). The histogram under-reports long blocks of
// eureka-js-client here (it shows tens of ms while the timer waits seconds and requests time out), so the timer's
// gaps are the figure used: per fetch kind their median and max over the repetitions, and the same timer's
// longest gap in the windows without a fetch (the machine's noise floor under the same load). During each fetch
// the child also records the CPU time of its event-loop thread (Linux, /proc/thread-self/schedstat; unlike the
// gaps, it does not count the time other processes held the CPU), the time that thread was ready to run but waited
// for a CPU (the same file: what other threads, the client's own included, added to its blocks) and its GC pauses,
// and a sibling process that only ticks its own 1 ms timer records its longest gap meanwhile.
// Clients: karyon-ts as configured by default; "karyon-ts idle", the same with decodePriority 'idle' (its decoding
// thread in SCHED_IDLE: it gives way at once to any other thread that wants a CPU); eureka-js-client.
// Each child is a fresh process (started with --expose-gc); variants alternate in order from round to round.
// Results: medians over ROUNDS rounds (latency figures per round; longest blocks over every repetition of every
// round); the SVG plot of stall and fetch time against registry size is written to docs/eureka-fetch-stall.svg
// (not in the real-server mode below).
// With EUREKA_STALL_SERVER=real, each registry is served instead by the real Eureka server (Spring Cloud Netflix, one
// peer, started for each size with full tiered JIT, the serial collector and a 3 GB heap; needs java and mvn, and
// says it skipped without them): the same fleet, each instance registered through its REST API, the server
// writing the leases, the body and its gzip (chunked) itself. Nothing renews meanwhile, so both kinds of fetch
// read the same registry: fetch 2 gets the very bytes of fetch 1 from the server's response cache (as from a
// registry that did not change between two fetches). The warm-up registry stays synthetic.
// Run: npx tsx bench/eureka-stall.bench.ts            (sizes 1000,10000,30000,100000; 3 rounds)
//      EUREKA_STALL_SIZES=10000,100000 EUREKA_STALL_ROUNDS=1 npx tsx bench/eureka-stall.bench.ts
//      EUREKA_STALL_SERVER=real EUREKA_STALL_SIZES=10000 EUREKA_STALL_ROUNDS=1 npx tsx bench/eureka-stall.bench.ts
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { PerformanceObserver, constants, monitorEventLoopDelay } from 'node:perf_hooks';
import type { NodeGCPerformanceDetail } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Pool, request } from 'undici';
import { EurekaRegistry } from '../src/registry/eureka/index.js';
import { buildInterop, interopMissing, startEurekaCluster } from '../test/interop/harness.js';
import { untilServed, writeAll } from '../test/interop/peers.js';
import { appsOf, fleet, makeJsClient, payload } from './eureka-payload.js';
import type { JsClient } from './eureka-payload.js';
import { fmt, gapTicker, gc, logLogPlot, median, percentile, seeded, table } from './support.js';

const env = (name: string, fallback: number): number => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name}: expected a number >= 0, got ${String(process.env[name])}`);
  return value;
};
const SIZES = (process.env.EUREKA_STALL_SIZES ?? '1000,10000,30000,100000').split(',').map(Number);
/** The registries served by the real Eureka server rather than by this process (see above). */
const REAL_SERVER = process.env.EUREKA_STALL_SERVER === 'real';
const ROUNDS = env('EUREKA_STALL_ROUNDS', 3);
/** Requests sent during fetches to pool, per fetch kind. */
const TARGET_REQUESTS = env('EUREKA_STALL_REQUESTS', 2000);
const MIN_REPEATS = Math.max(1, env('EUREKA_STALL_MIN_REPEATS', 3));
const MAX_REPEATS = env('EUREKA_STALL_MAX_REPEATS', 60);
const LARGE_REPEATS = env('EUREKA_STALL_LARGE_REPEATS', 4);
/** From this registry size on, a fetch takes about a second: LARGE_REPEATS caps the repetitions. */
const LARGE_SIZE = 50_000;
const REQUEST_EVERY_MS = 2.5;
/** Load before the first window, so that connections are open and the service's code warm. */
const WARM_MS = 500;
/** After a fetch, before its clean-up: requests sent then are in no sample. */
const SETTLE_MS = 100;
/** Between two windows: a request sent at the end of one is not delayed by the start of the next. */
const GUARD_MS = 30;
// 'karyon-ts idle' is karyon-ts with decodePriority 'idle' (its decoding thread in SCHED_IDLE).
const VARIANTS = ['karyon-ts', 'karyon-ts idle', 'eureka-js-client'] as const;
const PEER: Variant = 'eureka-js-client';
type Variant = (typeof VARIANTS)[number];
const KINDS = ['1', '2'] as const;
type Kind = (typeof KINDS)[number];

/** What the child measured over one window: a fetch, or the same time without one. */
interface WindowStats {
  /** Wall time of the window; for a fetch, from the call to a usable view (request, gunzip, parse, apply). */
  readonly ms: number;
  /** monitorEventLoopDelay's max over the window. */
  readonly eldMaxMs: number;
  /** Longest gap between the ticks of a 1 ms timer over the window: the longest block. */
  readonly maxGapMs: number;
  /** CPU time of the event-loop thread over the window (Linux), NaN where unknown: blind to other processes. */
  readonly loopCpuMs: number;
  /**
   * Time the event-loop thread was ready to run but waited for a CPU over the window (Linux, the run-queue wait of
   * /proc/thread-self/schedstat), NaN where unknown: the part of its blocks that other threads made.
   */
  readonly loopWaitMs: number;
  /** Instances the client holds after a fetch (0 for a window without one). */
  readonly cached: number;
  /** GC pauses over the window (PerformanceObserver 'gc' entries): the longest, its kind, their sum and count. */
  readonly gcMaxMs: number;
  readonly gcMaxKind: string;
  readonly gcTotalMs: number;
  readonly gcCount: number;
  /** GC time within the longest block (the pauses overlapping it). */
  readonly blockGcMs: number;
}

/** A fetch as the parent saw it. */
interface FetchStats extends WindowStats {
  /** Longest gap of a sibling process's own 1 ms timer during the fetch (the machine's noise floor at that time). */
  readonly siblingGapMs: number;
}

/** The kind of a 'gc' performance entry, by name. */
function gcKindName(kind: number | undefined): string {
  switch (kind) {
    case constants.NODE_PERFORMANCE_GC_MINOR:
      return 'scavenge';
    case constants.NODE_PERFORMANCE_GC_MAJOR:
      return 'mark-compact';
    case constants.NODE_PERFORMANCE_GC_INCREMENTAL:
      return 'incremental';
    case constants.NODE_PERFORMANCE_GC_WEAKCB:
      return 'weak-callbacks';
    default:
      return String(kind);
  }
}

// A sibling process that only measures its own event loop: the gaps it sees while the child fetches are the
// machine's (other processes holding the CPU), not the fetch's. It answers `read` with its longest gap since
// the last `reset`.
const SIBLING_SOURCE = `
let last = performance.now(), max = 0;
setInterval(() => { const now = performance.now(); max = Math.max(max, now - last); last = now; }, 1);
let buffered = '';
process.stdin.on('data', (data) => {
  buffered += data;
  let at;
  while ((at = buffered.indexOf('\\n')) >= 0) {
    const line = buffered.slice(0, at);
    buffered = buffered.slice(at + 1);
    if (line === 'reset') { max = 0; last = performance.now(); }
    else if (line === 'read') process.stdout.write(JSON.stringify({ max: Math.max(max, performance.now() - last) }) + '\\n');
  }
});
process.stdin.on('end', () => process.exit(0));
`;

/**
 * CPU time of the calling thread and the time it waited, runnable, for a CPU (ms), from /proc/thread-self/schedstat;
 * NaN where there is none.
 */
function threadTimes(): { cpu: number; wait: number } {
  try {
    const [cpu, wait] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ');
    return { cpu: Number(cpu) / 1e6, wait: Number(wait) / 1e6 };
  } catch {
    return { cpu: NaN, wait: NaN };
  }
}

// ---- child: the service and its client -------------------------------------------------------------------

/** A client of either kind, reduced to what the child does with it. */
interface StallClient {
  /** One full fetch; resolves with the number of instances held. */
  fetch(): Promise<number>;
  close(): Promise<void>;
}

function makeClient(variant: Variant, serviceUrl: string): StallClient {
  if (variant !== PEER) {
    // Made at the first call: a registry starts fetching as soon as it is made.
    let registry: EurekaRegistry | undefined;
    return {
      async fetch() {
        registry ??= new EurekaRegistry({
          serviceUrls: [serviceUrl],
          registryFetchIntervalMs: 3_600_000,
          fetchDeltas: false,
          maxResponseBytes: 1024 * 1024 * 1024,
          requestTimeoutMs: 120_000,
          decodePriority: variant === 'karyon-ts idle' ? 'idle' : 'low',
        });
        await registry.refresh();
        registry.upInstancesByVip('service-001');
        // Counted from the status counts, as cheap as eureka-js-client's count below: a copy of every record
        // would be the benchmark's own work.
        let cached = 0;
        for (const count of registry.statusCounts().values()) cached += count;
        return cached;
      },
      close: async () => registry?.close(),
    };
  }
  // Made at the first call too, so that a fresh client's fetch counts its making, as karyon-ts's does. It
  // registers nothing and runs no timer: dropping it is closing it.
  let client: JsClient | undefined;
  return {
    fetch() {
      const current = (client ??= makeJsClient(serviceUrl, true));
      return new Promise((resolve, reject) =>
        current.fetchRegistry((error) =>
          error ? reject(error) : resolve(Object.values(current.cache.app).reduce((n, list) => n + list.length, 0)),
        ),
      );
    },
    close: async () => {
      client = undefined;
    },
  };
}

const loopDelay = monitorEventLoopDelay({ resolution: 1 });

/** Runs `work` with the event loop measured: the same instruments for a fetch and for a window without one. */
async function measured(work: () => Promise<number>): Promise<WindowStats> {
  loopDelay.reset();
  loopDelay.enable();
  const pauses: { start: number; ms: number; kind: string }[] = [];
  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      pauses.push({ start: entry.startTime, ms: entry.duration, kind: gcKindName((entry as unknown as { detail?: NodeGCPerformanceDetail }).detail?.kind) });
    }
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  const ticker = gapTicker();
  const started = performance.now();
  const before = threadTimes();
  const cached = await work();
  const ms = performance.now() - started;
  const after = threadTimes();
  const { maxGapMs, maxGapAt } = ticker.stop();
  loopDelay.disable();
  // Entries are delivered in a later task: let them arrive.
  await new Promise((resolve) => setImmediate(resolve));
  gcObserver.disconnect();
  const longest = pauses.reduce((a, b) => (b.ms > a.ms ? b : a), { start: 0, ms: 0, kind: '-' });
  return {
    ms,
    eldMaxMs: loopDelay.max / 1e6,
    maxGapMs,
    loopCpuMs: after.cpu - before.cpu,
    loopWaitMs: after.wait - before.wait,
    cached,
    gcMaxMs: longest.ms,
    gcMaxKind: longest.kind,
    gcTotalMs: pauses.reduce((sum, p) => sum + p.ms, 0),
    gcCount: pauses.length,
    blockGcMs: pauses.reduce((sum, p) => sum + Math.max(0, Math.min(p.start + p.ms, maxGapAt + maxGapMs) - Math.max(p.start, maxGapAt)), 0),
  };
}

// Commands, one a line: `fetch 1` (a fresh client), `fetch 2` (a full fetch over the view held), `idle <ms>` (a
// window without a fetch), `cleanup` (close the clients retired, collect garbage), `exit`. A window answers
// `{"phase":"start"}` as it starts, then its WindowStats.
async function child(variant: Variant, url: string, smallUrl: string): Promise<void> {
  const service = createServer((req, res) => {
    const body = JSON.stringify({ ok: true, path: req.url, at: Date.now() });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  service.listen(0, '127.0.0.1');
  await once(service, 'listening');
  const warm = makeClient(variant, smallUrl);
  await warm.fetch();
  await warm.close();
  const send = (message: unknown): void => void process.stdout.write(`${JSON.stringify(message)}\n`);
  send({ port: (service.address() as AddressInfo).port });
  let held: StallClient | undefined;
  const retired: StallClient[] = [];
  for await (const line of createInterface({ input: process.stdin })) {
    const [command, arg] = line.split(' ');
    if (command === 'exit') break;
    if (command === 'cleanup') {
      for (const client of retired.splice(0)) await client.close();
      gc();
      gc();
      send({ done: true });
    } else if (command === 'fetch') {
      const client = arg === '1' || held === undefined ? makeClient(variant, url) : held;
      send({ phase: 'start' });
      const stats = await measured(() => client.fetch());
      if (client !== held) {
        if (held !== undefined) retired.push(held);
        held = client;
      }
      send(stats);
    } else if (command === 'idle') {
      send({ phase: 'start' });
      send(await measured(() => new Promise((resolve) => setTimeout(() => resolve(0), Number(arg)))));
    } else {
      throw new Error(`unknown command: ${line}`);
    }
  }
  await held?.close();
  process.exit(0);
}

// ---- parent: the registry, the load, the tables ---------------------------------------------------------

/** p50, p90, p99, p99.9 and max of a sample of latencies (ms). */
interface Distribution {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

function distribution(sample: readonly number[]): Distribution {
  return {
    p50: percentile(sample, 50),
    p90: percentile(sample, 90),
    p99: percentile(sample, 99),
    p999: percentile(sample, 99.9),
    max: sample.reduce((a, b) => Math.max(a, b), -Infinity),
  };
}

/** The share of a sample above `limit`. */
function shareAbove(sample: readonly number[], limit: number): number {
  return sample.filter((ms) => ms > limit).length / sample.length;
}

/**
 * What the ratio of the p99s of two samples of n requests reads when nothing differs between them: the no-fetch
 * requests (2n, reference and control) split at random into two halves, `splits` times; the 5th and 95th
 * percentiles of p99(one half) / p99(the other). Random splits ignore that slow requests come in bursts, so this band
 * is narrower than the interleaved control can be: both are reported.
 */
function splitBand(pooled: readonly number[], splits = 400): readonly [number, number] {
  // A fixed seed: the same requests give the same band.
  const random = seeded(0x9e3779b9);
  const values = [...pooled];
  const half = Math.floor(values.length / 2);
  const ratios: number[] = [];
  for (let i = 0; i < splits; i++) {
    for (let j = values.length - 1; j > 0; j--) {
      const k = Math.floor(random() * (j + 1));
      [values[j], values[k]] = [values[k]!, values[j]!];
    }
    ratios.push(percentile(values.slice(0, half), 99) / percentile(values.slice(half, 2 * half), 99));
  }
  return [percentile(ratios, 5), percentile(ratios, 95)];
}

/** One fetch kind in one child: its fetches, its windows without one, and the requests of the three samples. */
interface Series {
  readonly kind: Kind;
  readonly fetches: readonly FetchStats[];
  /** The windows without a fetch (reference and control). */
  readonly idle: readonly WindowStats[];
  /** Latencies (ms) of the requests sent during the fetches, and of as many sent in reference and in control windows. */
  readonly during: readonly number[];
  readonly reference: readonly number[];
  readonly control: readonly number[];
  /** Requests sent during the fetches before the samples were cut to one size, and how many of those failed. */
  readonly sentDuring: number;
  readonly failed: number;
  /** The repetitions ended at their cap short of the requests asked for. */
  readonly capped: boolean;
}

interface Window {
  readonly from: number;
  readonly to: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function runChild(variant: Variant, url: string, smallUrl: string, maxRepeats: number): Promise<Series[]> {
  const script = fileURLToPath(import.meta.url);
  const proc: ChildProcess = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', script, 'child', variant, url, smallUrl], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  const sibling: ChildProcess = spawn(process.execPath, ['-e', SIBLING_SOURCE], { stdio: ['pipe', 'pipe', 'inherit'] });
  const siblingLines = createInterface({ input: sibling.stdout! })[Symbol.asyncIterator]();
  const next = async (): Promise<unknown> => {
    for (;;) {
      const { value, done } = await lines.next();
      if (done === true) throw new Error(`child for ${variant} ended early`);
      // Lines that are not the child's messages (e.g. --trace-gc output) are passed on.
      if (value.startsWith('{')) return JSON.parse(value) as unknown;
      console.log(`  [${variant}] ${value}`);
    }
  };
  try {
    const { port } = (await next()) as { port: number };
    const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 64 });
    // In the order sent; `ms` is NaN until the answer is in (and stays NaN for a request that failed).
    const samples: { readonly sent: number; ms: number }[] = [];
    const inFlight = new Set<Promise<void>>();
    const timer = setInterval(() => {
      const sample = { sent: performance.now(), ms: NaN };
      samples.push(sample);
      const request: Promise<void> = pool
        .request({ method: 'GET', path: '/work' })
        .then(async ({ body }) => {
          await body.dump();
          sample.ms = performance.now() - sample.sent;
        })
        .catch(() => undefined)
        .finally(() => inFlight.delete(request));
      inFlight.add(request);
    }, REQUEST_EVERY_MS);
    const within = (windows: readonly Window[]): typeof samples => samples.filter((s) => windows.some((w) => s.sent >= w.from && s.sent <= w.to));
    // One window of the child's: from its start (as the child timed it) to its stats.
    const window = async (command: string): Promise<Window & { readonly stats: WindowStats }> => {
      proc.stdin!.write(`${command}\n`);
      await next();
      const from = performance.now();
      if (command.startsWith('fetch')) sibling.stdin!.write('reset\n');
      const stats = (await next()) as WindowStats;
      const to = performance.now();
      return { from: Math.max(from, to - stats.ms), to, stats };
    };

    await sleep(WARM_MS);
    const runs: { kind: Kind; fetches: FetchStats[]; idle: WindowStats[]; during: Window[]; reference: Window[]; control: Window[]; capped: boolean }[] = [];
    for (const kind of KINDS) {
      const run = { kind, fetches: [] as FetchStats[], idle: [] as WindowStats[], during: [] as Window[], reference: [] as Window[], control: [] as Window[], capped: false };
      runs.push(run);
      for (let repeat = 1; ; repeat++) {
        const fetch = await window(`fetch ${kind}`);
        sibling.stdin!.write('read\n');
        const { value } = await siblingLines.next();
        const siblingGapMs = typeof value === 'string' ? (JSON.parse(value) as { max: number }).max : NaN;
        run.fetches.push({ ...fetch.stats, siblingGapMs });
        run.during.push(fetch);
        await sleep(SETTLE_MS);
        proc.stdin!.write('cleanup\n');
        await next();
        await sleep(GUARD_MS);
        // Two windows without a fetch, as long as this one, in alternating order: neither sample is always the
        // one next to a fetch.
        for (const windows of repeat % 2 === 1 ? [run.reference, run.control] : [run.control, run.reference]) {
          const idle = await window(`idle ${Math.ceil(fetch.to - fetch.from)}`);
          windows.push(idle);
          run.idle.push(idle.stats);
          await sleep(GUARD_MS);
        }
        const sent = within(run.during).length;
        if (repeat >= maxRepeats) {
          run.capped = sent < TARGET_REQUESTS;
          break;
        }
        if (repeat >= MIN_REPEATS && sent >= TARGET_REQUESTS) break;
      }
      // The windows without a fetch last as long as the fetches, so they hold about as many requests; make sure
      // they hold at least as many.
      const needed = within(run.during).length;
      for (const windows of [run.reference, run.control]) {
        for (let extra = 0; extra < 5 && within(windows).length < needed; extra++) {
          const idle = await window(`idle ${Math.ceil((needed - within(windows).length) * REQUEST_EVERY_MS) + 20}`);
          windows.push(idle);
          run.idle.push(idle.stats);
          await sleep(GUARD_MS);
        }
      }
    }
    clearInterval(timer);
    await Promise.all(inFlight);
    await pool.close();
    return runs.map((run) => {
      const sentDuring = within(run.during);
      const answered = (windows: readonly Window[]): number[] => within(windows).map((s) => s.ms).filter((ms) => Number.isFinite(ms));
      const [during, reference, control] = [answered(run.during), answered(run.reference), answered(run.control)];
      // The same number of requests in each sample: the first n of each, in the order sent.
      const n = Math.min(during.length, reference.length, control.length);
      return {
        kind: run.kind,
        fetches: run.fetches,
        idle: run.idle,
        during: during.slice(0, n),
        reference: reference.slice(0, n),
        control: control.slice(0, n),
        sentDuring: sentDuring.length,
        failed: sentDuring.length - during.length,
        capped: run.capped,
      };
    });
  } finally {
    proc.stdin!.end('exit\n');
    sibling.stdin!.end();
    if (proc.exitCode === null) proc.kill();
    if (sibling.exitCode === null) sibling.kill();
  }
}

/** One size, client and fetch kind over every round. */
interface Summary {
  readonly size: number;
  readonly variant: Variant;
  readonly kind: Kind;
  readonly cached: number;
  /** Fetches over every round, and whether a cap ended the repetitions short of the requests asked for. */
  readonly repeats: number;
  readonly capped: boolean;
  /** Requests in each sample (median over the rounds), and requests that failed during fetches (sum). */
  readonly requests: number;
  readonly failed: number;
  /** Over every fetch of every round: medians, and maxima where named so. */
  readonly ms: number;
  readonly loopCpuMs: number;
  readonly loopWaitMs: number;
  readonly block: number;
  readonly blockMax: number;
  readonly eld: number;
  readonly eldMax: number;
  readonly sibling: number;
  readonly siblingMax: number;
  /** The longest gap of the same timer in the windows without a fetch. */
  readonly idleGap: number;
  readonly idleGapMax: number;
  readonly gcTotalMs: number;
  readonly gcCount: number;
  /** The fetch with the longest block. */
  readonly worst: FetchStats;
  /** The longest GC pause of every fetch, and its kind. */
  readonly gcMax: number;
  readonly gcMaxKind: string;
  /** Request latency (medians over the rounds of each figure): during fetches, without (reference), control. */
  readonly during: Distribution;
  readonly without: Distribution;
  readonly control: Distribution;
  /** p99 during / p99 without, and the control's p99 / p99 without (medians over the rounds of each ratio). */
  readonly ratio: number;
  readonly controlRatio: number;
  /** The 90% band of the same ratio over random splits of the no-fetch requests (see splitBand; medians over the rounds). */
  readonly band: readonly [number, number];
  /** Shares of requests delayed beyond the reference p50 by more than 1 ms and 5 ms. */
  readonly over1: { readonly during: number; readonly without: number; readonly control: number };
  readonly over5: { readonly during: number; readonly without: number; readonly control: number };
}

function summarize(size: number, variant: Variant, kind: Kind, list: readonly Series[]): Summary {
  const fetches = list.flatMap((s) => s.fetches);
  const idle = list.flatMap((s) => s.idle);
  const m = (pick: (s: Series) => number): number => median(list.map(pick));
  const dist = (pick: (s: Series) => readonly number[]): Distribution => {
    const each = list.map((s) => distribution(pick(s)));
    return {
      p50: median(each.map((d) => d.p50)),
      p90: median(each.map((d) => d.p90)),
      p99: median(each.map((d) => d.p99)),
      p999: median(each.map((d) => d.p999)),
      max: median(each.map((d) => d.max)),
    };
  };
  const over = (by: number): Summary['over1'] => ({
    during: m((s) => shareAbove(s.during, percentile(s.reference, 50) + by)),
    without: m((s) => shareAbove(s.reference, percentile(s.reference, 50) + by)),
    control: m((s) => shareAbove(s.control, percentile(s.reference, 50) + by)),
  });
  const bands = list.map((s) => splitBand([...s.reference, ...s.control]));
  const worst = fetches.reduce((a, b) => (b.maxGapMs > a.maxGapMs ? b : a));
  const longestGc = fetches.reduce((a, b) => (b.gcMaxMs > a.gcMaxMs ? b : a));
  const max = (values: readonly number[]): number => values.reduce((a, b) => Math.max(a, b), -Infinity);
  return {
    size,
    variant,
    kind,
    cached: fetches[0]!.cached,
    repeats: fetches.length,
    capped: list.some((s) => s.capped),
    requests: m((s) => s.during.length),
    failed: list.reduce((sum, s) => sum + s.failed, 0),
    ms: median(fetches.map((f) => f.ms)),
    loopCpuMs: median(fetches.map((f) => f.loopCpuMs)),
    loopWaitMs: median(fetches.map((f) => f.loopWaitMs)),
    block: median(fetches.map((f) => f.maxGapMs)),
    blockMax: worst.maxGapMs,
    eld: median(fetches.map((f) => f.eldMaxMs)),
    eldMax: max(fetches.map((f) => f.eldMaxMs)),
    sibling: median(fetches.map((f) => f.siblingGapMs)),
    siblingMax: max(fetches.map((f) => f.siblingGapMs)),
    idleGap: median(idle.map((w) => w.maxGapMs)),
    idleGapMax: max(idle.map((w) => w.maxGapMs)),
    gcTotalMs: median(fetches.map((f) => f.gcTotalMs)),
    gcCount: median(fetches.map((f) => f.gcCount)),
    worst,
    gcMax: longestGc.gcMaxMs,
    gcMaxKind: longestGc.gcMaxKind,
    during: dist((s) => s.during),
    without: dist((s) => s.reference),
    control: dist((s) => s.control),
    ratio: m((s) => percentile(s.during, 99) / percentile(s.reference, 99)),
    controlRatio: m((s) => percentile(s.control, 99) / percentile(s.reference, 99)),
    band: [median(bands.map((b) => b[0])), median(bands.map((b) => b[1]))],
    over1: over(1),
    over5: over(5),
  };
}

function plot(rows: readonly Summary[]): string {
  const first = rows.filter((r) => r.kind === '1');
  const karyon = first.filter((r) => r.variant === 'karyon-ts');
  const idle = first.filter((r) => r.variant === 'karyon-ts idle');
  const peer = first.filter((r) => r.variant === PEER);
  const points = (list: readonly Summary[], value: (r: Summary) => number): [number, number][] => list.map((r) => [r.size, value(r)]);
  return logLogPlot({
    title: 'First full fetch (ms, log; medians over the repetitions)',
    xLabel: 'instances in the registry',
    yFloor: 1,
    guides: [10, 20],
    guideLabel: 'goals: 10 ms at 10k, 20 ms at 100k',
    series: [
      { label: 'karyon-ts: longest block', color: '#1f77b4', points: points(karyon, (r) => r.block) },
      { label: 'karyon-ts: longest block, worst fetch', color: '#9ecae1', points: points(karyon, (r) => r.blockMax) },
      { label: 'karyon-ts: fetch + apply', color: '#1f77b4', dash: '6 4', points: points(karyon, (r) => r.ms) },
      { label: "karyon-ts 'idle': longest block", color: '#9467bd', points: points(idle, (r) => r.block) },
      { label: 'eureka-js-client: longest block', color: '#d62728', points: points(peer, (r) => r.block) },
      { label: 'eureka-js-client: fetch + apply', color: '#d62728', dash: '6 4', points: points(peer, (r) => r.ms) },
    ],
  });
}

const load = (): string => loadavg().map((l) => fmt(l, 2)).join(' ');
const pct = (share: number): string => `${fmt(share * 100, 1)}%`;
const five = (d: Distribution): string => [d.p50, d.p90, d.p99, d.p999, d.max].map((v) => fmt(v, 1)).join(' / ');

/**
 * The real Eureka server holding the synthetic fleet of `instances`, registered through its REST API: resolves once
 * its GET /apps lists them all (its response cache refreshed every second, so that it does so soon after).
 */
async function realRegistry(instances: number): Promise<{ serviceUrl: string; stop: () => Promise<void> }> {
  // Full tiered JIT, as in production, and the serial collector, whose pauses take one core, not both.
  const [peer] = await startEurekaCluster(1, {
    properties: { 'eureka.server.response-cache-update-interval-ms': '1000' },
    jvm: ['-XX:+UseSerialGC', '-Xmx3g'],
  });
  const serviceUrl = peer!.serviceUrl;
  const started = performance.now();
  const writes = fleet(instances, appsOf(instances)).map((instance) => ({
    method: 'POST' as const,
    path: `/apps/${instance.app}`,
    // The server writes the lease's timestamps itself.
    body: { instance: { ...instance, leaseInfo: { renewalIntervalInSecs: 30, durationInSecs: 90 } } },
  }));
  try {
    await writeAll(serviceUrl, writes, 204);
    const registered = performance.now() - started;
    await untilServed(serviceUrl, (wire) => wire.length === instances, `the ${instances} instances registered`, { timeoutMs: 300_000 });
    const res = await request(`${serviceUrl}/apps`, { headers: { accept: 'application/json', 'accept-encoding': 'gzip' } });
    const body = Buffer.from(await res.body.arrayBuffer());
    const gzip = res.headers['content-encoding'] === 'gzip';
    const json = gzip ? gunzipSync(body).length : body.length;
    console.log(
      `${instances} instances registered on the real Eureka server in ${fmt(registered / 1000, 1)} s; its GET /apps: ` +
        `${fmt(json / 1024 / 1024, 1)} MiB of JSON, ${gzip ? `${fmt(body.length / 1024, 0)} KiB gzipped` : 'not gzipped'}, ` +
        `transfer-encoding ${String(res.headers['transfer-encoding'] ?? 'none')}`,
    );
  } catch (error) {
    await peer!.process.kill();
    throw error;
  }
  return { serviceUrl, stop: () => peer!.process.kill() };
}

async function parent(): Promise<void> {
  if (REAL_SERVER && interopMissing !== undefined) {
    console.log(`skipped: ${interopMissing} (EUREKA_STALL_SERVER=real serves the registries from the real Eureka server)`);
    return;
  }
  if (REAL_SERVER) await buildInterop();
  // Two versions of each registry, answered in turn: the second has every lease renewed 30 s later.
  const bodies = new Map<string, { plain: Buffer; gz: Buffer }[]>();
  const answered = new Map<string, number>();
  const add = (name: string, instances: number): void => {
    const text = payload(instances, appsOf(instances));
    const renewed = text.replace(/"lastRenewalTimestamp":(\d+)/g, (_, at: string) => `"lastRenewalTimestamp":${Number(at) + 30_000}`);
    bodies.set(
      `/${name}/apps`,
      [text, renewed].map((version) => {
        const plain = Buffer.from(version);
        return { plain, gz: gzipSync(plain) };
      }),
    );
  };
  add('small', 500);
  if (!REAL_SERVER) for (const size of SIZES) add(String(size), size);
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/\/+$/, '');
    const versions = bodies.get(path);
    if (versions === undefined) {
      res.writeHead(404).end();
      return;
    }
    const n = answered.get(path) ?? 0;
    answered.set(path, n + 1);
    const entry = versions[n % versions.length]!;
    const gzip = String(req.headers['accept-encoding'] ?? '').includes('gzip');
    const body = gzip ? entry.gz : entry.plain;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length, ...(gzip ? { 'content-encoding': 'gzip' } : {}) });
    res.end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const started = performance.now();
  const served = REAL_SERVER ? 'served by the real Eureka server' : `${SIZES.map((s) => `${fmt(bodies.get(`/${s}/apps`)![0]!.plain.length / 1024 / 1024, 1)} MiB`).join(', ')} of JSON`;
  console.log(
    `registry sizes ${SIZES.join(', ')} (${served}); ` +
      `${ROUNDS} round(s); load: one request every ${REQUEST_EVERY_MS} ms, open loop; per fetch kind, repetitions until ` +
      `${TARGET_REQUESTS} requests were sent during fetches (at least ${MIN_REPEATS}, at most ${MAX_REPEATS}; from ` +
      `${LARGE_SIZE} instances at most ${LARGE_REPEATS}); load average at the start: ${load()}`,
  );
  const summaries: Summary[] = [];
  for (const size of SIZES) {
    const maxRepeats = size >= LARGE_SIZE ? LARGE_REPEATS : MAX_REPEATS;
    const runs = new Map<Variant, Series[][]>(VARIANTS.map((v) => [v, []]));
    const real = REAL_SERVER ? await realRegistry(size) : undefined;
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const order = round % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
        for (const variant of order) runs.get(variant)!.push(await runChild(variant, real?.serviceUrl ?? `${base}/${size}`, `${base}/small`, maxRepeats));
      }
    } finally {
      await real?.stop();
    }
    for (const variant of VARIANTS) {
      for (const kind of KINDS) {
        const summary = summarize(size, variant, kind, runs.get(variant)!.map((series) => series.find((s) => s.kind === kind)!));
        summaries.push(summary);
        if (summary.capped) {
          console.log(
            `${size} instances, ${variant}, fetch ${kind}: repetitions capped at ${maxRepeats} per round ` +
              `(EUREKA_STALL_${size >= LARGE_SIZE ? 'LARGE' : 'MAX'}_REPEATS): ${summary.requests} requests per sample, fewer than the ${TARGET_REQUESTS} asked for`,
          );
        }
        if (summary.failed > 0) console.log(`${size} instances, ${variant}, fetch ${kind}: ${summary.failed} requests during fetches failed (left out)`);
      }
    }
  }
  server.close();
  const key = (s: Summary): Record<string, string | number> => ({ instances: s.size, client: s.variant, fetch: s.kind });
  table(
    'Full fetches under request load (ms): medians over the fetches, "median / max" where two',
    summaries.map((s) => ({
      ...key(s),
      cached: s.cached,
      fetches: s.repeats,
      time: fmt(s.ms, 0),
      'loop CPU': fmt(s.loopCpuMs, 0),
      'loop waited for a CPU': fmt(s.loopWaitMs, 1),
      'longest block': `${fmt(s.block, 1)} / ${fmt(s.blockMax, 1)}`,
      'ELD max': `${fmt(s.eld, 1)} / ${fmt(s.eldMax, 1)}`,
      'longest gap without fetch': `${fmt(s.idleGap, 1)} / ${fmt(s.idleGapMax, 1)}`,
      'sibling gap': `${fmt(s.sibling, 1)} / ${fmt(s.siblingMax, 1)}`,
    })),
  );
  table(
    'Request latency (ms): p50 / p90 / p99 / p99.9 / max of N requests sent during fetches, and of N sent without a fetch in progress',
    summaries.map((s) => ({
      ...key(s),
      N: s.requests,
      'during fetches': five(s.during),
      'without (reference)': five(s.without),
      'p99 during / without': fmt(s.ratio, 2),
      'control: p99 / p99, no fetch in either': fmt(s.controlRatio, 2),
      'no fetch, random splits: 90% band': `${fmt(s.band[0], 2)} to ${fmt(s.band[1], 2)}`,
    })),
  );
  table(
    'Requests delayed beyond the p50 without a fetch by more than 1 ms and 5 ms: during fetches / without (reference) / control',
    summaries.map((s) => ({
      ...key(s),
      'p50 without': fmt(s.without.p50, 2),
      '> 1 ms': `${pct(s.over1.during)} / ${pct(s.over1.without)} / ${pct(s.over1.control)}`,
      '> 5 ms': `${pct(s.over5.during)} / ${pct(s.over5.without)} / ${pct(s.over5.control)}`,
    })),
  );
  table(
    'Where the longest block went (ms): the fetch with the longest block, the GC pauses overlapping it and the sibling process\'s own longest gap meanwhile; GC over all fetches',
    summaries.map((s) => ({
      ...key(s),
      'longest block': fmt(s.worst.maxGapMs, 1),
      'GC within it': fmt(s.worst.blockGcMs, 1),
      'sibling gap then': fmt(s.worst.siblingGapMs, 1),
      'longest GC pause': `${fmt(s.gcMax, 1)} (${s.gcMaxKind})`,
      'GC pauses per fetch: sum / count (medians)': `${fmt(s.gcTotalMs, 0)} / ${fmt(s.gcCount, 0)}`,
    })),
  );
  table(
    'karyon-ts (each priority of its decoding thread) / eureka-js-client (lower is better; longest block: medians over the fetches)',
    SIZES.flatMap((size) =>
      KINDS.flatMap((kind) =>
        VARIANTS.filter((variant) => variant !== PEER).map((variant) => {
          const ours = summaries.find((s) => s.size === size && s.kind === kind && s.variant === variant)!;
          const peer = summaries.find((s) => s.size === size && s.kind === kind && s.variant === PEER)!;
          return {
            instances: size,
            fetch: kind,
            client: variant,
            'longest block': fmt(ours.block / peer.block, 3),
            time: fmt(ours.ms / peer.ms, 2),
            'loop CPU': fmt(ours.loopCpuMs / peer.loopCpuMs, 2),
            'p99 during': fmt(ours.during.p99 / peer.during.p99, 3),
          };
        }),
      ),
    ),
  );
  console.log(`\nload average at the end: ${load()}; ${fmt((performance.now() - started) / 1000, 0)} s`);
  if (SIZES.length > 1 && !REAL_SERVER) {
    const file = fileURLToPath(new URL('../docs/eureka-fetch-stall.svg', import.meta.url));
    writeFileSync(file, plot(summaries));
    console.log(`\nplot written to docs/eureka-fetch-stall.svg`);
  }
}

if (process.argv[2] === 'child') {
  const [, , , variant, url, smallUrl] = process.argv as [string, string, string, Variant, string, string];
  await child(variant, url, smallUrl);
} else {
  await parent();
}
