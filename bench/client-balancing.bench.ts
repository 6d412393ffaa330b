// The service client against raw undici and undici's BalancedPool, every ratio measured in the same run.
//  1. overhead:  requests/s and p50/p99 of a balanced call to 3 local instances against raw undici pools to
//                the same servers (round robin by hand), one request at a time and 32 at a time; plus the cost
//                of a pick (ns, and garbage collections during 10 M picks) for 3, 100 and 10,000 instances.
//  2. straggler: 5 instances answering in 10 ms, one of them in 100 ms, at 1000 requests/s: p99 and the slow
//                instance's share of traffic for each rule (switched live on one warmed-up client) and for
//                BalancedPool, against an all-healthy run. The event loop lag column shows how noisy the
//                machine was during each measurement.
//  3. kill:      one of 5 instances (each its own process) killed under load: caller-visible errors and tries
//                sent to the dead instance, for the client and for BalancedPool.
//  4. rolling:   5 instances restarted one by one under load with graceful stop (out-of-service guard, then
//                drain), the registry telling clients 500 ms late: failed requests, client and BalancedPool.
// The servers run in child processes so the load generator does not share their event loop.
//  5. regimes:   5 upstream processes of bounded capacity, one 10x slower: closed loop at saturation (32
//                callers), then open loop at 30%, 60% and 90% of the capacity measured there; the client
//                (with and without hedging) against round robin and BalancedPool, each against an all-healthy
//                run; and a fresh client's estimates after 2 s (cold start).
//  6. tails:     the 30% and 60% regimes again, in rounds (--rounds=N, default 3): each round measures the
//                all-healthy fleet and the straggler fleet in alternating slices with fresh clients, so a ratio
//                is taken within a round; p99 end to end and at the upstream (its queue and work); rounds where
//                an upstream itself stalled are marked; cold start per round. The third client is the rule
//                without stall detection, or with --hedging the client with hedging on.
//  7. model:     the regimes of 5 and 6 in a deterministic model (bench/balancerModel.ts): simulated upstreams
//                on a simulated clock, the real balancer picking, seeds 1 to N (--seeds=N, default 5); the
//                all-healthy fleet against the straggler fleet for p2c-ewma (with and without stall detection,
//                with and without stalls of the caller), least-loaded, round robin and a join-the-shortest-queue
//                bound; and cold start. The machine's load does not enter, so a change of the rule shows as is.
// Run: npx tsx bench/client-balancing.bench.ts [--only=overhead|straggler|kill|rolling|regimes|tails|model] [--dist]
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { BalancedPool, Pool } from 'undici';
import type * as BalancerModule from '../src/balancer/index.js';
import type { BalancerTarget } from '../src/balancer/index.js';
import type * as Library from '../src/index.js';
import type { InstanceDescriptor, InstanceStatus, RegistryChange, RegistryInstance, ServiceClient, ServiceRegistry } from '../src/index.js';
import type * as Testing from '../src/testing/index.js';
import { fmt, median, percentile, table } from './support.js';

// --dist measures the compiled library (`npm run build` first), as users run it: under tsx every closure the
// library creates per request also goes through esbuild's name-keeping helper, which costs on the hot path.
const dist = process.argv.includes('--dist');
const base = dist ? '../dist' : '../src';
const { Balancer, resolveBalancerOptions } = (await import(`${base}/balancer/index.js`)) as typeof BalancerModule;
const { CommandRegistry, createServiceClient, outOfServiceGuard } = (await import(`${base}/index.js`)) as typeof Library;
const { InMemoryRegistry, testInstance } = (await import(`${base}/testing/index.js`)) as typeof Testing;
type InMemoryRegistry = Testing.InMemoryRegistry;

const self = fileURLToPath(import.meta.url);

// ---------------------------------------------------------------------------------------------------------
// Child process: instance servers.

interface ServeSpec {
  /** Answer delay of each server, in ms. */
  readonly delaysMs: readonly number[];
  /**
   * Requests each server works on at once (each holding a slot for its delay; the rest queue), so a server
   * has a capacity of slots / delay; 0 for no limit (every request answered after the delay).
   */
  readonly slots?: number;
}

type ParentMessage = { type: 'restart'; index: number; drainDelayMs: number } | { type: 'hits'; index: number } | { type: 'exit' };
type ChildMessage =
  | { type: 'ports'; ports: number[]; pid: number }
  | { type: 'restarted'; index: number; port: number }
  | { type: 'hits'; index: number; hits: number };

async function serve(spec: ServeSpec): Promise<void> {
  const servers: Server[] = [];
  const hits: number[] = spec.delaysMs.map(() => 0);
  const start = async (index: number): Promise<number> => {
    const delay = spec.delaysMs[index]!;
    const status = { value: 'UP' };
    const slots = spec.slots ?? 0;
    let busy = 0;
    const queue: (() => void)[] = [];
    const release = (): void => {
      busy--;
      const next = queue.shift();
      if (next !== undefined) next();
    };
    const handler = outOfServiceGuard(() => status.value)((req, res) => {
      hits[index]!++;
      const arrived = performance.now();
      req.resume();
      const answer = (): void => {
        // Time spent at the upstream (queue + work), so the bench can tell upstream queueing from its own delays.
        res.setHeader('x-served-us', Math.round((performance.now() - arrived) * 1000));
        res.setHeader('x-work-ms', delay);
        res.end('ok');
      };
      const work = (): void => {
        busy++;
        setTimeout(() => {
          answer();
          release();
        }, delay);
      };
      req.on('end', () => {
        if (slots === 0) {
          if (delay > 0) setTimeout(answer, delay);
          else answer();
        } else if (busy < slots) work();
        else queue.push(work);
      });
    });
    const server = createServer(handler);
    server.keepAliveTimeout = 30_000;
    (server as Server & { status?: { value: string } }).status = status;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers[index] = server;
    return (server.address() as AddressInfo).port;
  };
  const ports: number[] = [];
  for (let i = 0; i < spec.delaysMs.length; i++) ports.push(await start(i));
  process.send!({ type: 'ports', ports, pid: process.pid } satisfies ChildMessage);
  // A parent that failed or was killed must not leave its servers running.
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'exit') process.exit(0);
    if (message.type === 'hits') process.send!({ type: 'hits', index: message.index, hits: hits[message.index]! } satisfies ChildMessage);
    if (message.type === 'restart') {
      const old = servers[message.index]! as Server & { status?: { value: string } };
      // Graceful stop as a karyon service does it: refuse new requests with the out-of-service answer, wait
      // for clients to notice, then stop listening and let requests in flight finish.
      old.status!.value = 'SHUTTING_DOWN';
      setTimeout(() => {
        old.close();
        old.closeIdleConnections();
      }, message.drainDelayMs);
      void start(message.index).then((port) => process.send!({ type: 'restarted', index: message.index, port } satisfies ChildMessage));
    }
  });
}

interface Child {
  readonly process: ChildProcess;
  readonly ports: number[];
}

