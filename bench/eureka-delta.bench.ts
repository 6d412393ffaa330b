// Applying a delta of 100 changes to a large view, against eureka-js-client 4.5.0 in the same run.
//
// Set-up: the view holds a synthetic registry (see eureka-payload.ts) of 10,000 and of 100,000 instances (2,000
// apps of 50 at 100,000); the service reads 3 VIPs (their views are built before the deltas, as a balancer's are)
// and listens to the view's changes. Each delta is a `GET /apps/delta` body of 100 changes: 80 status flips
// (UP <-> DOWN) of random instances, 10 instances added and 10 removed, with its `apps__hashcode`.
// karyon-ts runs its real fetcher (RegistryFetcher, as EurekaRegistry makes it) on a transport that answers each
// `GET /apps/delta` with the next body, already received as a Buffer: a refresh goes from that body to the
// applied view (parse, decode, compact, apply, change event, the `fetch` event, the hash check), and resolves;
// then the 3 VIP views are read again. eureka-js-client runs its own steps from the same Buffer
// (`handleDelta(cache, JSON.parse(body).applications.application)`, then its 3 VIP lookups); it checks no hash.
// Each client runs in its own child process (--expose-gc): 20 deltas of warm-up, then TIMED deltas back to back,
// each timed on the wall clock (median and p99), and their mean CPU time on the event-loop thread (Linux,
// /proc/thread-self/schedstat, read before and after the whole run: it is exact in total, not per delta), which
// does not count the time other processes held the CPU; then ALLOCATION deltas, each with a GC forced before it,
// measured for heap allocated (heap used after it minus before it; deltas during which a scavenge ran are left
// out: what a delta allocates survives until the next GC). The timed deltas come first: a forced GC leaves the
// old space to be swept lazily by the allocations that follow, work proportional to the heap that no delta causes.
// Run: npx tsx bench/eureka-delta.bench.ts              (EUREKA_DELTA_TIMED=2000 for more samples)
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PerformanceObserver } from 'node:perf_hooks';
import { silentLogger } from '../src/common/Logger.js';
import { InstancePool, eurekaInstanceEquals } from '../src/registry/eureka/EurekaInstance.js';
import { resolveEurekaRegistryOptions } from '../src/registry/eureka/EurekaRegistryOptions.js';
import type { EurekaExchange, EurekaTransport } from '../src/registry/eureka/EurekaTransport.js';
import { RegistryFetcher } from '../src/registry/eureka/RegistryFetcher.js';
import { appsHashcodeOfCounts } from '../src/registry/eureka/wire.js';
import { InstanceCache } from '../src/registry/InstanceCache.js';
import { ManualClock } from '../src/testing/ManualClock.js';
import { appsOf, makeJsClient, payload } from './eureka-payload.js';
import { fmt, gc, median, percentile, table } from './support.js';

const SIZES = [10_000, 100_000];
const CHANGES = 100;
const WARMUP = 20;
const TIMED = Number(process.env.EUREKA_DELTA_TIMED ?? 400);
const ALLOCATION = 100;
const VIPS = ['service-001', 'service-002', 'service-003'];
const VARIANTS = ['karyon-ts', 'eureka-js-client'] as const;
type Variant = (typeof VARIANTS)[number];

interface WireLike {
  app: string;
  instanceId: string;
  status: string;
  actionType?: string;
  [key: string]: unknown;
}

/** The registry as a `GET /apps` body, and `count` delta bodies of CHANGES changes made against it (each applied in turn). */
function deltas(size: number, count: number): { full: string; bodies: string[] } {
  const full = payload(size, appsOf(size));
  const doc = JSON.parse(full) as { applications: { application: { name: string; instance: WireLike[] }[] } };
  const live: WireLike[] = doc.applications.application.flatMap((app) => app.instance);
  const counts = new Map<string, number>();
  for (const instance of live) counts.set(instance.status, (counts.get(instance.status) ?? 0) + 1);
  let seed = 7;
  const random = (n: number): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed % n;
  };
  let nextId = size;
  const bodies: string[] = [];
  for (let d = 0; d < count; d++) {
    const changed: WireLike[] = [];
    for (let i = 0; i < 80; i++) {
      const at = random(live.length);
      const before = live[at]!;
      const status = before.status === 'UP' ? 'DOWN' : 'UP';
      counts.set(before.status, counts.get(before.status)! - 1);
      counts.set(status, (counts.get(status) ?? 0) + 1);
      live[at] = { ...before, status, lastDirtyTimestamp: String(Number(before.lastDirtyTimestamp) + 1) };
      changed.push({ ...live[at], actionType: 'MODIFIED' });
    }
    for (let i = 0; i < 10; i++) {
      const at = random(live.length);
      const gone = live[at]!;
      live[at] = live[live.length - 1]!;
      live.pop();
      counts.set(gone.status, counts.get(gone.status)! - 1);
      changed.push({ ...gone, actionType: 'DELETED' });
    }
    for (let i = 0; i < 10; i++) {
      const model = live[random(live.length)]!;
      const added = { ...model, instanceId: `${String(model.instanceId)}-n${nextId++}`, status: 'UP' };
      live.push(added);
      counts.set('UP', (counts.get('UP') ?? 0) + 1);
      changed.push({ ...added, actionType: 'ADDED' });
    }
    const byApp = new Map<string, WireLike[]>();
    for (const instance of changed) byApp.set(instance.app, [...(byApp.get(instance.app) ?? []), instance]);
    const hash = appsHashcodeOfCounts(counts);
    bodies.push(
      JSON.stringify({
        applications: { versions__delta: String(d + 2), apps__hashcode: hash, application: [...byApp].map(([name, instance]) => ({ name, instance })) },
      }),
    );
  }
  return { full, bodies };
}

