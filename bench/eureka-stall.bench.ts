// How much a full registry fetch stalls the service that makes it, against eureka-js-client 4.5.0 in the same run.
//
// Set-up: this (parent) process serves a synthetic `GET /apps` (see eureka-payload.ts) gzipped over loopback, as
// Eureka servers do, at each registry size. For each size and client, a child process runs a small HTTP service
// (each request answers a short JSON) and holds the client. The parent drives that service open-loop, one request
// every 2.5 ms (400 requests/s, keep-alive), for the whole measurement, and records each request's latency.
// Load regime: 2 s of requests without a fetch (the baseline p99), then the child fetches the whole registry while
// the requests go on: first fetch (empty view), then a second full fetch over the view it holds, each followed by
// 1 s of quiet. The child measures its event loop during each fetch in two ways: the longest gap between the ticks
// of a 1 ms interval timer (the "longest block" reported), and monitorEventLoopDelay's max (1 ms resolution,
// "ELD max"). The histogram under-reports long blocks of eureka-js-client here (it shows tens of ms while the timer
// waits seconds and requests time out), so the timer's gaps are the figure used. Every client warms its code up on a 500-instance registry first.
// Before each fetch the child also records the longest gap of the same timer over 1 s without a fetch (the noise
// floor of the machine under the same load), and during the fetch the CPU time of its event-loop thread (Linux,
// /proc/thread-self/schedstat): unlike the gaps, it does not count the time other processes held the CPU.
// Each child is a fresh process (started with --expose-gc); variants alternate in order from round to round.
// Results: medians over ROUNDS rounds; the SVG plot of stall and apply time against registry size is written to
// docs/eureka-fetch-stall.svg.
// Run: npx tsx bench/eureka-stall.bench.ts            (sizes 1000,10000,30000,100000; 3 rounds)
//      EUREKA_STALL_SIZES=10000 EUREKA_STALL_ROUNDS=1 npx tsx bench/eureka-stall.bench.ts
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PerformanceObserver, constants, monitorEventLoopDelay } from 'node:perf_hooks';
import type { NodeGCPerformanceDetail } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { Pool } from 'undici';
import { EurekaRegistry } from '../src/registry/eureka/index.js';
import { makeJsClient, payload } from './eureka-payload.js';
import { fmt, logLogPlot, median, percentile, table } from './support.js';

const SIZES = (process.env.EUREKA_STALL_SIZES ?? '1000,10000,30000,100000').split(',').map(Number);
const ROUNDS = Number(process.env.EUREKA_STALL_ROUNDS ?? 3);
const REQUEST_EVERY_MS = 2.5;
const BASELINE_MS = 2000;
const QUIET_MS = 1000;
const VARIANTS = ['karyon-ts', 'eureka-js-client'] as const;
type Variant = (typeof VARIANTS)[number];

interface FetchStats {
  /** Wall time of the fetch, from the call to a usable view (request, gunzip, parse, apply). */
  readonly ms: number;
  /** Longest event-loop block during the fetch (monitorEventLoopDelay max). */
  readonly maxBlockMs: number;
  /** Longest gap between the ticks of a 1 ms timer during the fetch (a cross-check). */
  readonly maxGapMs: number;
  /** CPU time of the event-loop thread during the fetch (Linux), NaN where unknown: blind to other processes. */
  readonly loopCpuMs: number;
  /** Longest gap between the ticks of a 1 ms timer over 1 s without a fetch, just before it: the noise floor. */
  readonly idleGapMs: number;
  readonly cached: number;
  /** GC pauses during the fetch (PerformanceObserver 'gc' entries): the longest, its kind, their sum and count. */
  readonly gcMaxMs: number;
  readonly gcMaxKind: string;
  readonly gcTotalMs: number;
  readonly gcCount: number;
  /** GC time within the longest block (the pauses overlapping it). */
  readonly blockGcMs: number;
  /** Longest gap of a sibling process's own 1 ms timer during the fetch (the machine's noise floor at that time). */
  readonly siblingGapMs?: number;
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

/** CPU time of the calling thread (ms), from /proc/thread-self/schedstat; NaN where there is none. */
function threadCpuMs(): number {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return NaN;
  }
}

// ---- child: the service and its client -------------------------------------------------------------------


