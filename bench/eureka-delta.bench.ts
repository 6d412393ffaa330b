// Applying a delta of 100 changes to a large view, against eureka-js-client 4.5.0 in the same run.
//
// Set-up: the view holds a synthetic registry (see eureka-payload.ts) of 10,000 and of 100,000 instances; the
// service reads 3 VIPs (their views are built before the deltas, as a balancer's are). Each delta is a
// `GET /apps/delta` body of 100 changes: 80 status flips (UP <-> DOWN) of random instances, 10 instances added and
// 10 removed, with its `apps__hashcode`. karyon-ts runs the steps of its fetcher's delta path (parse, decode,
// compact, apply to the cache, the hash check, then the 3 VIP views read again); eureka-js-client runs its own
// (`handleDelta(cache, JSON.parse(body).applications.application)`, then its 3 VIP lookups). Each client runs in
// its own child process (--expose-gc): 200 deltas after 20 of warm-up, alternately timed (time per delta, median
// and p99, over 100) and measured for heap allocated (heap used after it minus before it, with a GC run before it;
// deltas during which a scavenge ran are left out of that figure: it counts what survives until the next GC, i.e.
// allocation).
// Run: npx tsx bench/eureka-delta.bench.ts
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { PerformanceObserver } from 'node:perf_hooks';
import { InstancePool, eurekaInstanceEquals } from '../src/registry/eureka/EurekaInstance.js';
import { appsHashcodeOfCounts, decodeApplications } from '../src/registry/eureka/wire.js';
import { InstanceCache } from '../src/registry/InstanceCache.js';
import type { InstanceKey } from '../src/registry/InstanceCache.js';
import type { RegistryInstance } from '../src/registry/types.js';
import { makeJsClient, payload } from './eureka-payload.js';
import { fmt, gc, median, percentile, table } from './support.js';

const SIZES = [10_000, 100_000];
const CHANGES = 100;
const WARMUP = 20;
const DELTAS = 200;
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

/** The registry as wire instances, and deltas of CHANGES changes made against it (each applied in turn). */
function deltas(size: number): { full: string; bodies: string[] } {
  const full = payload(size, Math.max(20, Math.round(size / 50)));
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
  for (let d = 0; d < WARMUP + DELTAS; d++) {
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
  readonly bytesPerDelta: number;
  readonly measuredAlloc: number;
  readonly hashMismatches: number;
}

function child(variant: Variant, size: number): ChildResult {
  const { full, bodies } = deltas(size);
  let apply: (body: string) => boolean;
  if (variant === 'karyon-ts') {
    const pool = new InstancePool();
    const cache = new InstanceCache({ equals: eurekaInstanceEquals });
    cache.replaceAll(decodeApplications(JSON.parse(full), Date.now()).instances.map((entry) => pool.compact(entry.instance)));
    for (const vip of VIPS) cache.upByVip(vip);
    apply = (body) => {
      const decoded = decodeApplications(JSON.parse(body), Date.now());
      const upserts: RegistryInstance[] = [];
      const removals: InstanceKey[] = [];
      for (const entry of decoded.instances) {
        if (entry.actionType === 'DELETED') removals.push(entry.instance);
        else upserts.push(pool.compact(entry.instance));
      }
      cache.apply(upserts, removals);
      for (const vip of VIPS) cache.upByVip(vip);
      return appsHashcodeOfCounts(cache.statusCounts()) === decoded.appsHashcode;
    };
  } else {
    const client = makeJsClient('http://127.0.0.1:1/eureka', true) as ReturnType<typeof makeJsClient> & {
      handleDelta(cache: unknown, applications: unknown): void;
      cache: unknown;
    };
    client.transformRegistry(JSON.parse(full));
    apply = (body) => {
      const doc = JSON.parse(body) as { applications: { application: unknown } };
      client.handleDelta(client.cache, doc.applications.application);
      for (const vip of VIPS) client.getInstancesByVipAddress(vip);
      // eureka-js-client checks no hash.
      return true;
    };
  }
  let scavenged = false;
  const observer = new PerformanceObserver(() => (scavenged = true));
  observer.observe({ entryTypes: ['gc'] });
  const times: number[] = [];
  const allocations: number[] = [];
  let mismatches = 0;
  // Deltas alternate between a time sample and an allocation sample: the GC forced before an allocation sample
  // leaves the old space to be swept lazily by the allocations that follow, which would count, in time, work
  // proportional to the whole heap that no delta causes.
  bodies.forEach((body, i) => {
    const allocationSample = i % 2 === 0;
    if (allocationSample) {
      gc();
      scavenged = false;
    }
    const before = process.memoryUsage().heapUsed;
    const started = performance.now();
    const ok = apply(body);
    const ms = performance.now() - started;
    const allocated = process.memoryUsage().heapUsed - before;
    if (i < WARMUP) return;
    if (!ok) mismatches++;
    if (!allocationSample) times.push(ms);
    else if (!scavenged) allocations.push(allocated);
  });
  observer.disconnect();
  return {
    medianMs: median(times),
    p99Ms: percentile(times, 99),
    bytesPerDelta: median(allocations),
    measuredAlloc: allocations.length,
    hashMismatches: mismatches,
  };
}

// ---- parent -----------------------------------------------------------------------------------------------

async function parent(): Promise<void> {
  console.log(`deltas of ${CHANGES} changes (80 status flips, 10 added, 10 removed), ${DELTAS} measured after ${WARMUP}; 3 VIP views read after each`);
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
    'A delta of 100 changes applied to the view (time per delta in ms; heap allocated per delta)',
    rows.map(({ size, variant, result }) => ({
      instances: size,
      client: variant,
      'median (ms)': fmt(result.medianMs, 3),
      'p99 (ms)': fmt(result.p99Ms, 3),
      'allocated / delta (KiB)': fmt(result.bytesPerDelta / 1024, 1),
      'allocated / instance held (bytes)': fmt(result.bytesPerDelta / size, 3),
      'deltas without GC (alloc sample)': result.measuredAlloc,
      'hash mismatches': result.hashMismatches,
    })),
  );
  table(
    'karyon-ts / eureka-js-client (lower is better)',
    SIZES.map((size) => {
      const ours = rows.find((r) => r.size === size && r.variant === 'karyon-ts')!.result;
      const peer = rows.find((r) => r.size === size && r.variant !== 'karyon-ts')!.result;
      return { instances: size, 'median time': fmt(ours.medianMs / peer.medianMs, 3), 'allocation': fmt(ours.bytesPerDelta / peer.bytesPerDelta, 3) };
    }),
  );
  const ours = (size: number): ChildResult => rows.find((r) => r.size === size && r.variant === 'karyon-ts')!.result;
  console.log(
    `\nkaryon-ts from 10,000 to 100,000 instances: time x${fmt(ours(100_000).medianMs / ours(10_000).medianMs, 2)}, allocation x${fmt(ours(100_000).bytesPerDelta / ours(10_000).bytesPerDelta, 2)} (10x the registry)`,
  );
}

if (process.argv[2] === 'child') {
  console.log(JSON.stringify(child(process.argv[3] as Variant, Number(process.argv[4]))));
} else {
  await parent();
}
