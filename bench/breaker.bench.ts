// Hystrix-like commands against the same work done bare, against opossum 9 and against cockatiel 3, all in
// the same run with the variants interleaved round by round. Costs are CPU time of this process
// (process.cpuUsage) per call, not wall time: the 2-core machine is shared, and CPU time does not count the
// moments another process holds the cores. Every figure is a median over rounds; ratios are taken within a
// round, then the median. opossum with its defaults sorts its whole window on a 1 s timer, which would bill
// the other variants for its work, so it is measured in a phase of its own against the bare function.
//  1. Added cost per call: an async function that resolves at once, run bare and through each library.
//  2. Throughput when the function fails 20% of the time (never enough to trip a breaker), as a ratio to
//     the bare function.
//  3. Time from failure onset to OPEN: a dependency under steady load turns to 100% failures; how long and
//     how many calls until each breaker opens (real time, window scaled to 1 s so the run stays short), and
//     the same on a manual clock at Hystrix's defaults (10 s window, 100 calls/s).
// Run: npx tsx bench/breaker.bench.ts
import { EventEmitter } from 'node:events';
import CircuitBreaker from 'opossum';
import { CircuitState, SamplingBreaker, TimeoutStrategy, bulkhead, circuitBreaker, handleAll, timeout, wrap } from 'cockatiel';
import { CommandRegistry } from '../src/breaker/index.js';
import { ManualClock } from '../src/testing/index.js';
import { fmt, median, table } from './support.js';

const ROUNDS = 15;
const CALLS = 20_000;

type Call = (i: number) => Promise<unknown>;

interface Variant {
  readonly name: string;
  readonly call: Call;
  /** Calls per round (opossum with its default percentiles is too slow for the full count). */
  readonly calls?: number;
}

function cpuNs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) * 1000;
}

/** Runs `calls` sequential awaited calls; returns CPU ns per call. Errors are expected and swallowed. */
async function batch(call: Call, calls: number): Promise<number> {
  const started = cpuNs();
  for (let i = 0; i < calls; i++) {
    try {
      await call(i);
    } catch {
      // a failing call is part of the measurement
    }
  }
  return (cpuNs() - started) / calls;
}

/** Interleaves the variants round by round; returns each one's CPU ns/call per round. */
async function measure(variants: readonly Variant[], warmup: number): Promise<Map<string, number[]>> {
  for (const v of variants) await batch(v.call, Math.min(warmup, v.calls ?? warmup));
  const results = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order each round so no variant always runs right after the same neighbour.
    for (let k = 0; k < variants.length; k++) {
      const v = variants[(k + round) % variants.length]!;
      results.get(v.name)!.push(await batch(v.call, v.calls ?? CALLS));
    }
  }
  return results;
}

/** Median over rounds of (baseline ns / variant ns), paired within each round. */
function pairedRatio(base: readonly number[], other: readonly number[]): number {
  return median(base.map((b, i) => b / other[i]!));
}

function opossumTuned<T>(fn: (i: number) => Promise<T>, controller: EventEmitter): CircuitBreaker<[number], T> {
  // The closest opossum comes to Hystrix's settings, without its worst costs.
  return new CircuitBreaker(fn, {
    timeout: 1000,
    resetTimeout: 5000,
    errorThresholdPercentage: 50,
    volumeThreshold: 20,
    rollingCountTimeout: 10_000,
    rollingCountBuckets: 10,
    rollingPercentilesEnabled: false,
    enableSnapshots: false,
    rotateBucketController: controller,
    capacity: 10,
  });
}

function cockatielPolicy() {
  return wrap(
    bulkhead(10),
    circuitBreaker(handleAll, { halfOpenAfter: 5000, breaker: new SamplingBreaker({ threshold: 0.5, duration: 10_000, minimumRps: 2 }) }),
    timeout(1000, TimeoutStrategy.Aggressive),
  );
}

// ---------------------------------------------------------------------------------------------------------
// 1. Added cost per call
// ---------------------------------------------------------------------------------------------------------
function samplingBreaker() {
  return circuitBreaker(handleAll, { halfOpenAfter: 5000, breaker: new SamplingBreaker({ threshold: 0.5, duration: 10_000, minimumRps: 2 }) });
}

/** opossum with its defaults, alone against the bare function (its 1 s snapshot sort would bill the others). */
async function opossumDefaultsPhase(bareName: string, fn: (i: number) => Promise<number>, calls: number) {
  const breaker = new CircuitBreaker(fn);
  const name = 'opossum 9 defaults (own phase)';
  const results = await measure(
    [
      { name: bareName, call: fn, calls },
      { name, call: (i) => breaker.fire(i), calls },
    ],
    calls,
  );
  const closed = breaker.closed;
  breaker.shutdown();
  return { base: results.get(bareName)!, ns: results.get(name)!, name, closed };
}