async function spawnServers(delaysMs: readonly number[], slots = 0): Promise<Child> {
  const child = fork(self, ['--serve', JSON.stringify({ delaysMs, slots } satisfies ServeSpec), ...(dist ? ['--dist'] : [])], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ports = await new Promise<number[]>((resolve, reject) => {
    child.once('message', (message: ChildMessage) => {
      if (message.type === 'ports') resolve(message.ports);
    });
    child.once('exit', (code) => reject(new Error(`server process exited with ${String(code)}`)));
  });
  return { process: child, ports };
}

function stopChild(child: Child): void {
  if (child.process.connected) child.process.send({ type: 'exit' } satisfies ParentMessage);
  else child.process.kill('SIGKILL');
}

// ---------------------------------------------------------------------------------------------------------
// Load generation.

function descriptor(id: string, port: number): InstanceDescriptor {
  return testInstance({ instanceId: id, app: 'BENCH', zone: 'z1', port });
}

/** One call: resolves with the status, rejects on error; the caller measures. */
type Call = () => Promise<number>;

interface LoadResult {
  readonly requests: number;
  readonly errors: number;
  readonly rps: number;
  readonly latenciesUs: Float64Array;
  /** CPU time of this process (the load generator and the client) per request, in µs. */
  readonly cpuUsPerRequest: number;
}

function cpuUs(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

/** Closed loop: `concurrency` callers back to back for `durationMs`. */
async function closedLoop(call: Call, concurrency: number, durationMs: number): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  const cpuStart = cpuUs();
  const started = performance.now();
  const end = started + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        try {
          const status = await call();
          if (status >= 500) errors++;
        } catch {
          errors++;
        }
        latencies.push((performance.now() - t) * 1000);
      }
    }),
  );
  const elapsed = performance.now() - started;
  const cpuUsPerRequest = (cpuUs() - cpuStart) / latencies.length;
  return { requests: latencies.length, errors, rps: (latencies.length / elapsed) * 1000, latenciesUs: Float64Array.from(latencies), cpuUsPerRequest };
}

