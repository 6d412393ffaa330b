// A deterministic model of a client balancing over upstreams of bounded capacity: a seeded simulation on a
// manual clock, with the real balancer picking. Wall-clock benchmarks on a shared machine mix the balancer's
// decisions with the machine's stalls; here the only randomness is the seed, so a change of the rule shows as a
// change of the figures and nothing else does. Used by the `model` section of client-balancing.bench.ts and by
// a unit test (test/unit/balancer-model.test.ts).

import { seeded } from './support.js';

/** What the model needs of an instance state: its id (the balancer's own record, read as it is). */
export interface ModelInstance {
  readonly id: string;
}

/** What the model drives: the balancer's pick and its bookkeeping of a try (`Balancer` satisfies it). */
export interface ModelBalancer<I extends ModelInstance> {
  update(targets: readonly { instanceId: string; zone: string }[], now: number): unknown;
  pick(now: number): I | undefined;
  begin(state: I): void;
  succeed(state: I, rttMs: number, now: number): void;
}

/** The simulated fleet and load. */
export interface ModelOptions {
  /** Work time of each upstream, in ms (one entry per upstream). */
  readonly workMs: readonly number[];
  /** Requests each upstream works on at once; the rest wait in its FIFO queue. */
  readonly slots: number;
  /** Open loop: Poisson arrivals per second (ignored when `callers` is set). */
  readonly rate: number;
  /** Closed loop: this many callers, each sending its next request as soon as its last is answered. */
  readonly callers?: number;
  /** Simulated time before measuring (the client warms up), in ms. */
  readonly warmMs: number;
  /** Simulated time measured, in ms. */
  readonly measureMs: number;
  /** Seed of the arrivals, the work jitter, the caller's stalls and the balancer's random source. */
  readonly seed: number;
  /**
   * Mean of an exponential jitter added to each request's work, as a fraction of the work (a server's timer and
   * scheduling are not exact); 0 for fixed work.
   */
  readonly jitter: number;
  /**
   * Stalls of the caller (a garbage collection, its process waiting for a CPU): they start at Poisson times, on
   * average every `everyMs`, and last an exponentially distributed time of mean `meanMs`. While the caller is
   * stalled, the upstreams go on working, but answers are seen and requests sent only when the stall ends, all at
   * once. None when left out.
   */
  readonly callerStalls?: { readonly everyMs: number; readonly meanMs: number };
}

/** What one simulated run measured. */
export interface ModelResult {
  /** Latency percentiles of the requests due in the measured span, in ms, from when each was due to its answer. */
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  /** Share of the measured requests each upstream got, 0 to 1, in the order of `workMs`. */
  readonly shares: readonly number[];
  /** Requests measured. */
  readonly requests: number;
  /** Requests answered per second of the measured span. */
  readonly throughput: number;
}

/** A min-heap of completion times (with the upstream and request), ordered by time then insertion. */
class Completions {
  readonly #times: number[] = [];
  readonly #order: number[] = [];
  readonly #items: number[] = [];
  #next = 0;
  get size(): number {
    return this.#times.length;
  }
  get firstAt(): number {
    return this.#times[0] ?? Number.POSITIVE_INFINITY;
  }
  push(at: number, item: number): void {
    const times = this.#times;
    let i = times.length;
    times.push(at);
    this.#order.push(this.#next++);
    this.#items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(i, parent)) break;
      this.#swap(i, parent);
      i = parent;
    }
  }
  /** Removes the earliest and returns its item. */
  pop(): number {
    const item = this.#items[0]!;
    const last = this.#times.length - 1;
    this.#swap(0, last);
    this.#times.pop();
    this.#order.pop();
    this.#items.pop();
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < last && this.#less(left, smallest)) smallest = left;
      if (right < last && this.#less(right, smallest)) smallest = right;
      if (smallest === i) break;
      this.#swap(i, smallest);
      i = smallest;
    }
    return item;
  }
  #less(a: number, b: number): boolean {
    const ta = this.#times[a]!;
    const tb = this.#times[b]!;
    return ta < tb || (ta === tb && this.#order[a]! < this.#order[b]!);
  }
  #swap(a: number, b: number): void {
    for (const array of [this.#times, this.#order, this.#items]) {
      const t = array[a]!;
      array[a] = array[b]!;
      array[b] = t;
    }
  }
}

/** Nearest-rank percentile of an ascending array. */
function rank(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((q / 100) * sorted.length) - 1))]!;
}

/** Kinds of event, the low bits of a heap item: the caller sends a request, an upstream ends one, the caller sees its answer. */
const SEND = 0;
const DONE = 1;
const SEEN = 2;

/**
 * Runs the model: requests arrive (Poisson arrivals, or closed-loop callers) for `warmMs + measureMs`, each is
 * picked by the balancer `make` returns (given the seeded random source it must use) and sent, with no network
 * delay, to an upstream that works on `slots` requests at a time for its work time (plus jitter) and queues the
 * rest; each answer goes back to the balancer as a success with its round trip. The clock is the simulation's:
 * the balancer sees the times the events happen at, and no wall-clock time enters.
 */