function makeFetcher(variant: Variant, serviceUrl: string): () => Promise<number> {
  if (variant === 'karyon-ts') {
    // Made at the first call: a registry starts fetching as soon as it is made.
    let registry: EurekaRegistry | undefined;
    return async () => {
      registry ??= new EurekaRegistry({
        serviceUrls: [serviceUrl],
        registryFetchIntervalMs: 3_600_000,
        fetchDeltas: false,
        maxResponseBytes: 1024 * 1024 * 1024,
        requestTimeoutMs: 120_000,
      });
      await registry.refresh();
      registry.upInstancesByVip('service-001');
      // Counted from the status counts, as cheap as eureka-js-client's count below: a copy of every record
      // would be the benchmark's own work.
      let cached = 0;
      for (const count of registry.statusCounts().values()) cached += count;
      return cached;
    };
  }
  const client = makeJsClient(serviceUrl, true);
  return () =>
    new Promise((resolve, reject) =>
      client.fetchRegistry((error) =>
        error ? reject(error) : resolve(Object.values(client.cache.app).reduce((n, list) => n + list.length, 0)),
      ),
    );
}

async function child(variant: Variant, url: string, smallUrl: string): Promise<void> {
  const service = createServer((req, res) => {
    const body = JSON.stringify({ ok: true, path: req.url, at: Date.now() });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  service.listen(0, '127.0.0.1');
  await once(service, 'listening');
  await makeFetcher(variant, smallUrl)();
  const fetchOnce = makeFetcher(variant, url);
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  const send = (message: unknown): void => void process.stdout.write(`${JSON.stringify(message)}\n`);
  send({ port: (service.address() as AddressInfo).port });
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'exit') break;
    // The noise floor: the longest gap of the same timer over 1 s with no fetch, under the same request load.
    let idleLast = performance.now();
    let idleGap = 0;
    const idleTicker = setInterval(() => {
      const now = performance.now();
      idleGap = Math.max(idleGap, now - idleLast);
      idleLast = now;
    }, 1);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    clearInterval(idleTicker);
    send({ phase: 'fetching' });
    histogram.reset();
    histogram.enable();
    const pauses: { start: number; ms: number; kind: string }[] = [];
    const gcObserver = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        pauses.push({ start: entry.startTime, ms: entry.duration, kind: gcKindName((entry as unknown as { detail?: NodeGCPerformanceDetail }).detail?.kind) });
      }
    });
    gcObserver.observe({ entryTypes: ['gc'] });
    // A cross-check of the histogram: the longest gap between the ticks of a 1 ms timer.
    let last = performance.now();
    let maxGap = 0;
    let maxGapAt = last;
    const ticker = setInterval(() => {
      const now = performance.now();
      if (now - last > maxGap) {
        maxGap = now - last;
        maxGapAt = last;
      }
      last = now;
    }, 1);
    const started = performance.now();
    const cpuBefore = threadCpuMs();
    const cached = await fetchOnce();
    const ms = performance.now() - started;
    const loopCpuMs = threadCpuMs() - cpuBefore;
    clearInterval(ticker);
    if (performance.now() - last > maxGap) {
      maxGap = performance.now() - last;
      maxGapAt = last;
    }
    histogram.disable();
    // Entries are delivered in a later task: let them arrive.
    await new Promise((resolve) => setImmediate(resolve));
    gcObserver.disconnect();
    const longest = pauses.reduce((a, b) => (b.ms > a.ms ? b : a), { start: 0, ms: 0, kind: '-' });
    const blockGcMs = pauses.reduce((sum, p) => sum + Math.max(0, Math.min(p.start + p.ms, maxGapAt + maxGap) - Math.max(p.start, maxGapAt)), 0);
    send({
      ms,
      maxBlockMs: histogram.max / 1e6,
      maxGapMs: maxGap,
      loopCpuMs,
      idleGapMs: idleGap,
      cached,
      gcMaxMs: longest.ms,
      gcMaxKind: longest.kind,
      gcTotalMs: pauses.reduce((sum, p) => sum + p.ms, 0),
      gcCount: pauses.length,
      blockGcMs,
    });
  }
  process.exit(0);
}

// ---- parent: the registry, the load, the table ---------------------------------------------------------

interface Run {
  readonly baselineP99: number;
  readonly first: FetchStats & { readonly p99: number };
  readonly second: FetchStats & { readonly p99: number };
}