async function addedCost(): Promise<void> {
  const ok = async (i: number): Promise<number> => i;
  const registry = new CommandRegistry();
  const command = registry.command('ok', ok);
  const untimed = registry.command('ok-untimed', ok, { timeoutMs: 0 });
  const executor = registry.executor('ok-exec');
  const opossum = opossumTuned(ok, new EventEmitter());
  const cockatiel = cockatielPolicy();
  const cockatielBreaker = samplingBreaker();
  const variants: Variant[] = [
    { name: 'bare async function', call: ok },
    { name: 'karyon command (Hystrix defaults)', call: (i) => command(i) },
    { name: 'karyon command, timeout off', call: (i) => untimed(i) },
    { name: 'karyon executor.run()', call: (i) => executor.run(() => ok(i)) },
    { name: 'karyon executor.execute() (makes an AbortSignal)', call: (i) => executor.execute(() => ok(i)), calls: CALLS / 10 },
    { name: 'opossum 9 percentiles off, shared rotation', call: (i) => opossum.fire(i) },
    { name: 'cockatiel 3 breaker', call: (i) => cockatielBreaker.execute(() => ok(i)) },
    { name: 'cockatiel 3 bulkhead+breaker+timeout', call: (i) => cockatiel.execute(() => ok(i)), calls: CALLS / 10 },
  ];
  const results = await measure(variants, 20_000);
  const bare = median(results.get('bare async function')!);
  const rows = variants.map((v) => {
    const ns = median(results.get(v.name)!);
    return { variant: v.name, 'CPU ns/call': fmt(ns, 0), 'added ns/call': v.call === ok ? '-' : fmt(ns - bare, 0) };
  });
  const defaults = await opossumDefaultsPhase('bare async function', ok, CALLS / 4);
  rows.push({
    variant: defaults.name,
    'CPU ns/call': fmt(median(defaults.ns), 0),
    'added ns/call': fmt(median(defaults.ns) - median(defaults.base), 0),
  });
  table(`1. Added cost per call (async function resolving at once; ${ROUNDS} rounds of sequential calls, median)`, rows);
  opossum.shutdown();
  await registry.close();
}

// ---------------------------------------------------------------------------------------------------------
// 2. Throughput with 20% failures
// ---------------------------------------------------------------------------------------------------------
async function failingThroughput(): Promise<void> {
  let n = 0;
  const flaky = async (i: number): Promise<number> => {
    if (++n % 5 === 0) throw new Error('flaky dependency');
    return i;
  };
  const registry = new CommandRegistry();
  const command = registry.command('flaky', flaky);
  const executor = registry.executor('flaky-run');
  const opossum = opossumTuned(flaky, new EventEmitter());
  const cockatiel = cockatielPolicy();
  // The floor for any wrapper that hands out its own promise and times the call: one promise, one then,
  // two clock reads, no bookkeeping at all.
  const floor = (i: number): Promise<number> => {
    const started = Date.now();
    return new Promise((resolve, reject) => {
      flaky(i).then(
        (value) => resolve(value + (Date.now() - started) * 0),
        (error: unknown) => reject(error instanceof Error && Date.now() >= started ? error : new Error(String(error))),
      );
    });
  };
  const variants: Variant[] = [
    { name: 'bare (20% failing)', call: flaky },
    { name: 'floor: a promise, a then, two clock reads', call: floor },
    { name: 'karyon command (Hystrix defaults)', call: (i) => command(i) },
    { name: 'karyon executor.run()', call: (i) => executor.run(() => flaky(i)) },
    { name: 'opossum 9 percentiles off, shared rotation', call: (i) => opossum.fire(i) },
    { name: 'cockatiel 3 bulkhead+breaker+timeout', call: (i) => cockatiel.execute(() => flaky(i)), calls: CALLS / 10 },
  ];
  const results = await measure(variants, 10_000);
  const bare = results.get('bare (20% failing)')!;
  const rows = variants.map((v) => {
    const ns = results.get(v.name)!;
    return { variant: v.name, 'calls per CPU-second': fmt(1e9 / median(ns), 0), 'ratio to bare': fmt(pairedRatio(bare, ns), 3) };
  });
  const defaults = await opossumDefaultsPhase('bare (20% failing)', flaky, 1000);
  rows.push({
    variant: defaults.name,
    'calls per CPU-second': fmt(1e9 / median(defaults.ns), 0),
    'ratio to bare': fmt(pairedRatio(defaults.base, defaults.ns), 3),
  });
  table(`2. Throughput, function failing 20% of the time (${ROUNDS} rounds; ratio = bare CPU time / variant CPU time, paired per round, median)`, rows);
  if (command.state !== 'CLOSED' || executor.state !== 'CLOSED' || !opossum.closed || !defaults.closed) {
    console.log('note: a breaker opened during the run; the figures above are not comparable');
  }
  opossum.shutdown();
  await registry.close();
}