// ---- child ------------------------------------------------------------------------------------------------

interface ChildResult {
  readonly medianMs: number;
  readonly p99Ms: number;
  readonly cpuMs: number;
  readonly bytesPerDelta: number;
  readonly measuredAlloc: number;
  readonly hashMismatches: number;
  /** Changes per delta reported by the change event (karyon-ts); null for eureka-js-client, which has none. */
  readonly changes: number | null;
}

/** CPU time of the calling thread in ms (Linux; NaN elsewhere). Exact over a run, not per short interval. */
function threadCpuMs(): number {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ', 1)[0]) / 1e6;
  } catch {
    return NaN;
  }
}

/**
 * The karyon-ts fetcher over a transport that answers `GET /apps` with `full` and each `GET /apps/delta` with
 * `next()`'s body; resolves once the first (full) fetch is in.
 */
async function karyonClient(full: Buffer, next: () => Buffer): Promise<{ apply: () => Promise<boolean>; changes: () => number }> {
  const exchange = (body: Buffer, keepChunks: boolean): EurekaExchange => ({
    status: 200,
    body,
    bytes: body.length,
    ...(keepChunks ? { chunks: [body] } : {}),
    serviceUrl: 'http://127.0.0.1:1/eureka',
    durationMs: 0,
    error: undefined,
  });
  const transport = {
    send: (request: { path: string; keepChunks?: boolean }) => Promise.resolve(exchange(request.path === '/apps' ? full : next(), request.keepChunks === true)),
  } as unknown as EurekaTransport;
  const options = resolveEurekaRegistryOptions({ serviceUrls: ['http://127.0.0.1:1/eureka'], clock: new ManualClock(Date.now()), logger: silentLogger });
  const cache = new InstanceCache({ equals: eurekaInstanceEquals });
  let mismatches = 0;
  let changes = 0;
  // A listener, as a balancer's: the change event is part of what a delta costs.
  cache.onChange((change) => (changes += change.added.length + change.modified.length + change.removed.length));
  const fetcher = new RegistryFetcher({
    options,
    transport,
    cache,
    pool: new InstancePool(),
    onFetch: (event) => {
      if (!event.ok) throw new Error(`fetch failed: ${event.error}`);
    },
    onHashMismatch: () => mismatches++,
    onViewProtection: () => {},
  });
  await fetcher.refresh();
  for (const vip of VIPS) cache.upByVip(vip);
  return {
    apply: async () => {
      const before = mismatches;
      await fetcher.refresh();
      for (const vip of VIPS) cache.upByVip(vip);
      return mismatches === before;
    },
    changes: () => changes,
  };
}