async function runChild(variant: Variant, url: string, smallUrl: string): Promise<Run> {
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
      if ((value).startsWith('{')) return JSON.parse(value) as unknown;
      console.log(`  [${variant}] ${value}`);
    }
  };
  try {
    const { port } = (await next()) as { port: number };
    const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 64 });
    const samples: { sent: number; ms: number }[] = [];
    let running = true;
    const timer = setInterval(() => {
      const sent = performance.now();
      void pool
        .request({ method: 'GET', path: '/work' })
        .then(async ({ body }) => {
          await body.dump();
          if (running) samples.push({ sent, ms: performance.now() - sent });
        })
        .catch(() => undefined);
    }, REQUEST_EVERY_MS);
    const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
    const p99Between = (from: number, to: number): number =>
      percentile(
        samples.filter((s) => s.sent >= from && s.sent <= to).map((s) => s.ms),
        99,
      );
    const fetchUnderLoad = async (): Promise<FetchStats & { p99: number }> => {
      const from = performance.now();
      proc.stdin!.write('fetch\n');
      await next();
      sibling.stdin!.write('reset\n');
      const stats = (await next()) as FetchStats;
      sibling.stdin!.write('read\n');
      const { value } = await siblingLines.next();
      const siblingGapMs = typeof value === 'string' ? (JSON.parse(value) as { max: number }).max : NaN;
      const to = performance.now();
      await sleep(QUIET_MS);
      // The requests sent while the fetch ran (the child first spends 1 s measuring the noise floor).
      return { ...stats, siblingGapMs, p99: p99Between(Math.max(from, to - stats.ms), to) };
    };
    const t0 = performance.now();
    await sleep(BASELINE_MS);
    const baselineP99 = p99Between(t0 + 500, performance.now());
    const first = await fetchUnderLoad();
    const second = await fetchUnderLoad();
    running = false;
    clearInterval(timer);
    await pool.close();
    return { baselineP99, first, second };
  } finally {
    proc.stdin!.end('exit\n');
    sibling.stdin!.end();
    if (proc.exitCode === null) proc.kill();
    if (sibling.exitCode === null) sibling.kill();
  }
}

interface Summary {
  readonly size: number;
  readonly variant: Variant;
  readonly baselineP99: number;
  readonly firstMs: number;
  /** monitorEventLoopDelay's max during the first fetch. */
  readonly firstEld: number;
  /** The longest gap between the ticks of a 1 ms timer during the first fetch: the longest block. */
  readonly firstBlock: number;
  readonly firstP99: number;
  readonly firstCpu: number;
  readonly firstIdleGap: number;
  readonly secondMs: number;
  readonly secondEld: number;
  readonly secondBlock: number;
  readonly secondP99: number;
  readonly secondCpu: number;
  readonly secondIdleGap: number;
  readonly cached: number;
}

function plot(rows: readonly Summary[]): string {
  const karyon = rows.filter((r) => r.variant === 'karyon-ts');
  const peer = rows.filter((r) => r.variant !== 'karyon-ts');
  const points = (list: readonly Summary[], value: (r: Summary) => number): [number, number][] => list.map((r) => [r.size, value(r)]);
  return logLogPlot({
    title: 'First full fetch: longest event-loop block and total time (ms, log) against registry size',
    xLabel: 'instances in the registry',
    yFloor: 1,
    guides: [10, 20],
    guideLabel: 'goals: 10 ms at 10k, 20 ms at 100k',
    series: [
      { label: 'karyon-ts: longest block', color: '#1f77b4', points: points(karyon, (r) => r.firstBlock) },
      { label: 'karyon-ts: fetch + apply', color: '#1f77b4', dash: '6 4', points: points(karyon, (r) => r.firstMs) },
      { label: 'eureka-js-client: longest block', color: '#d62728', points: points(peer, (r) => r.firstBlock) },
      { label: 'eureka-js-client: fetch + apply', color: '#d62728', dash: '6 4', points: points(peer, (r) => r.firstMs) },
    ],
  });
}