// ---------------------------------------------------------------------------------------------------------
// 3. Time from failure onset to OPEN
// ---------------------------------------------------------------------------------------------------------
interface Breaker {
  readonly name: string;
  call(fn: () => Promise<unknown>): Promise<unknown>;
  isOpen(): boolean;
  close(): void;
}

const sleepMs = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Steady load (a call about every ms) on a healthy dependency, then 100% failures until the breaker opens. */
async function onsetToOpen(breaker: Breaker): Promise<{ ms: number; calls: number }> {
  let failing = false;
  const dependency = () => (failing ? Promise.reject(new Error('down')) : Promise.resolve('ok'));
  const healthyUntil = performance.now() + 1500;
  while (performance.now() < healthyUntil) {
    await breaker.call(dependency).catch(() => undefined);
    await sleepMs(1);
  }
  failing = true;
  const onset = performance.now();
  let calls = 0;
  while (!breaker.isOpen()) {
    calls++;
    await breaker.call(dependency).catch(() => undefined);
    if (performance.now() - onset > 10_000) break;
    await sleepMs(1);
  }
  const ms = performance.now() - onset;
  breaker.close();
  return { ms, calls };
}

function breakers(): Breaker[] {
  const registry = new CommandRegistry({ defaults: { rollingWindowMs: 1000, rollingBuckets: 10 } });
  const executor = registry.executor('onset');
  const controller = new EventEmitter();
  const rotation = setInterval(() => controller.emit('rotate'), 100);
  const opossum = new CircuitBreaker((fn: () => Promise<unknown>) => fn(), {
    timeout: 1000,
    errorThresholdPercentage: 50,
    volumeThreshold: 20,
    rollingCountTimeout: 1000,
    rollingCountBuckets: 10,
    rollingPercentilesEnabled: false,
    enableSnapshots: false,
    rotateBucketController: controller,
  });
  const cockatiel = circuitBreaker(handleAll, { halfOpenAfter: 5000, breaker: new SamplingBreaker({ threshold: 0.5, duration: 1000, minimumRps: 20 }) });
  return [
    {
      name: 'karyon command (>= 50% of >= 20, checked on every request)',
      call: (fn) => executor.execute(fn),
      isOpen: () => executor.state === 'OPEN',
      close: () => void registry.close(),
    },
    {
      name: 'opossum 9 (> 50% of fires incl. rejects, volume 20)',
      call: (fn) => opossum.fire(fn),
      isOpen: () => opossum.opened,
      close: () => {
        clearInterval(rotation);
        opossum.shutdown();
      },
    },
    {
      name: 'cockatiel 3 SamplingBreaker (50%, 1 s, minimumRps 20)',
      call: (fn) => cockatiel.execute(() => fn()),
      isOpen: () => cockatiel.state === CircuitState.Open,
      close: () => undefined,
    },
  ];
}

/** The same on a manual clock at Hystrix's defaults: 100 calls/s for 20 s, then failures. */
async function onsetToOpenAtHystrixDefaults(): Promise<{ ms: number; calls: number }> {
  const clock = new ManualClock(0);
  const registry = new CommandRegistry({ clock });
  let failing = false;
  const cmd = registry.command('model', () => (failing ? Promise.reject(new Error('down')) : Promise.resolve('ok')));
  for (let t = 0; t < 20_000; t += 10) {
    await cmd().catch(() => undefined);
    clock.advance(10);
  }
  failing = true;
  const onset = clock.now();
  let calls = 0;
  while (cmd.state !== 'OPEN') {
    calls++;
    await cmd().catch(() => undefined);
    clock.advance(10);
  }
  await registry.close();
  return { ms: clock.now() - onset - 10, calls };
}

async function timeToOpen(): Promise<void> {
  const rows: Record<string, string>[] = [];
  for (const breaker of breakers()) {
    const runs: { ms: number; calls: number }[] = [];
    for (let i = 0; i < 3; i++) {
      const [fresh] = breakers().filter((b) => b.name === breaker.name);
      runs.push(await onsetToOpen(fresh!));
    }
    breaker.close();
    rows.push({
      breaker: breaker.name,
      'ms to OPEN (median of 3)': fmt(median(runs.map((r) => r.ms)), 0),
      'calls after onset': fmt(median(runs.map((r) => r.calls)), 0),
    });
  }
  table('3a. Failure onset to OPEN, real time: ~1 call/ms, 1 s window in 10 buckets, 1.5 s healthy first', rows);
  const model = await onsetToOpenAtHystrixDefaults();
  table('3b. Failure onset to OPEN on a manual clock at Hystrix defaults (10 s window, 100 calls/s for 20 s first)', [
    { breaker: 'karyon command', 'ms to OPEN': fmt(model.ms, 0), 'calls after onset': String(model.calls) },
  ]);
  console.log(
    'Hystrix itself checks its health counts on a 500 ms snapshot (metrics.healthSnapshot.intervalInMilliseconds), so it opens up to 500 ms after the same point.',
  );
}

await addedCost();
await failingThroughput();
await timeToOpen();