/** Open loop: `rate` calls per second for `durationMs`, whatever the latency (no coordinated omission). */
async function openLoop(call: Call, rate: number, durationMs: number): Promise<LoadResult> {
  const latencies: number[] = [];
  const pending: Promise<void>[] = [];
  let errors = 0;
  const cpuStart = cpuUs();
  const started = performance.now();
  let sent = 0;
  while (performance.now() - started < durationMs) {
    const due = Math.floor(((performance.now() - started) / 1000) * rate);
    for (; sent < due; sent++) {
      const t = started + (sent / rate) * 1000; // latency counted from when the call was due
      pending.push(
        call().then(
          (status) => {
            if (status >= 500) errors++;
            latencies.push((performance.now() - t) * 1000);
          },
          () => {
            errors++;
            latencies.push((performance.now() - t) * 1000);
          },
        ),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(pending);
  const elapsed = performance.now() - started;
  const cpuUsPerRequest = (cpuUs() - cpuStart) / latencies.length;
  return { requests: latencies.length, errors, rps: (latencies.length / elapsed) * 1000, latenciesUs: Float64Array.from(latencies), cpuUsPerRequest };
}

function p(result: LoadResult, q: number): number {
  return percentile(Array.from(result.latenciesUs), q);
}

/**
 * While set, every call records the time its answer spent at the upstream (the server's `x-served-us`), in
 * µs: the part of a latency the balancing decides (which queue a request joins), apart from the load
 * generator's own event loop.
 */
let servedUs: number[] | undefined;
/** The same, for the answers of the fast upstreams (those working 5 ms or less) alone. */
let fastServedUs: number[] | undefined;

function recordServed(headers: Record<string, string | string[] | undefined>): void {
  const value = headers['x-served-us'];
  if (servedUs === undefined || typeof value !== 'string') return;
  servedUs.push(Number(value));
  if (Number(headers['x-work-ms']) <= 5) fastServedUs?.push(Number(value));
}

function clientCall(client: ServiceClient): Call {
  return async () => {
    const response = await client.request({ path: '/' });
    recordServed(response.headers);
    await response.body.dump();
    return response.statusCode;
  };
}

function rawCall(pools: Pool[]): Call {
  let next = 0;
  return async () => {
    const pool = pools[next++ % pools.length]!;
    const response = await pool.request({ path: '/', method: 'GET' });
    recordServed(response.headers);
    await response.body.dump();
    return response.statusCode;
  };
}

function balancedPoolCall(pool: BalancedPool): Call {
  return async () => {
    const response = await pool.request({ path: '/', method: 'GET' });
    recordServed(response.headers);
    await response.body.dump();
    return response.statusCode;
  };
}

async function registryOf(ports: readonly number[], prefix = 'i'): Promise<InMemoryRegistry> {
  const registry = new InMemoryRegistry();
  for (const [i, port] of ports.entries()) await registry.register(descriptor(`${prefix}${i}`, port), 'UP');
  return registry;
}

// ---------------------------------------------------------------------------------------------------------
// 1. Overhead.

function pickCost(instances: number, picks: number): { nsPerPick: number; gcs: number } {
  const balancer = new Balancer<BalancerTarget>(resolveBalancerOptions({}));
  balancer.update(
    Array.from({ length: instances }, (_, i) => ({ instanceId: `i${i}`, zone: 'z' })),
    Date.now(),
  );
  const now = Date.now();
  for (const state of balancer.states) {
    balancer.begin(state);
    balancer.succeed(state, 1 + Math.random() * 10, now);
  }
  for (let i = 0; i < 100_000; i++) balancer.pick(now); // warm up
  let gcs = 0;
  const observer = new PerformanceObserver((list) => (gcs += list.getEntries().length));
  observer.observe({ entryTypes: ['gc'] });
  const started = performance.now();
  let sink = 0;
  for (let i = 0; i < picks; i++) sink += balancer.pick(now)!.pending;
  const elapsed = performance.now() - started;
  observer.disconnect();
  if (sink < 0) console.log(sink);
  return { nsPerPick: (elapsed * 1e6) / picks, gcs };
}

async function overhead(): Promise<void> {
  const child = await spawnServers([0, 0, 0]);
  const registry = await registryOf(child.ports);
  const client = createServiceClient({ registry, vip: 'bench' });
  // What service.client() gives: the same client with its breaker (command client:bench) on every call.
  const commands = new CommandRegistry();
  const guardedClient = createServiceClient({ registry, vip: 'bench', commands });
  const pools = child.ports.map((port) => new Pool(`http://127.0.0.1:${port}`, { pipelining: 1 }));
  const raw = rawCall(pools);
  const balanced = clientCall(client);
  const guarded = clientCall(guardedClient);
  // Warm up every path (JIT, connections).
  await closedLoop(raw, 32, 1500);
  await closedLoop(balanced, 32, 1500);
  await closedLoop(guarded, 32, 1500);

  // Short rounds, interleaved and in alternating order, so the drift of a shared machine hits both alike;
  // ratios are taken within each round and their median reported.
  const rounds = 12;
  const empty = () => ({ raw: [] as LoadResult[], client: [] as LoadResult[], guarded: [] as LoadResult[] });
  const runs = { seq: empty(), par: empty() };
  const calls = { raw, client: balanced, guarded } as const;
  for (let round = 0; round < rounds; round++) {
    const order = (['raw', 'client', 'guarded'] as const).slice();
    if (round % 2 === 1) order.reverse();
    for (const which of order) runs.seq[which].push(await closedLoop(calls[which], 1, 600));
    for (const which of order) runs.par[which].push(await closedLoop(calls[which], 32, 800));
  }
  const rows: Record<string, string | number>[] = [];
  for (const [label, all] of [
    ['1 at a time', runs.seq],
    ['32 at a time', runs.par],
    ['1 at a time, with breaker', { raw: runs.seq.raw, client: runs.seq.guarded }],
    ['32 at a time, with breaker', { raw: runs.par.raw, client: runs.par.guarded }],
  ] as const) {
    const set = { raw: all.raw, client: all.client };
    const ratio = (f: (r: LoadResult) => number): number => median(set.raw.map((r, i) => f(set.client[i]!) / f(r)));
    const diff = (f: (r: LoadResult) => number): number => median(set.raw.map((r, i) => f(set.client[i]!) - f(r)));
    const med = (results: LoadResult[], f: (r: LoadResult) => number): number => median(results.map(f));
    rows.push({
      load: label,
      'raw rps': fmt(med(set.raw, (r) => r.rps), 0),
      'client rps': fmt(med(set.client, (r) => r.rps), 0),
      'rps ratio': fmt(ratio((r) => r.rps), 3),
      'raw CPU µs/req': fmt(med(set.raw, (r) => r.cpuUsPerRequest), 1),
      'client CPU µs/req': fmt(med(set.client, (r) => r.cpuUsPerRequest), 1),
      'CPU ratio': fmt(ratio((r) => r.cpuUsPerRequest), 3),
      'raw p50 µs': fmt(med(set.raw, (r) => p(r, 50)), 1),
      'added p50 µs': fmt(diff((r) => p(r, 50)), 1),
      'raw p99 µs': fmt(med(set.raw, (r) => p(r, 99)), 1),
      'client p99 µs': fmt(med(set.client, (r) => p(r, 99)), 1),
      errors: [...set.raw, ...set.client].reduce((sum, r) => sum + r.errors, 0),
    });
  }
  table(`1. Overhead: balanced call (p2c-ewma; then also through the client's breaker, as service.client() makes it) vs raw undici pools, 3 instances; medians of ${rounds} interleaved rounds`, rows);
  await guardedClient.close();
  await commands.close();
  table(
    '1b. Cost of a pick (p2c-ewma), 10 M picks each: garbage collections show allocation',
    [3, 100, 10_000].map((n) => {
      const cost = pickCost(n, 10_000_000);
      return { instances: n, 'ns per pick': fmt(cost.nsPerPick, 1), 'GCs during 10 M picks': cost.gcs };
    }),
  );
  await client.close();
  await Promise.all(pools.map((pool) => pool.close()));
  stopChild(child);
}

// ---------------------------------------------------------------------------------------------------------
// 2. Straggler.

/** Ramps up to `rate` (a tenth of it for 2 s) so cold connections do not start every estimate at a spike. */
async function warmUp(call: Call, rate: number, durationMs: number): Promise<void> {
  await openLoop(call, rate / 10, 2000);
  await openLoop(call, rate, durationMs - 2000);
}

async function straggler(): Promise<void> {
  const rate = 1000;
  const warmupMs = 12_000;
  const measureMs = 6000;
  const healthy = await spawnServers([10, 10, 10, 10, 10]);
  const slowed = await spawnServers([10, 10, 10, 10, 100]);
  const rows: Record<string, string | number>[] = [];
  const lag = monitorEventLoopDelay({ resolution: 5 });
  lag.enable();

  const measure = async (client: ServiceClient, label: string, rule: string, slowId: string | undefined): Promise<number> => {
    const count = (): { slow: number; all: number } => {
      const instances = client.stats().instances;
      return {
        slow: instances.find((i) => i.instanceId === slowId)?.requests ?? 0,
        all: instances.reduce((sum, i) => sum + i.requests, 0),
      };
    };
    const before = count();
    lag.reset();
    const result = await openLoop(clientCall(client), rate, measureMs);
    const after = count();
    const p99 = p(result, 99) / 1000;
    rows.push({
      servers: label,
      rule,
      'p50 ms': fmt(p(result, 50) / 1000, 1),
      'p99 ms': fmt(p99, 1),
      'slow share %': slowId === undefined ? '-' : fmt(((after.slow - before.slow) / (after.all - before.all)) * 100, 2),
      errors: result.errors,
      'loop lag p99/max ms': `${fmt(lag.percentile(99) / 1e6, 0)}/${fmt(lag.max / 1e6, 0)}`,
    });
    return p99;
  };

  // Each client is warmed up once, then its rule is switched live: rules share the instance state.
  const baselineClient = createServiceClient({ registry: await registryOf(healthy.ports), vip: 'bench' });
  await warmUp(clientCall(baselineClient), rate, warmupMs);
  const baseline = await measure(baselineClient, 'all healthy', 'p2c-ewma', undefined);
  await baselineClient.close();

  const p99s = new Map<string, number>();
  const client = createServiceClient({ registry: await registryOf(slowed.ports), vip: 'bench' });
  await warmUp(clientCall(client), rate, warmupMs);
  for (const rule of ['round-robin', 'random', 'weighted-response-time', 'least-loaded', 'zone-avoidance', 'p2c-ewma'] as const) {
    client.setRule(rule);
    p99s.set(rule, await measure(client, 'one 10x slower', rule, 'i4'));
  }
  await client.close();

  // The same rule with a shorter memory: it forgets a machine-wide stall (which raises every estimate at once)
  // sooner, but also re-probes the slow instance more often.
  const quick = createServiceClient({ registry: await registryOf(slowed.ports), vip: 'bench', latency: { decayMs: 2000 } });
  await warmUp(clientCall(quick), rate, warmupMs);
  p99s.set('p2c-ewma, decay 2 s', await measure(quick, 'one 10x slower', 'p2c-ewma, decay 2 s', 'i4'));
  await quick.close();

  // The Node peer: undici's BalancedPool over the same servers.
  const balanced = new BalancedPool(slowed.ports.map((port) => `http://127.0.0.1:${port}`));
  const call = balancedPoolCall(balanced);
  await warmUp(call, rate, 4000);
  // BalancedPool does not say where a request went: the slow server counts what it answered.
  const before = await serverHits(slowed, 4);
  lag.reset();
  const result = await openLoop(call, rate, measureMs);
  const slowHits = (await serverHits(slowed, 4)) - before;
  rows.push({
    servers: 'one 10x slower',
    rule: 'undici BalancedPool',
    'p50 ms': fmt(p(result, 50) / 1000, 1),
    'p99 ms': fmt(p(result, 99) / 1000, 1),
    'slow share %': fmt((slowHits / result.requests) * 100, 2),
    errors: result.errors,
    'loop lag p99/max ms': `${fmt(lag.percentile(99) / 1e6, 0)}/${fmt(lag.max / 1e6, 0)}`,
  });
  p99s.set('BalancedPool', p(result, 99) / 1000);
  await balanced.close();
  lag.disable();
  table(
    `2. Straggler: 5 instances at 10 ms, one at 100 ms, ${rate} req/s open loop, ${measureMs / 1000} s per rule after a ${warmupMs / 1000} s warm-up (load average ${loadavg()[0]!.toFixed(1)})`,
    rows,
  );
  table(
    '2b. p99 against the all-healthy run (p2c-ewma goal: <= 1.2x)',
    [...p99s].map(([rule, value]) => ({ rule, 'p99 / healthy p99': fmt(value / baseline, 2) })),
  );
  stopChild(healthy);
  stopChild(slowed);
}

/** Requests a server of the child has answered (asked over a status request to the child). */
async function serverHits(child: Child, index: number): Promise<number> {
  return new Promise((resolve) => {
    const onMessage = (message: ChildMessage): void => {
      if (message.type === 'hits' && message.index === index) {
        child.process.off('message', onMessage);
        resolve(message.hits);
      }
    };
    child.process.on('message', onMessage);
    child.process.send({ type: 'hits', index } satisfies ParentMessage);
  });
}

// ---------------------------------------------------------------------------------------------------------
// 3. Kill.

/** Runs both peers on throwaway servers first, so neither is measured with a cold JIT. */
async function warmUpPeers(): Promise<void> {
  const child = await spawnServers([1, 1, 1, 1, 1]);
  const registry = await registryOf(child.ports);
  const client = createServiceClient({ registry, vip: 'bench' });
  const balanced = new BalancedPool(child.ports.map((port) => `http://127.0.0.1:${port}`));
  for (let i = 0; i < 2; i++) {
    await closedLoop(clientCall(client), 32, 1000);
    await closedLoop(balancedPoolCall(balanced), 32, 1000);
  }
  await client.close();
  await balanced.close();
  stopChild(child);
}

async function kill(): Promise<void> {
  const concurrency = 32;
  const rows: Record<string, string | number>[] = [];
  await warmUpPeers();
  for (const peer of ['client', 'BalancedPool', 'BalancedPool', 'client'] as const) {
    const children = await Promise.all(Array.from({ length: 5 }, () => spawnServers([2])));
    const ports = children.map((child) => child.ports[0]!);
    const registry = await registryOf(ports);
    const client = createServiceClient({ registry, vip: 'bench' });
    const balanced = new BalancedPool(ports.map((port) => `http://127.0.0.1:${port}`));
    const call = peer === 'client' ? clientCall(client) : balancedPoolCall(balanced);
    await closedLoop(call, concurrency, 1000); // warm-up
    const victim = children[2]!;
    const before = client.stats().instances.find((i) => i.instanceId === 'i2')!;
    const running = closedLoop(call, concurrency, 3000);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    victim.process.kill('SIGKILL');
    const result = await running;
    const dead = client.stats().instances.find((i) => i.instanceId === 'i2')!;
    rows.push({
      peer: peer === 'client' ? 'client (p2c-ewma)' : 'undici BalancedPool',
      requests: result.requests,
      'caller-visible errors': result.errors,
      // Tries in flight when it died (cut) plus those sent before it was ejected (refused).
      'tries sent to the dead instance': peer === 'client' ? dead.failures - before.failures : `${result.errors} (all failed)`,
      'dead instance': peer === 'client' ? dead.state : 'kept in rotation',
      retries: peer === 'client' ? client.stats().retries : 0,
      'p99 ms': fmt(p(result, 99) / 1000, 1),
    });
    await client.close();
    await balanced.close().catch(() => undefined);
    for (const child of children) if (child !== victim) stopChild(child);
  }
  table('3. Kill: one of 5 instances (2 ms answers, each its own process) killed by SIGKILL under 32 concurrent callers', rows);
}

// ---------------------------------------------------------------------------------------------------------
// 4. Rolling restart.

/**
 * What a client of a remote registry sees: a copy refreshed every `lagMs` (a Eureka client fetches every
 * 30 s; here 500 ms), so instances leave the client's list late.
 */
class LaggingRegistry implements ServiceRegistry {
  readonly inner = new InMemoryRegistry();
  readonly #listeners = new Set<(change: RegistryChange) => void>();
  readonly #timer: NodeJS.Timeout | undefined;
  /** 0: every change is seen at once (a view that never lags). */
  readonly #lagMs: number;
  #view: readonly RegistryInstance[] = [];
  constructor(lagMs: number) {
    this.#lagMs = lagMs;
    this.#timer = lagMs === 0 ? undefined : setInterval(() => this.refresh(), lagMs);
  }
  refresh(): void {
    this.#view = this.inner.upInstancesByVip('bench');
    for (const listener of this.#listeners) listener({ added: [], removed: [], modified: [] });
  }
  async register(instance: InstanceDescriptor, status: InstanceStatus): Promise<void> {
    await this.inner.register(instance, status);
    if (this.#lagMs === 0) this.refresh();
  }
  setStatus(instanceId: string, status: InstanceStatus): Promise<void> {
    return this.inner.setStatus(instanceId, status);
  }
  heartbeat(instanceId: string): Promise<void> {
    return this.inner.heartbeat(instanceId);
  }
  async deregister(instanceId: string): Promise<void> {
    await this.inner.deregister(instanceId);
    if (this.#lagMs === 0) this.refresh();
  }
  instancesByApp(app: string): readonly RegistryInstance[] {
    return this.inner.instancesByApp(app);
  }
  instancesByVip(vip: string): readonly RegistryInstance[] {
    return this.inner.instancesByVip(vip);
  }
  upInstancesByVip(vip: string): readonly RegistryInstance[] {
    return vip === 'bench' ? this.#view : [];
  }
  onChange(listener: (change: RegistryChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  close(): Promise<void> {
    clearInterval(this.#timer);
    return Promise.resolve();
  }
}

async function rolling(): Promise<void> {
  const concurrency = 16;
  const lagMs = 500;
  const drainDelayMs = 300;
  const rows: Record<string, string | number>[] = [];
  await warmUpPeers();
  // 'BalancedPool, view at once': the same restarts with a registry view that never lags (removeUpstream as the
  // instance starts shutting down, addUpstream as its replacement listens), the best BalancedPool can be given.
  for (const peer of ['client', 'BalancedPool', 'BalancedPool, view at once', 'BalancedPool', 'BalancedPool, view at once', 'client'] as const) {
    const child = await spawnServers([2, 2, 2, 2, 2]);
    const registry = new LaggingRegistry(peer === 'BalancedPool, view at once' ? 0 : lagMs);
    const ids: string[] = [];
    for (const [i, port] of child.ports.entries()) {
      ids.push(`i${i}-0`);
      await registry.register(descriptor(`i${i}-0`, port), 'UP');
    }
    registry.refresh();
    let call: Call;
    let close: () => Promise<void>;
    let stats = (): string | number => '-';
    if (peer === 'client') {
      const client = createServiceClient({ registry, vip: 'bench' });
      call = clientCall(client);
      close = () => client.close();
      stats = () => client.stats().retries;
    } else {
      // BalancedPool follows the same lagging view: upstreams added and removed as the view changes.
      const origin = (instance: RegistryInstance): string => `http://${instance.ipAddr}:${instance.port}`;
      const balanced = new BalancedPool(registry.upInstancesByVip('bench').map(origin));
      registry.onChange(() => {
        const wanted = new Set(registry.upInstancesByVip('bench').map(origin));
        for (const upstream of balanced.upstreams) if (!wanted.has(upstream)) balanced.removeUpstream(upstream);
        for (const upstream of wanted) if (!balanced.upstreams.includes(upstream)) balanced.addUpstream(upstream);
      });
      call = balancedPoolCall(balanced);
      close = () => balanced.close();
    }
    await closedLoop(call, concurrency, 1000); // warm-up
    const restarts = (async () => {
      for (let i = 0; i < 5; i++) {
        await new Promise((resolve) => setTimeout(resolve, 400));
        const restarted = new Promise<number>((resolve) => {
          const onMessage = (message: ChildMessage): void => {
            if (message.type === 'restarted' && message.index === i) {
              child.process.off('message', onMessage);
              resolve(message.port);
            }
          };
          child.process.on('message', onMessage);
        });
        // The old instance leaves the registry as it starts shutting down; the replacement registers
        // when it listens. Clients hear of both only at their next refresh.
        child.process.send({ type: 'restart', index: i, drainDelayMs } satisfies ParentMessage);
        await registry.deregister(ids[i]!);
        const port = await restarted;
        ids[i] = `i${i}-1`;
        await registry.register(descriptor(ids[i]!, port), 'UP');
      }
      await new Promise((resolve) => setTimeout(resolve, 600));
    })();
    let done = false;
    void restarts.then(() => (done = true));
    const codes = new Map<string, number>();
    const result = await closedLoopUntil(call, concurrency, () => done, codes);
    rows.push({
      peer: peer === 'client' ? 'client (p2c-ewma)' : `undici ${peer}`,
      requests: result.requests,
      'failed requests': result.errors,
      'failures by code': [...codes].map(([code, n]) => `${code} ${n}`).join(', ') || '-',
      retries: stats(),
      'p99 ms': fmt(p(result, 99) / 1000, 1),
    });
    await close();
    await registry.close();
    stopChild(child);
  }
  table(
    `4. Rolling restart: 5 instances restarted one by one under ${concurrency} concurrent callers; graceful stop (${drainDelayMs} ms out of service, then drain); clients see the registry ${lagMs} ms late, or at once ('view at once')`,
    rows,
  );
}

/** Closed loop until `stop()` says so; `codes` tallies the failures by error code (or HTTP status). */
async function closedLoopUntil(call: Call, concurrency: number, stop: () => boolean, codes?: Map<string, number>): Promise<LoadResult> {
  const tally = (code: string): void => void codes?.set(code, (codes.get(code) ?? 0) + 1);
  const latencies: number[] = [];
  let errors = 0;
  const cpuStart = cpuUs();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (!stop()) {
        const t = performance.now();
        try {
          const status = await call();
          if (status >= 500) {
            errors++;
            tally(`HTTP ${status}`);
          }
        } catch (error) {
          errors++;
          const code = (error as { code?: unknown }).code;
          tally(typeof code === 'string' ? code : 'error');
        }
        latencies.push((performance.now() - t) * 1000);
      }
    }),
  );
  const elapsed = performance.now() - started;
  return {
    requests: latencies.length,
    errors,
    rps: (latencies.length / elapsed) * 1000,
    latenciesUs: Float64Array.from(latencies),
    cpuUsPerRequest: (cpuUs() - cpuStart) / latencies.length,
  };
}


// ---------------------------------------------------------------------------------------------------------
// 5. Load regimes with a straggler.

/** A peer under test: how to make one over some origins, and how it calls. */
interface Peer {
  readonly name: string;
  make(ports: readonly number[]): Promise<{ call: Call; close: () => Promise<void>; client?: ServiceClient }>;
}

const regimePeers: readonly Peer[] = [
  {
    name: 'client (p2c-ewma)',
    make: async (ports) => {
      const client = createServiceClient({ registry: await registryOf(ports), vip: 'bench' });
      return { call: clientCall(client), close: () => client.close(), client };
    },
  },
  {
    name: 'client + hedging',
    make: async (ports) => {
      const client = createServiceClient({ registry: await registryOf(ports), vip: 'bench', hedging: true });
      return { call: clientCall(client), close: () => client.close(), client };
    },
  },
  {
    name: 'round robin (undici pools)',
    make: (ports) => {
      const pools = ports.map((port) => new Pool(`http://127.0.0.1:${port}`, { pipelining: 1 }));
      return Promise.resolve({ call: rawCall(pools), close: async () => void (await Promise.all(pools.map((pool) => pool.close()))) });
    },
  },
  {
    name: 'undici BalancedPool',
    make: (ports) => {
      const pool = new BalancedPool(ports.map((port) => `http://127.0.0.1:${port}`));
      return Promise.resolve({ call: balancedPoolCall(pool), close: () => pool.close() });
    },
  },
];

async function regimes(): Promise<void> {
  const fastMs = 5;
  const slowMs = 10 * fastMs;
  const slots = 2;
  const callers = 32;
  const warmMs = 2000;
  const measureMs = 5000;
  const healthy = await Promise.all(Array.from({ length: 5 }, () => spawnServers([fastMs], slots)));
  const slowed = await Promise.all([0, 1, 2, 3, 4].map((i) => spawnServers([i === 4 ? slowMs : fastMs], slots)));
  const healthyPorts = healthy.map((child) => child.ports[0]!);
  const slowedPorts = slowed.map((child) => child.ports[0]!);
  const lag = monitorEventLoopDelay({ resolution: 5 });
  lag.enable();
  const totalHits = async (fleet: Child[]): Promise<number[]> => Promise.all(fleet.map((child) => serverHits(child, 0)));
  await warmUpPeers();

  const rows: Record<string, string | number>[] = [];
  const run = async (peer: Peer, fleet: Child[], ports: readonly number[], regime: string, load: (call: Call, ms: number) => Promise<LoadResult>): Promise<LoadResult> => {
    const made = await peer.make(ports);
    await load(made.call, warmMs);
    const before = await totalHits(fleet);
    lag.reset();
    const result = await load(made.call, measureMs);
    const after = await totalHits(fleet);
    const sent = after.reduce((sum, hits, i) => sum + hits - before[i]!, 0);
    const toStraggler = fleet === slowed ? after[4]! - before[4]! : 0;
    await made.close();
    rows.push({
      regime,
      servers: fleet === slowed ? 'one 10x slower' : 'all healthy',
      peer: peer.name,
      'req/s': fmt(result.rps, 0),
      'p50 ms': fmt(p(result, 50) / 1000, 1),
      'p99 ms': fmt(p(result, 99) / 1000, 1),
      'to straggler %': fleet === slowed ? fmt((toStraggler / sent) * 100, 2) : '-',
      'sent / calls': fmt(sent / result.requests, 3),
      errors: result.errors,
      'loop lag p99 ms': fmt(lag.percentile(99) / 1e6, 0),
    });
    return result;
  };

  const summary: Record<string, string | number>[] = [];
  const judge = (regime: string, baseline: LoadResult, results: Map<string, LoadResult>): void => {
    const peers = ['round robin (undici pools)', 'undici BalancedPool'].map((name) => results.get(name)!);
    const bestP99 = Math.min(...peers.map((r) => p(r, 99)));
    const bestRps = Math.max(...peers.map((r) => r.rps));
    for (const name of ['client (p2c-ewma)', 'client + hedging']) {
      const result = results.get(name)!;
      summary.push({
        regime,
        peer: name,
        'p99 / healthy p99': fmt(p(result, 99) / p(baseline, 99), 2),
        'p99 / better peer p99': fmt(p(result, 99) / bestP99, 2),
        'req/s / better peer req/s': fmt(result.rps / bestRps, 2),
      });
    }
  };

  // Saturation first: its throughput is the capacity the open-loop rates are fractions of.
  const closed = (call: Call, ms: number): Promise<LoadResult> => closedLoop(call, callers, ms);
  const saturated = new Map<string, LoadResult>();
  const healthySaturated = await run(regimePeers[0]!, healthy, healthyPorts, `closed loop, ${callers} callers`, closed);
  for (const peer of regimePeers) saturated.set(peer.name, await run(peer, slowed, slowedPorts, `closed loop, ${callers} callers`, closed));
  judge(`closed loop, ${callers} callers`, healthySaturated, saturated);
  const capacity = Math.max(...[...saturated.values()].map((r) => r.rps));

  for (const fraction of [0.3, 0.6, 0.9]) {
    const rate = Math.round(capacity * fraction);
    const regime = `open loop ${fraction * 100}% (${rate}/s)`;
    const open = (call: Call, ms: number): Promise<LoadResult> => openLoop(call, rate, ms);
    const baseline = await run(regimePeers[0]!, healthy, healthyPorts, regime, open);
    const results = new Map<string, LoadResult>();
    for (const peer of regimePeers) results.set(peer.name, await run(peer, slowed, slowedPorts, regime, open));
    judge(regime, baseline, results);
  }

  // Cold start: a fresh client at 30% of capacity; after 2 s, each fast instance's estimate against the
  // healthy fleet's median latency at that rate (the true latency of a fast instance, queueing included).
  const rate = Math.round(capacity * 0.3);
  const referencePeer = await regimePeers[0]!.make(healthyPorts);
  const reference = await openLoop(referencePeer.call, rate, 3000);
  await referencePeer.close();
  const fresh = createServiceClient({ registry: await registryOf(slowedPorts), vip: 'bench' });
  await openLoop(clientCall(fresh), rate, 2000);
  const trueMs = p(reference, 50) / 1000;
  const cold = fresh.stats().instances.map((instance) => ({
    instance: instance.instanceId + (instance.instanceId === 'i4' ? ' (straggler)' : ''),
    'estimate ms (ewma) at 2 s': fmt(instance.ewmaMs ?? NaN, 2),
    'true ms': fmt(instance.instanceId === 'i4' ? trueMs * 10 : trueMs, 2),
    ratio: fmt((instance.ewmaMs ?? NaN) / (instance.instanceId === 'i4' ? trueMs * 10 : trueMs), 2),
    requests: instance.requests,
  }));
  await fresh.close();
  lag.disable();

  table(
    `5. Load regimes: 5 upstream processes, each ${slots} requests at a time (queueing beyond), answering in ${fastMs} ms, one in ${slowMs} ms; ${warmMs / 1000} s warm-up then ${measureMs / 1000} s per peer, fresh peer each time (load average ${loadavg()[0]!.toFixed(1)}). 'sent / calls' counts hedges and retries`,
    rows,
  );
  table('5b. Goals: 30%/60%: p99 <= 1.2x healthy and < 1% to the straggler; 90% and saturation: p99 and req/s no worse than the better peer', summary);
  table(`5c. Cold start: a fresh client at ${rate}/s, estimates after 2 s (goal: within 2x)`, cold);
  for (const child of [...healthy, ...slowed]) stopChild(child);
}

// ---------------------------------------------------------------------------------------------------------
// 6. Tails at 30% and 60%, repeated.

/** `--name=N` from the command line, or `fallback`. */
function numericArg(name: string, fallback: number): number {
  const given = process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
  const value = given === undefined ? Number.NaN : Number(given);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

/** min to max (median), as a range over runs. */
function range(values: readonly number[], decimals = 2): string {
  return `${fmt(Math.min(...values), decimals)} to ${fmt(Math.max(...values), decimals)} (median ${fmt(median(values), decimals)})`;
}

/**
 * The 30% and 60% goals, measured so the machine's noise hits both sides alike: every round measures the
 * all-healthy fleet and the fleet with a straggler back to back (order alternating), each with a fresh client
 * warmed up at the rate; the ratio is taken within a round, and the rounds give a range. Next to the end to end
 * p99 (what a caller sees, the load generator's own event loop included) it reports the p99 of the time spent
 * at the upstream (its queue and its work, from the server's `x-served-us`): the part the balancing decides.
 * Each round also starts a fresh client on the straggler fleet and reads its estimates after 2 s (cold start),
 * against the latency its own calls saw in the second of those two seconds.
 */
async function tails(): Promise<void> {
  const fastMs = 5;
  const slowMs = 10 * fastMs;
  const slots = 2;
  const rounds = numericArg('rounds', 3);
  const warmMs = 2000;
  const measureMs = numericArg('measure-ms', 5000);
  // The two fleets share their four fast upstreams (the same processes), so the machine's noise on an upstream
  // process falls on both; the fifth is a fast one or the straggler.
  const shared = await Promise.all(Array.from({ length: 4 }, () => spawnServers([fastMs], slots)));
  const [fifth, straggling] = await Promise.all([spawnServers([fastMs], slots), spawnServers([slowMs], slots)]);
  const healthy = [...shared, fifth];
  const slowed = [...shared, straggling];
  const ports = (fleet: Child[]): number[] => fleet.map((child) => child.ports[0]!);
  const totalHits = async (fleet: Child[]): Promise<number[]> => Promise.all(fleet.map((child) => serverHits(child, 0)));
  const lag = monitorEventLoopDelay({ resolution: 5 });
  lag.enable();
  await warmUpPeers();
  const hedged = process.argv.includes('--hedging');

  // Capacity: the client in a closed loop of 32 callers on the straggler fleet, as in the regimes.
  const sizing = createServiceClient({ registry: await registryOf(ports(slowed)), vip: 'bench' });
  await closedLoop(clientCall(sizing), 32, warmMs);
  const capacity = (await closedLoop(clientCall(sizing), 32, 3000)).rps;
  await sizing.close();

  interface Measured {
    readonly p99: number;
    readonly p50: number;
    readonly servedP99: number;
    /** p99 at the upstream of the answers from the fast upstreams alone. */
    readonly fastServedP99: number;
    readonly toStraggler: number;
    readonly lagP99: number;
  }
  interface Side {
    readonly fleet: Child[];
    readonly client: ServiceClient;
    readonly latenciesUs: number[];
    readonly servedUs: number[];
    readonly fastServedUs: number[];
    sent: number;
    toStraggler: number;
    lagP99: number[];
  }
  // Both fleets are measured in alternating 1 s slices, each with its own client kept warm, so a burst of
  // load from elsewhere on the machine falls on both alike rather than on whichever ran at the time.
  const sliceMs = 1000;
  const measurePair = async (rate: number, round: number): Promise<Measured[]> => {
    const sides: Side[] = [];
    // The third side is the straggler fleet either without stall detection or, with --hedging, with hedging on.
    const third = hedged ? { hedging: true } : { latency: { stallWindowMs: 0 } };
    for (const [fleet, options] of [[healthy, {}], [slowed, {}], [slowed, third]] as const) {
      const client = createServiceClient({ registry: await registryOf(ports(fleet)), vip: 'bench', ...options });
      sides.push({ fleet, client, latenciesUs: [], servedUs: [], fastServedUs: [], sent: 0, toStraggler: 0, lagP99: [] });
    }
    for (const side of sides) await openLoop(clientCall(side.client), rate, warmMs);
    for (let slice = 0; slice < sides.length * Math.ceil(measureMs / sliceMs); slice++) {
      const side = sides[(slice + round) % sides.length]!;
      const before = await totalHits(side.fleet);
      servedUs = side.servedUs;
      fastServedUs = side.fastServedUs;
      lag.reset();
      const result = await openLoop(clientCall(side.client), rate, sliceMs);
      side.lagP99.push(lag.percentile(99) / 1e6);
      servedUs = undefined;
      fastServedUs = undefined;
      const after = await totalHits(side.fleet);
      for (const latency of result.latenciesUs) side.latenciesUs.push(latency);
      side.sent += after.reduce((sum, hits, i) => sum + hits - before[i]!, 0);
      if (side.fleet === slowed) side.toStraggler += after[4]! - before[4]!;
    }
    const measured: Measured[] = [];
    for (const side of sides) {
      await side.client.close();
      measured.push({
        p99: percentile(side.latenciesUs, 99) / 1000,
        p50: percentile(side.latenciesUs, 50) / 1000,
        servedP99: percentile(side.servedUs, 99) / 1000,
        fastServedP99: percentile(side.fastServedUs, 99) / 1000,
        toStraggler: side.toStraggler / side.sent,
        lagP99: median(side.lagP99),
      });
    }
    return measured;
  };

  // A round in which an upstream process was itself held up (the machine stopped it: its own p99, queue and
  // work, past 5x the work) is marked: requests queued at a stopped upstream cannot be moved by any balancer.
  const stalledAtMs = 5 * fastMs;
  const rows: Record<string, string | number>[] = [];
  const ratios = new Map<string, { p99: number[]; served: number[]; share: number[]; stalled: boolean[] }>();
  const cold: Record<string, string | number>[] = [];
  const coldRatios = new Map<string, number[]>();
  for (let round = 1; round <= rounds; round++) {
    for (const fraction of [0.3, 0.6]) {
      const rate = Math.round(capacity * fraction);
      const [base, straggler, eager] = await measurePair(rate, round);
      for (const [variant, result] of [['p2c-ewma', straggler!], [hedged ? 'p2c-ewma + hedging' : 'p2c-ewma, stallWindowMs 0', eager!]] as const) {
        const key = `${fraction}|${variant}`;
        const entry = ratios.get(key) ?? { p99: [], served: [], share: [], stalled: [] };
        const stalled = Math.max(base!.servedP99, result.fastServedP99) > stalledAtMs;
        const ratio = result.p99 / base!.p99;
        entry.p99.push(ratio);
        entry.served.push(result.servedP99 / base!.servedP99);
        entry.share.push(result.toStraggler * 100);
        entry.stalled.push(stalled);
        ratios.set(key, entry);
        rows.push({
          round,
          'upstream stalled': stalled ? 'yes' : 'no',
          goals: `${ratio <= 1.2 ? 'p99 met' : 'p99 NOT met'}, ${result.toStraggler < 0.01 ? 'share met' : 'share NOT met'}`,
          regime: `open loop ${fraction * 100}% (${rate}/s)`,
          client: variant,
          'healthy p50 / p99 ms': `${fmt(base!.p50, 1)} / ${fmt(base!.p99, 1)}`,
          'straggler fleet p50 / p99 ms': `${fmt(result.p50, 1)} / ${fmt(result.p99, 1)}`,
          'p99 ratio': fmt(result.p99 / base!.p99, 2),
          'upstream p99 ms (healthy / straggler)': `${fmt(base!.servedP99, 1)} / ${fmt(result.servedP99, 1)}`,
          'fast upstreams p99 ms': fmt(result.fastServedP99, 1),
          'to straggler %': fmt(result.toStraggler * 100, 2),
          'loop lag p99 ms': `${fmt(base!.lagP99, 0)} / ${fmt(result.lagP99, 0)}`,
        });
      }
    }
    // Cold start, with and without stall detection (alternating which goes first).
    const rate = Math.round(capacity * 0.3);
    for (const stallWindowMs of round % 2 === 1 ? [undefined, 0] : [0, undefined]) {
      const fresh = createServiceClient({ registry: await registryOf(ports(slowed)), vip: 'bench', latency: stallWindowMs === undefined ? {} : { stallWindowMs } });
      const first = await openLoop(clientCall(fresh), rate, 2000);
      const latencies = Array.from(first.latenciesUs);
      const trueMs = percentile(latencies.slice(Math.floor(latencies.length / 2)), 50) / 1000;
      const variant = stallWindowMs === undefined ? 'p2c-ewma' : 'p2c-ewma, stallWindowMs 0';
      for (const instance of fresh.stats().instances) {
        const straggling = instance.instanceId === 'i4';
        const truth = straggling ? trueMs + slowMs - fastMs : trueMs;
        const ratio = (instance.ewmaMs ?? Number.NaN) / truth;
        const averageRatio = (instance.averageMs ?? Number.NaN) / truth;
        if (!straggling) {
          coldRatios.set(variant, [...(coldRatios.get(variant) ?? []), ratio]);
          coldRatios.set(`${variant} (average)`, [...(coldRatios.get(`${variant} (average)`) ?? []), averageRatio]);
        }
        cold.push({
          round,
          client: variant,
          instance: instance.instanceId + (straggling ? ' (straggler)' : ''),
          'estimate ms at 2 s (peak)': fmt(instance.ewmaMs ?? Number.NaN, 2),
          'average ms': fmt(instance.averageMs ?? Number.NaN, 2),
          'true ms': fmt(truth, 2),
          ratio: fmt(ratio, 2),
          'average ratio': fmt(averageRatio, 2),
          requests: instance.requests,
        });
      }
      await fresh.close();
    }
  }
  lag.disable();
  for (const child of [...shared, fifth, straggling]) stopChild(child);

  table(
    `6. Tails: 5 upstream processes (${slots} requests at a time, ${fastMs} ms; one ${slowMs} ms in the straggler fleet; the fleets share the other four), capacity ${fmt(capacity, 0)}/s (client, closed loop); each round measures the all-healthy fleet and the straggler fleet (${hedged ? 'with and without hedging' : 'with and without stall detection'}) in alternating ${sliceMs / 1000} s slices, a fresh client for each, ${warmMs / 1000} s warm-up, ${measureMs / 1000} s measured per fleet (load average ${loadavg()[0]!.toFixed(1)})`,
    rows,
  );
  table(
    `6b. Over ${rounds} rounds (goal at 30% and 60%: p99 <= 1.2x healthy, < 1% to the straggler); a round is 'stalled' when an upstream's own p99 (queue and work) passed ${stalledAtMs} ms`,
    [...ratios].flatMap(([key, entry]) =>
      (['all', 'not stalled', 'stalled'] as const).flatMap((which) => {
        const keep = entry.stalled.map((stalled) => which === 'all' || stalled === (which === 'stalled'));
        const pick = (values: number[]): number[] => values.filter((_, i) => keep[i]);
        const p99 = pick(entry.p99);
        const share = pick(entry.share);
        if (p99.length === 0) return [];
        return [
          {
            regime: `open loop ${Number(key.split('|')[0]) * 100}%`,
            client: key.split('|')[1]!,
            rounds: `${which} (${p99.length})`,
            'p99 / healthy p99': range(p99),
            'upstream p99 / healthy': range(pick(entry.served)),
            'to straggler %': range(share),
            'rounds meeting both goals': `${p99.filter((ratio, i) => ratio <= 1.2 && share[i]! < 1).length} of ${p99.length}`,
          },
        ];
      }),
    ),
  );
  table(
    `6c. Cold start: fresh clients at 30% of capacity, estimates after 2 s (goal: within 2x) against the median latency of the client's calls in the second second: the peak estimate the rule uses (it shows the last spike) and the plain average; fast instances: ${[...coldRatios]
      .map(([variant, values]) => `${variant} ${range(values)}, ${values.filter((ratio) => ratio <= 2 && ratio >= 0.5).length} of ${values.length} within 2x`)
      .join('; ')}`,
    cold,
  );
}

// ---------------------------------------------------------------------------------------------------------
// 7. Model: the same regimes on a simulated clock.

/**
 * The tails' regimes in a deterministic model (bench/balancerModel.ts): simulated upstreams (2 slots and a FIFO
 * queue, 5 ms of work with a 10% exponential jitter, one at 50 ms in the straggler fleet), Poisson arrivals at 30%,
 * 60% and 90% of the four fast upstreams' capacity and a closed loop of 32 callers, the real balancer picking on
 * the simulation's clock. The machine's load does not enter: the figures move only with the seed and the code.
 * Each seed runs the all-healthy fleet and the straggler fleet on the same arrivals; the ratio is taken within a
 * seed. "join the shortest queue" is a bound, not a rule: it sees every upstream's queue and never the straggler.
 * The caller-stall rows add stalls of the caller (a garbage collection, a CPU taken away: on average every
 * 200 ms, 5 ms long), which is what stall detection is for.
 */
async function model(): Promise<void> {
  const { simulate } = await import('./balancerModel.js');
  const fastMs = 5;
  const slots = 2;
  const seeds = numericArg('seeds', 5);
  const jitter = 0.1;
  // What the four fast upstreams serve at most: their slots over their mean work (the jitter included).
  const capacity = Math.round((4 * slots * 1000) / (fastMs * (1 + jitter)));
  const healthyFleet = [fastMs, fastMs, fastMs, fastMs, fastMs];
  const stragglerFleet = [fastMs, fastMs, fastMs, fastMs, 10 * fastMs];
  const base = { slots, warmMs: 2000, measureMs: 20_000, jitter } as const;
  /** Join the shortest queue among the fast upstreams (ties broken at random): what no client can know, as a bound. */
  const shortestQueue = (random: () => number, straggler: string | undefined): BalancerModule.BalancerRule => ({
    name: 'join the shortest queue',
    pick: (candidates) => {
      let best = candidates[0];
      let bestLoad = Number.POSITIVE_INFINITY;
      for (const candidate of candidates) {
        const load = candidate.pending + random() * 0.5;
        if (candidate.id !== straggler && load < bestLoad) {
          bestLoad = load;
          best = candidate;
        }
      }
      return best;
    },
  });
  interface Variant {
    readonly name: string;
    readonly options: (random: () => number, straggler: string | undefined) => BalancerModule.BalancerOptions;
    readonly callerStalls?: { everyMs: number; meanMs: number };
  }
  const stalls = { everyMs: 200, meanMs: 5 };
  const variants: Variant[] = [
    { name: 'p2c-ewma', options: () => ({}) },
    { name: 'p2c-ewma, stallWindowMs 0', options: () => ({ latency: { stallWindowMs: 0 } }) },
    { name: 'p2c-ewma, caller stalls', options: () => ({}), callerStalls: stalls },
    { name: 'p2c-ewma, stallWindowMs 0, caller stalls', options: () => ({ latency: { stallWindowMs: 0 } }), callerStalls: stalls },
    { name: 'least-loaded', options: () => ({ rule: 'least-loaded' }) },
    { name: 'round-robin', options: () => ({ rule: 'round-robin' }) },
    { name: 'join the shortest queue (bound)', options: (random, straggler) => ({ rule: shortestQueue(random, straggler) }) },
  ];
  const rows: Record<string, string | number>[] = [];
  const started = performance.now();
  for (const load of [0.3, 0.6, 0.9, 'closed'] as const) {
    const regime = load === 'closed' ? 'closed loop, 32 callers' : `open loop ${load * 100}% (${Math.round(capacity * load)}/s)`;
    for (const variant of variants) {
      if (variant.callerStalls !== undefined && load !== 0.3 && load !== 0.6) continue;
      const ratios: number[] = [];
      const shares: number[] = [];
      const p99s = { healthy: [] as number[], straggler: [] as number[] };
      const throughputs = { healthy: [] as number[], straggler: [] as number[] };
      for (let seed = 1; seed <= seeds; seed++) {
        const run = (workMs: readonly number[]): ReturnType<typeof simulate> =>
          simulate(
            { ...base, workMs, seed, rate: load === 'closed' ? 0 : capacity * load, ...(load === 'closed' ? { callers: 32 } : {}), ...(variant.callerStalls === undefined ? {} : { callerStalls: variant.callerStalls }) },
            (random) => new Balancer<BalancerTarget>(resolveBalancerOptions({ random, ...variant.options(random, workMs === stragglerFleet ? 'u4' : undefined) })),
          );
        const healthy = run(healthyFleet);
        const straggling = run(stragglerFleet);
        ratios.push(straggling.p99 / healthy.p99);
        shares.push(straggling.shares[4]! * 100);
        p99s.healthy.push(healthy.p99);
        p99s.straggler.push(straggling.p99);
        throughputs.healthy.push(healthy.throughput);
        throughputs.straggler.push(straggling.throughput);
      }
      const goal = load === 0.3 || load === 0.6 ? `${ratios.filter((ratio, i) => ratio <= 1.2 && shares[i]! < 1).length} of ${seeds}` : '-';
      rows.push({
        regime,
        client: variant.name,
        'p99 ms healthy / straggler fleet (median)': `${fmt(median(p99s.healthy), 1)} / ${fmt(median(p99s.straggler), 1)}`,
        'p99 / healthy p99': range(ratios),
        'to straggler %': range(shares),
        ...(load === 'closed' ? { 'req/s healthy / straggler fleet': `${fmt(median(throughputs.healthy), 0)} / ${fmt(median(throughputs.straggler), 0)}` } : { 'req/s healthy / straggler fleet': '-' }),
        'seeds meeting both 30%/60% goals': goal,
      });
    }
  }
  table(
    `7. Model: simulated upstreams (${slots} slots and a queue, ${fastMs} ms of work +10% jitter, one at ${10 * fastMs} ms in the straggler fleet), capacity of the four fast ones ${capacity}/s (their slots over their mean work), 2 s warm-up then 20 s measured per fleet on a simulated clock, seeds 1 to ${seeds}; the real balancer picks. Deterministic: no wall-clock time enters (computed in ${fmt((performance.now() - started) / 1000, 1)} s)`,
    rows,
  );

  // Cold start: a fresh client on the straggler fleet at 30%; after 2 s, each fast instance's estimates against
  // the median latency of the calls answered in the second second.
  const cold: Record<string, string | number>[] = [];
  for (let seed = 1; seed <= seeds; seed++) {
    let balancer: BalancerModule.Balancer<BalancerTarget> | undefined;
    const result = simulate({ ...base, workMs: stragglerFleet, seed, rate: capacity * 0.3, warmMs: 1000, measureMs: 1000 }, (random) => {
      balancer = new Balancer<BalancerTarget>(resolveBalancerOptions({ random }));
      return balancer;
    });
    for (const state of balancer!.states) {
      if (state.id === 'u4') continue;
      cold.push({ seed, instance: state.id, 'estimate ms (peak)': fmt(state.ewmaMs, 2), 'average ms': fmt(state.averageLatencyMs, 2), 'true ms (median)': fmt(result.p50, 2), 'peak / true': fmt(state.ewmaMs / result.p50, 2), 'average / true': fmt(state.averageLatencyMs / result.p50, 2) });
    }
  }
  table('7b. Model, cold start: a fresh client on the straggler fleet at 30%, estimates of the fast instances after 2 s against the median latency of the calls of the second second (goal: within 2x)', cold);
}

// ---------------------------------------------------------------------------------------------------------
// Entry point.

const only = process.argv.find((arg) => arg.startsWith('--only='))?.slice('--only='.length);
const serveIndex = process.argv.indexOf('--serve');
if (serveIndex >= 0) {
  await serve(JSON.parse(process.argv[serveIndex + 1]!) as ServeSpec);
} else {
  const sections: Record<string, () => Promise<void>> = { overhead, straggler, kill, rolling, regimes, tails, model };
  for (const [name, run] of Object.entries(sections)) {
    if (only !== undefined && only !== name) continue;
    await run();
  }
}