async function parent(): Promise<void> {
  const bodies = new Map<string, { plain: Buffer; gz: Buffer }>();
  const add = (name: string, instances: number): void => {
    const plain = Buffer.from(payload(instances, Math.max(20, Math.round(instances / 50))));
    bodies.set(`/${name}/apps`, { plain, gz: gzipSync(plain) });
  };
  add('small', 500);
  for (const size of SIZES) add(String(size), size);
  const server = createServer((req, res) => {
    const entry = bodies.get(new URL(req.url ?? '/', 'http://x').pathname.replace(/\/+$/, ''));
    if (entry === undefined) {
      res.writeHead(404).end();
      return;
    }
    const gzip = String(req.headers['accept-encoding'] ?? '').includes('gzip');
    const body = gzip ? entry.gz : entry.plain;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length, ...(gzip ? { 'content-encoding': 'gzip' } : {}) });
    res.end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  console.log(
    `registry sizes ${SIZES.join(', ')} (${SIZES.map((s) => `${fmt(bodies.get(`/${s}/apps`)!.plain.length / 1024 / 1024, 1)} MiB`).join(', ')} of JSON); ` +
      `${ROUNDS} round(s); load: one request every ${REQUEST_EVERY_MS} ms, open loop`,
  );
  const summaries: Summary[] = [];
  const attribution: Record<string, string | number>[] = [];
  for (const size of SIZES) {
    const runs = new Map<Variant, Run[]>(VARIANTS.map((v) => [v, []]));
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
      for (const variant of order) runs.get(variant)!.push(await runChild(variant, `${base}/${size}`, `${base}/small`));
    }
    for (const variant of VARIANTS) {
      const list = runs.get(variant)!;
      list.forEach((run, round) => {
        for (const [fetch, stats] of [['1', run.first], ['2', run.second]] as const) {
          attribution.push({
            instances: size,
            client: variant,
            round: round + 1,
            fetch,
            'longest block': fmt(stats.maxGapMs, 1),
            'GC within it': fmt(stats.blockGcMs, 1),
            'longest GC pause': `${fmt(stats.gcMaxMs, 1)} (${stats.gcMaxKind})`,
            'GC pauses: sum / count': `${fmt(stats.gcTotalMs, 0)} / ${stats.gcCount}`,
            'sibling gap': fmt(stats.siblingGapMs ?? NaN, 1),
            'gap without fetch': fmt(stats.idleGapMs, 1),
            'loop CPU': fmt(stats.loopCpuMs, 0),
            time: fmt(stats.ms, 0),
          });
        }
      });
      const m = (pick: (run: Run) => number): number => median(list.map(pick));
      summaries.push({
        size,
        variant,
        baselineP99: m((r) => r.baselineP99),
        firstMs: m((r) => r.first.ms),
        firstEld: m((r) => r.first.maxBlockMs),
        firstBlock: m((r) => r.first.maxGapMs),
        firstP99: m((r) => r.first.p99),
        firstCpu: m((r) => r.first.loopCpuMs),
        firstIdleGap: m((r) => r.first.idleGapMs),
        secondMs: m((r) => r.second.ms),
        secondEld: m((r) => r.second.maxBlockMs),
        secondBlock: m((r) => r.second.maxGapMs),
        secondP99: m((r) => r.second.p99),
        secondCpu: m((r) => r.second.loopCpuMs),
        secondIdleGap: m((r) => r.second.idleGapMs),
        cached: list[0]!.first.cached,
      });
    }
  }
  server.close();
  table(
    'Full fetch under request load (medians; ms)',
    summaries.map((s) => ({
      instances: s.size,
      client: s.variant,
      cached: s.cached,
      'p99 without fetch': fmt(s.baselineP99, 1),
      'fetch 1: time': fmt(s.firstMs, 0),
      'fetch 1: loop CPU': fmt(s.firstCpu, 0),
      'fetch 1: longest block': fmt(s.firstBlock, 1),
      'fetch 1: longest gap without fetch': fmt(s.firstIdleGap, 1),
      'fetch 1: ELD max': fmt(s.firstEld, 1),
      'fetch 1: p99 / p99 without': fmt(s.firstP99 / s.baselineP99, 2),
      'fetch 2: time': fmt(s.secondMs, 0),
      'fetch 2: loop CPU': fmt(s.secondCpu, 0),
      'fetch 2: longest block': fmt(s.secondBlock, 1),
      'fetch 2: longest gap without fetch': fmt(s.secondIdleGap, 1),
      'fetch 2: ELD max': fmt(s.secondEld, 1),
      'fetch 2: p99 / p99 without': fmt(s.secondP99 / s.baselineP99, 2),
    })),
  );
  table('Where the longest block went, per fetch (ms): GC pauses overlapping it, and a sibling process\'s own longest gap meanwhile', attribution);
  table(
    'karyon-ts / eureka-js-client (lower is better)',
    SIZES.map((size) => {
      const ours = summaries.find((s) => s.size === size && s.variant === 'karyon-ts')!;
      const peer = summaries.find((s) => s.size === size && s.variant !== 'karyon-ts')!;
      return {
        instances: size,
        'fetch 1 longest block': fmt(ours.firstBlock / peer.firstBlock, 3),
        'fetch 1 time': fmt(ours.firstMs / peer.firstMs, 2),
        'fetch 1 loop CPU': fmt(ours.firstCpu / peer.firstCpu, 2),
        'fetch 2 longest block': fmt(ours.secondBlock / peer.secondBlock, 3),
        'fetch 2 time': fmt(ours.secondMs / peer.secondMs, 2),
        'fetch 2 loop CPU': fmt(ours.secondCpu / peer.secondCpu, 2),
      };
    }),
  );
  if (SIZES.length > 1) {
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