async function child(variant: Variant, size: number): Promise<ChildResult> {
  const { full, bodies: texts } = deltas(size, WARMUP + TIMED + ALLOCATION);
  const bodies = texts.map((text) => Buffer.from(text));
  let at = 0;
  const next = (): Buffer => bodies[at++]!;
  let apply: () => Promise<boolean> | boolean;
  let changes = (): number => NaN;
  if (variant === 'karyon-ts') {
    const client = await karyonClient(Buffer.from(full), next);
    apply = client.apply;
    changes = client.changes;
  } else {
    const client = makeJsClient('http://127.0.0.1:1/eureka', true) as ReturnType<typeof makeJsClient> & {
      handleDelta(cache: unknown, applications: unknown): void;
      cache: unknown;
    };
    client.transformRegistry(JSON.parse(full));
    apply = () => {
      const doc = JSON.parse(next().toString('utf8')) as { applications: { application: unknown } };
      client.handleDelta(client.cache, doc.applications.application);
      for (const vip of VIPS) client.getInstancesByVipAddress(vip);
      // eureka-js-client checks no hash.
      return true;
    };
  }
  let mismatches = 0;
  for (let i = 0; i < WARMUP; i++) if (!(await apply())) mismatches++;
  const changesBefore = changes();
  // Timed deltas, back to back.
  const times: number[] = [];
  const cpuStart = threadCpuMs();
  for (let i = 0; i < TIMED; i++) {
    const started = performance.now();
    const ok = await apply();
    times.push(performance.now() - started);
    if (!ok) mismatches++;
  }
  const cpuMs = (threadCpuMs() - cpuStart) / TIMED;
  const changed = changes() - changesBefore;
  // Allocation deltas, each after a forced GC; those a GC ran during are left out (the observer is told late).
  const gcs: { start: number; end: number }[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcs.push({ start: entry.startTime, end: entry.startTime + entry.duration });
  });
  observer.observe({ entryTypes: ['gc'] });
  const samples: { start: number; end: number; allocated: number }[] = [];
  for (let i = 0; i < ALLOCATION; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    const start = performance.now();
    const before = process.memoryUsage().heapUsed;
    const ok = await apply();
    const allocated = process.memoryUsage().heapUsed - before;
    samples.push({ start, end: performance.now(), allocated });
    if (!ok) mismatches++;
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
  observer.disconnect();
  const allocations = samples.filter((sample) => !gcs.some((g) => g.end > sample.start && g.start < sample.end)).map((sample) => sample.allocated);
  return {
    medianMs: median(times),
    p99Ms: percentile(times, 99),
    cpuMs,
    bytesPerDelta: median(allocations),
    measuredAlloc: allocations.length,
    hashMismatches: mismatches,
    changes: Number.isNaN(changed) ? null : changed / TIMED,
  };
}

// ---- parent -----------------------------------------------------------------------------------------------

async function parent(): Promise<void> {
  console.log(`deltas of ${CHANGES} changes (80 status flips, 10 added, 10 removed): ${TIMED} timed and ${ALLOCATION} measured for allocation, after ${WARMUP}; 3 VIP views read after each`);
  const script = fileURLToPath(import.meta.url);
  const rows: { size: number; variant: Variant; result: ChildResult }[] = [];
  for (const size of SIZES) {
    for (const variant of VARIANTS) {
      const proc = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', script, 'child', variant, String(size)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      const [code] = (await once(proc, 'exit')) as [number | null];
      if (code !== 0) throw new Error(`child for ${variant} at ${size} exited with ${code}`);
      rows.push({ size, variant, result: JSON.parse(out.trim().split('\n').pop()!) as ChildResult });
    }
  }
  table(
    'A delta of 100 changes, from the received body to the applied view (wall ms per delta; event-loop CPU ms per delta, mean; heap allocated per delta)',
    rows.map(({ size, variant, result }) => ({
      instances: size,
      client: variant,
      'median (ms)': fmt(result.medianMs, 3),
      'p99 (ms)': fmt(result.p99Ms, 3),
      'CPU mean (ms)': fmt(result.cpuMs, 3),
      'allocated / delta (KiB)': fmt(result.bytesPerDelta / 1024, 1),
      'deltas without GC (alloc sample)': result.measuredAlloc,
      'hash mismatches': result.hashMismatches,
      'changes / delta (event)': result.changes === null ? '-' : fmt(result.changes, 1),
    })),
  );
  table(
    'karyon-ts / eureka-js-client (lower is better)',
    SIZES.map((size) => {
      const ours = rows.find((r) => r.size === size && r.variant === 'karyon-ts')!.result;
      const peer = rows.find((r) => r.size === size && r.variant !== 'karyon-ts')!.result;
      return {
        instances: size,
        'median time': fmt(ours.medianMs / peer.medianMs, 3),
        'CPU time': fmt(ours.cpuMs / peer.cpuMs, 3),
        allocation: fmt(ours.bytesPerDelta / peer.bytesPerDelta, 3),
      };
    }),
  );
  const ours = (size: number): ChildResult => rows.find((r) => r.size === size && r.variant === 'karyon-ts')!.result;
  console.log(
    `\nkaryon-ts from 10,000 to 100,000 instances: median time x${fmt(ours(100_000).medianMs / ours(10_000).medianMs, 2)}, CPU x${fmt(ours(100_000).cpuMs / ours(10_000).cpuMs, 2)}, allocation x${fmt(ours(100_000).bytesPerDelta / ours(10_000).bytesPerDelta, 2)} (10x the registry)`,
  );
}

if (process.argv[2] === 'child') {
  console.log(JSON.stringify(await child(process.argv[3] as Variant, Number(process.argv[4]))));
} else {
  await parent();
}