export function simulate<I extends ModelInstance>(options: ModelOptions, make: (random: () => number) => ModelBalancer<I>): ModelResult {
  const { workMs, slots, rate, warmMs, measureMs, jitter, callers, callerStalls } = options;
  const random = seeded(options.seed);
  // The stalls and the balancer draw from their own streams, so a rule that draws more or less does not shift
  // the arrivals, and the arrivals are the same with and without stalls.
  const stallRandom = seeded(options.seed ^ 0x27d4eb2f);
  const balancer = make(seeded(options.seed ^ 0x5bd1e995));
  const ids = workMs.map((_, i) => `u${i}`);
  const t0 = 1_000_000;
  balancer.update(
    ids.map((instanceId) => ({ instanceId, zone: 'z1' })),
    t0,
  );
  const index = new Map(ids.map((id, i) => [id, i]));
  const exponential = (source: () => number, mean: number): number => -Math.log(1 - source()) * mean;
  // Requests: when each was due and sent, and where it went.
  const dueAt: number[] = [];
  const sentAt: number[] = [];
  const instanceOf: I[] = [];
  const upstreamOf: number[] = [];
  const busy = workMs.map(() => 0);
  const queues: number[][] = workMs.map(() => []);
  const queueHead = workMs.map(() => 0);
  const events = new Completions();
  const measured: number[] = [];
  const served = workMs.map(() => 0);
  const end = t0 + warmMs + measureMs;
  const measureFrom = t0 + warmMs;
  // The current or next stall of the caller, [stallFrom, stallTo).
  let stallFrom = Number.POSITIVE_INFINITY;
  let stallTo = Number.NEGATIVE_INFINITY;
  if (callerStalls !== undefined) {
    stallFrom = t0 + exponential(stallRandom, callerStalls.everyMs);
    stallTo = stallFrom + exponential(stallRandom, callerStalls.meanMs);
  }
  /** When the caller can act on something that happens at `t` (times asked never go back). */
  const callerTime = (t: number): number => {
    if (callerStalls === undefined) return t;
    while (t >= stallTo) {
      stallFrom = stallTo + exponential(stallRandom, callerStalls.everyMs);
      stallTo = stallFrom + exponential(stallRandom, callerStalls.meanMs);
    }
    return t >= stallFrom ? stallTo : t;
  };
  const startWork = (upstream: number, request: number, now: number): void => {
    busy[upstream]!++;
    const work = workMs[upstream]!;
    events.push(now + work + (jitter > 0 ? exponential(random, jitter * work) : 0), request * 3 + DONE);
  };
  const due = (at: number): void => {
    const request = dueAt.length;
    dueAt.push(at);
    sentAt.push(Number.NaN);
    upstreamOf.push(-1);
    events.push(callerTime(at), request * 3 + SEND);
  };
  let nextArrival = Number.POSITIVE_INFINITY;
  if (callers === undefined) nextArrival = t0 + exponential(random, 1000 / rate);
  else for (let i = 0; i < callers; i++) due(t0 + i * 0.01);
  for (;;) {
    if (nextArrival < end && nextArrival <= events.firstAt) {
      const at = nextArrival;
      nextArrival = at + exponential(random, 1000 / rate);
      due(at);
      continue;
    }
    if (events.size === 0) break;
    const now = events.firstAt;
    const item = events.pop();
    const kind = item % 3;
    const request = (item - kind) / 3;
    if (kind === SEND) {
      const instance = balancer.pick(now);
      if (instance === undefined) throw new Error('the balancer picked no instance');
      balancer.begin(instance);
      const upstream = index.get(instance.id)!;
      sentAt[request] = now;
      instanceOf[request] = instance;
      upstreamOf[request] = upstream;
      if (dueAt[request]! >= measureFrom && dueAt[request]! < end) served[upstream]!++;
      if (busy[upstream]! < slots) startWork(upstream, request, now);
      else queues[upstream]!.push(request);
    } else if (kind === DONE) {
      const upstream = upstreamOf[request]!;
      busy[upstream]!--;
      const queue = queues[upstream]!;
      if (queueHead[upstream]! < queue.length) startWork(upstream, queue[queueHead[upstream]!++]!, now);
      events.push(callerTime(now), request * 3 + SEEN);
    } else {
      balancer.succeed(instanceOf[request]!, now - sentAt[request]!, now);
      if (dueAt[request]! >= measureFrom && dueAt[request]! < end) measured.push(now - dueAt[request]!);
      if (callers !== undefined && now < end) due(now);
    }
  }
  const sorted = Float64Array.from(measured).sort();
  const total = served.reduce((sum, n) => sum + n, 0);
  return {
    p50: rank(sorted, 50),
    p99: rank(sorted, 99),
    p999: rank(sorted, 99.9),
    shares: served.map((n) => n / total),
    requests: measured.length,
    throughput: (measured.length / measureMs) * 1000,
  };
}
