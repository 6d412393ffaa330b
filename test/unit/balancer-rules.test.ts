import { describe, expect, it } from 'vitest';
import { Balancer, resolveBalancerOptions } from '../../src/balancer/Balancer.js';
import { LatencyHistogram } from '../../src/balancer/LatencyHistogram.js';
import { createRule } from 'karyon-ts/extend';
import type { BalancerOptions, BalancerRule, BalancerTarget } from 'karyon-ts';
import type { InstanceState } from '../../src/balancer/InstanceState.js';
import { isKaryonError, balancerRuleNames } from 'karyon-ts';
// The seeded PRNG (mulberry32) the deterministic model uses, so distributions are the same on every run.
import { seeded } from '../../bench/support.js';

const T0 = 1_000_000;

function makeBalancer(ids: string[], options: BalancerOptions = {}, zone = 'z1'): Balancer<BalancerTarget> {
  const balancer = new Balancer<BalancerTarget>(resolveBalancerOptions({ random: seeded(42), outlierDetection: false, ...options }));
  balancer.update(
    ids.map((instanceId) => ({ instanceId, zone })),
    T0,
  );
  return balancer;
}

function state(balancer: Balancer<BalancerTarget>, id: string): InstanceState<BalancerTarget> {
  const found = balancer.get(id);
  if (found === undefined) throw new Error(`no state ${id}`);
  return found;
}

/** Feeds one finished request of `rttMs` to an instance at `now`. */
function sample(balancer: Balancer<BalancerTarget>, id: string, rttMs: number, now: number): void {
  const s = state(balancer, id);
  balancer.begin(s);
  balancer.succeed(s, rttMs, now);
}

function countPicks(balancer: Balancer<BalancerTarget>, picks: number, now: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < picks; i++) {
    const picked = balancer.pick(now);
    if (picked === undefined) throw new Error('no pick');
    counts.set(picked.id, (counts.get(picked.id) ?? 0) + 1);
  }
  return counts;
}

/** Sends `count` requests at once (each picked, then begun) and counts them by instance. */
function burst(balancer: Balancer<BalancerTarget>, now: number, count: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const picked = balancer.pick(now);
    if (picked === undefined) throw new Error('no pick');
    balancer.begin(picked);
    counts.set(picked.id, (counts.get(picked.id) ?? 0) + 1);
  }
  return counts;
}

describe('balancer rules', () => {
  it('round-robin takes every candidate in turn', () => {
    const balancer = makeBalancer(['a', 'b', 'c'], { rule: 'round-robin' });
    const order = Array.from({ length: 9 }, () => balancer.pick(T0)!.id);
    expect(order).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('random spreads picks evenly', () => {
    const balancer = makeBalancer(['a', 'b', 'c'], { rule: 'random' });
    const counts = countPicks(balancer, 30_000, T0);
    for (const id of ['a', 'b', 'c']) {
      expect(counts.get(id)).toBeGreaterThan(9_000);
      expect(counts.get(id)).toBeLessThan(11_000);
    }
  });

  it('p2c-ewma never picks an instance that is both slower and no less loaded', () => {
    const balancer = makeBalancer(['f1', 'f2', 'f3', 'f4', 'slow'], { rule: 'p2c-ewma' });
    const now = T0 + 1_000_000;
    for (const id of ['f1', 'f2', 'f3', 'f4']) sample(balancer, id, 10, now);
    sample(balancer, 'slow', 100, now);
    const counts = countPicks(balancer, 10_000, now);
    expect(counts.get('slow') ?? 0).toBe(0);
  });

  it('p2c-ewma weighs latency by the queue (requests in flight + 1): a fast instance with a queue loses to an idle slower one', () => {
    const balancer = makeBalancer(['fast', 'medium'], { rule: 'p2c-ewma' });
    const now = T0 + 1_000_000;
    sample(balancer, 'fast', 10, now);
    sample(balancer, 'medium', 25, now);
    const fast = state(balancer, 'fast');
    // 10 x (1 + 1) = 20 < 25: the fast one, one request in flight, still wins.
    balancer.begin(fast);
    expect(balancer.pick(now)!.id).toBe('fast');
    // 10 x (2 + 1) = 30 > 25: two in flight is a queue to wait in; the square root of it (17) would not have been.
    balancer.begin(fast);
    expect(balancer.pick(now)!.id).toBe('medium');
  });

  it('p2c-ewma: however deep the fast queues, an idle straggler (4x the median) gets one probe at a time', () => {
    const balancer = makeBalancer(['fast', 'slow'], { rule: 'p2c-ewma' });
    const now = T0 + 1_000_000;
    sample(balancer, 'fast', 10, now);
    sample(balancer, 'slow', 100, now);
    const fast = state(balancer, 'fast');
    // 32 callers on a few instances: 30 in flight, 10 x 31 = 310 against the straggler's 100: its one probe.
    for (let i = 0; i < 30; i++) balancer.begin(fast);
    const probe = balancer.pick(now)!;
    expect(probe.id).toBe('slow');
    balancer.begin(probe);
    // With the probe in flight, every other request stays with the fast instance, even at 100 in flight.
    for (let i = 0; i < 70; i++) balancer.begin(fast);
    expect(countPicks(balancer, 1000, now).get('slow') ?? 0).toBe(0);
  });

  it('p2c-ewma sends an idle straggler one probe, not a burst: its estimate stands while the probe is in flight', () => {
    const balancer = makeBalancer(['fast', 'slow'], { rule: 'p2c-ewma' });
    let now = T0 + 1_000_000;
    sample(balancer, 'slow', 100, now);
    sample(balancer, 'fast', 10, now);
    const slow = state(balancer, 'slow');
    // The straggler idle for 20 s: its estimate decayed (5 s time constant while idle) to 100 x e^-4 = 1.8 ms.
    now += 20_000;
    sample(balancer, 'fast', 10, now);
    expect(slow.latencyMs(now)).toBeCloseTo(100 * Math.exp(-4), 6);
    expect(balancer.pick(now)!.id).toBe('slow');
    balancer.begin(slow);
    // With the probe in flight, the estimate is the stored 100 ms again: no second request until it answers.
    expect(slow.latencyMs(now)).toBe(100);
    expect(countPicks(balancer, 100, now + 1).get('slow') ?? 0).toBe(0);
    balancer.succeed(slow, 100, now + 100);
    expect(slow.latencyMs(now + 100)).toBe(100);
  });

  it('an idle estimate decays with latency.idleDecayMs (5 x decayMs unless set), samples with decayMs', () => {
    for (const [options, idleMs] of [[{}, 5000], [{ decayMs: 400 }, 2000], [{ idleDecayMs: 800 }, 800]] as const) {
      const balancer = makeBalancer(['a'], { rule: 'p2c-ewma', latency: options });
      const a = state(balancer, 'a');
      sample(balancer, 'a', 50, T0 + 1);
      expect(a.latencyMs(T0 + 1 + idleMs)).toBeCloseTo(50 / Math.E, 6);
    }
    expect(() => resolveBalancerOptions({ latency: { idleDecayMs: 0 } })).toThrow(/latency\.idleDecayMs/);
  });

  it('peak EWMA forgets a spike four times as fast once answers are under half of it', () => {
    const balancer = makeBalancer(['a', 'b'], { rule: 'p2c-ewma' });
    let now = T0 + 1_000_000;
    for (const id of ['a', 'b']) for (let t = 2000; t >= 0; t--) sample(balancer, id, 5, now - t);
    // A 60 ms stall on 'a', then 5 ms answers every 10 ms: 250 ms later the estimate is back under 2x.
    sample(balancer, 'a', 60, now);
    for (let t = 10; t <= 250; t += 10) sample(balancer, 'a', 5, now + t);
    now += 250;
    const a = state(balancer, 'a');
    expect(a.latencyMs(now)).toBeLessThan(5 + 55 * Math.exp(-1) + 0.5);
    expect(a.latencyMs(now)).toBeGreaterThan(10);
    // Answers within 2x of the estimate pull it down at the normal pace (1 s).
    const b = state(balancer, 'b');
    sample(balancer, 'b', 9, now);
    sample(balancer, 'b', 6, now + 100);
    expect(b.latencyMs(now + 100)).toBeCloseTo(9 * Math.exp(-0.1) + 6 * (1 - Math.exp(-0.1)), 6);
  });

  it("spikes from several instances at once are the caller's stall: the idle straggler gets no more of the burst than one probe", () => {
    const burstToStraggler = (stallWindowMs: number | undefined): { slow: number; fastMs: number[] } => {
      const balancer = makeBalancer(['a', 'b', 'c', 'slow'], { rule: 'p2c-ewma', latency: stallWindowMs === undefined ? {} : { stallWindowMs } });
      let now = T0 + 1_000_000;
      for (let t = 2000; t >= 0; t--) for (const id of ['a', 'b', 'c']) sample(balancer, id, 5, now - t);
      sample(balancer, 'slow', 50, now - 100);
      const fast = ['a', 'b', 'c'].map((id) => state(balancer, id));
      // Two tries in flight on each fast instance when the caller's event loop stalls for 60 ms: every answer
      // is processed late, all at once.
      for (const s of fast) for (let i = 0; i < 2; i++) balancer.begin(s);
      now += 65;
      for (const s of fast) for (let i = 0; i < 2; i++) balancer.succeed(s, 63 - i, now);
      const fastMs = fast.map((s) => s.latencyMs(now));
      // The requests that queued during the stall go out at once.
      return { slow: burst(balancer, now + 1, 60).get('slow') ?? 0, fastMs };
    };
    const detected = burstToStraggler(undefined);
    // Averaged in, and raised only by what the stall does not explain: a few ms more, far from the 60 ms peak.
    for (const ms of detected.fastMs) expect(ms).toBeLessThan(12);
    // 60 requests on three fast instances is a queue of 20 each (10 ms x 21 against the straggler's 50 ms): the
    // straggler is due its probe, and its average, 4x and more the fleet's, keeps it to that one.
    expect(detected.slow).toBe(1);
    // Without stall detection every fast peak jumps to 60 ms, and the straggler's 50 ms looks cheapest from the
    // first pick; the straggler rule still keeps it to one probe (see the straggler test below).
    const raw = burstToStraggler(0);
    for (const ms of raw.fastMs) expect(ms).toBeGreaterThan(60);
    expect(raw.slow).toBe(1);
  });

  it("after the caller's stall, an idle slower instance (not a straggler) gets a share of the burst by its speed, not half of it", () => {
    const burstToSlower = (stallWindowMs: number | undefined): number => {
      const balancer = makeBalancer(['a', 'b', 'c', 'mid'], { rule: 'p2c-ewma', latency: stallWindowMs === undefined ? {} : { stallWindowMs } });
      let now = T0 + 1_000_000;
      // Three instances answering in 5 ms and one in 15 ms (3x: under the straggler rule's 4x, so it competes on cost).
      for (let t = 2000; t >= 0; t -= 10) {
        for (const id of ['a', 'b', 'c']) sample(balancer, id, 5, now - t);
        sample(balancer, 'mid', 15, now - t);
      }
      const fast = ['a', 'b', 'c'].map((id) => state(balancer, id));
      // The caller stalls 60 ms with two tries in flight on each fast instance; then 60 queued requests go out.
      for (const s of fast) for (let i = 0; i < 2; i++) balancer.begin(s);
      now += 65;
      for (const s of fast) for (let i = 0; i < 2; i++) balancer.succeed(s, 63 - i, now);
      return burst(balancer, now + 1, 60).get('mid') ?? 0;
    };
    // With stall detection the fast estimates stay near 5 ms, and the 3x slower instance gets about a sixth.
    expect(burstToSlower(undefined)).toBeLessThanOrEqual(12);
    // Without it, every fast estimate is 63 ms and the idle slower instance looks cheapest: it gets almost half.
    expect(burstToSlower(0)).toBeGreaterThanOrEqual(24);
  });

  it('p2c-ewma gives stragglers (average 4x the median and more) only probes, one at a time, one a second each', () => {
    const balancer = makeBalancer(['a', 'b', 'c', 's1', 's2'], { rule: 'p2c-ewma' });
    let now = T0 + 1_000_000;
    for (let t = 2000; t >= 0; t--) for (const id of ['a', 'b', 'c']) sample(balancer, id, 5, now - t);
    sample(balancer, 's1', 50, now - 100);
    sample(balancer, 's2', 50, now - 100);
    // Each fast instance spikes to 80 ms on its own (its process stopped for a moment; not the caller's stall):
    // every fast peak is now above the stragglers' 50 ms, so the peaks alone would send them about 40% of picks.
    for (const id of ['a', 'b', 'c']) {
      now += 20;
      sample(balancer, id, 80, now);
    }
    for (const id of ['a', 'b', 'c']) expect(state(balancer, id).latencyMs(now)).toBeGreaterThan(50);
    const picks = (at: number): Map<string, number> => {
      const counts = new Map<string, number>();
      for (let i = 0; i < 1000; i++) {
        const picked = balancer.pick(at)!;
        counts.set(picked.id, (counts.get(picked.id) ?? 0) + 1);
      }
      return counts;
    };
    const first = picks(now + 1);
    // One probe each within the second, though each was drawn with the other straggler or a costlier fast one.
    expect(first.get('s1') ?? 0).toBeLessThanOrEqual(1);
    expect(first.get('s2') ?? 0).toBeLessThanOrEqual(1);
    const s1 = state(balancer, 's1');
    balancer.begin(s1);
    // A second later, s2 may be probed again; s1 not while its probe is in flight.
    const second = picks(now + 1001);
    expect(second.get('s1') ?? 0).toBe(0);
    expect(second.get('s2') ?? 0).toBeLessThanOrEqual(1);
    // s1's probe answers fast: its average drops under 4x the median at once, and it competes again on cost.
    balancer.succeed(s1, 5, now + 1500);
    expect(s1.averageLatencyMs).toBeLessThan(4 * 5.5);
    for (let t = 10; t <= 1000; t += 10) for (const id of ['a', 'b', 'c', 's1']) sample(balancer, id, 5, now + 1500 + t);
    expect(picks(now + 2600).get('s1') ?? 0).toBeGreaterThan(100);
  });

  it('a straggler is probed at most once in 200 picks, and at least once in 10 s, so its share stays small at any rate', () => {
    const balancer = makeBalancer(['a', 'b', 'c', 'slow'], { rule: 'p2c-ewma' });
    let now = T0 + 1_000_000;
    for (let t = 2000; t >= 0; t--) for (const id of ['a', 'b', 'c']) sample(balancer, id, 5, now - t);
    sample(balancer, 'slow', 50, now - 100);
    for (const id of ['a', 'b', 'c']) {
      now += 20;
      sample(balancer, id, 80, now); // every fast peak spiked past the straggler's 50 ms
    }
    const slowPicks = (at: number, count: number): number => {
      let slow = 0;
      for (let i = 0; i < count; i++) if (balancer.pick(at)!.id === 'slow') slow++;
      return slow;
    };
    expect(slowPicks(now + 1, 100)).toBe(1);
    // 1.5 s later but 99 picks since (a rate of 66/s): not yet; past 200 picks, one.
    expect(slowPicks(now + 1501, 99)).toBe(0);
    expect(slowPicks(now + 1501, 150)).toBe(1);
    // A rate of a few a second: after 10 s, one probe however few picks came.
    expect(slowPicks(now + 5000, 5)).toBe(0);
    expect(slowPicks(now + 11_600, 5)).toBe(1);
  });

  it("in a stall, an instance slow by itself still shows: only the caller's delay is taken off its answer", () => {
    const balancer = makeBalancer(['a', 'slow'], { rule: 'p2c-ewma' });
    const now = T0 + 1_000_000;
    for (let t = 2000; t >= 0; t--) sample(balancer, 'a', 5, now - t);
    // The straggler's estimate decayed to about 7 ms while idle; its probe answers in 50 ms just as a stall of
    // the caller makes a fast instance answer in 20 ms (15 ms late).
    sample(balancer, 'slow', 50, now - 10_000);
    const slow = state(balancer, 'slow');
    const a = state(balancer, 'a');
    expect(slow.latencyMs(now)).toBeCloseTo(50 * Math.exp(-2), 6);
    balancer.begin(a);
    balancer.begin(slow);
    balancer.succeed(a, 20, now + 20);
    balancer.succeed(slow, 50, now + 20);
    // The straggler keeps what the 15 ms delay does not explain; the fast instance is barely moved.
    expect(slow.latencyMs(now + 20)).toBeGreaterThan(30);
    expect(a.latencyMs(now + 20)).toBeLessThan(6);
  });

  it('a spike from one instance alone raises its peak at once, and stays when no other instance spikes within 10 ms', () => {
    const balancer = makeBalancer(['a', 'b'], { rule: 'p2c-ewma' });
    const now = T0 + 1_000_000;
    for (let t = 2000; t >= 0; t--) for (const id of ['a', 'b']) sample(balancer, id, 5, now - t);
    const [a, b] = [state(balancer, 'a'), state(balancer, 'b')];
    balancer.begin(b);
    balancer.begin(a);
    balancer.succeed(a, 50, now + 50);
    expect(a.latencyMs(now + 50)).toBe(50);
    // A spike of another instance after the window is not the same stall: a's peak stands.
    balancer.succeed(b, 40, now + 61);
    expect(a.latencyMs(now + 61)).toBeCloseTo(50 * Math.exp(-11 / 5000), 6);
    expect(b.latencyMs(now + 61)).toBe(40);
    // latency.stallWindowMs: 0 turns stall detection off.
    const eager = makeBalancer(['a', 'b'], { rule: 'p2c-ewma', latency: { stallWindowMs: 0 } });
    for (let t = 2000; t >= 0; t--) for (const id of ['a', 'b']) sample(eager, id, 5, now - t);
    for (const id of ['a', 'b']) eager.begin(state(eager, id));
    for (const id of ['a', 'b']) eager.succeed(state(eager, id), 50, now + 50);
    for (const id of ['a', 'b']) expect(state(eager, id).latencyMs(now + 50)).toBe(50);
  });

  it('among equally fast instances the less loaded wins', () => {
    const balancer = makeBalancer(['a', 'b'], { rule: 'p2c-ewma' });
    const now = T0 + 1_000_000;
    sample(balancer, 'a', 10, now);
    sample(balancer, 'b', 10, now);
    balancer.begin(state(balancer, 'a'));
    expect(balancer.pick(now)!.id).toBe('b');
  });

  it('cold start: slow first answers are forgotten within 2 s, at a high or a low rate', () => {
    for (const intervalMs of [1, 100]) {
      const balancer = makeBalancer(['a'], { rule: 'p2c-ewma' });
      let now = T0 + 1_000_000;
      sample(balancer, 'a', 44, now); // the first answer, slowed by connection set-up and cold code
      sample(balancer, 'a', 20, now + 1);
      for (let t = intervalMs; t <= 2000; t += intervalMs) sample(balancer, 'a', 2.5, now + t);
      now += 2000;
      expect(state(balancer, 'a').latencyMs(now)).toBeLessThan(5);
    }
  });

  it('peak EWMA assumes 30 ms until the first sample, jumps to a slower sample at once, and decays while idle', () => {
    const balancer = makeBalancer(['a'], { rule: 'p2c-ewma' });
    const a = state(balancer, 'a');
    expect(a.latencyMs(T0)).toBe(30);
    // The first answer replaces the prior at once, even right after the instance appeared.
    const fresh = makeBalancer(['b'], { rule: 'p2c-ewma' });
    sample(fresh, 'b', 10, T0 + 1);
    expect(state(fresh, 'b').latencyMs(T0 + 1)).toBe(10);
    const now = T0 + 1_000_000;
    // An instance with a history (a young one forgets its first samples faster, as the cold-start test shows).
    for (let t = 2000; t > 0; t--) sample(balancer, 'a', 5, now - t);
    sample(balancer, 'a', 5, now);
    expect(a.latencyMs(now)).toBeCloseTo(5, 3);
    sample(balancer, 'a', 80, now + 1);
    expect(a.latencyMs(now + 1)).toBe(80);
    // A faster answer 1 ms later barely moves it (the weight is by time, not by count)...
    sample(balancer, 'a', 5, now + 2);
    expect(a.latencyMs(now + 2)).toBeGreaterThan(79);
    // ...and 5 s of silence (idleDecayMs, 5 x decayMs) divide it by e, so an idle instance gets tried again.
    expect(a.latencyMs(now + 2 + 5000)).toBeCloseTo(a.latencyMs(now + 2) / Math.E, 3);
  });

  it('the plain average (for weighted rules) starts from the first sample, not from the prior', () => {
    const balancer = makeBalancer(['a'], { rule: 'weighted-response-time' });
    const a = state(balancer, 'a');
    expect(a.averageLatencyMs).toBe(30);
    sample(balancer, 'a', 4, T0 + 1);
    expect(a.averageLatencyMs).toBe(4);
    sample(balancer, 'a', 104, T0 + 1001); // 1 s later: weight 1 - 1/e on the new sample
    expect(a.averageLatencyMs).toBeCloseTo(4 + 100 * (1 - 1 / Math.E), 6);
  });

  it('p2c-ewma tries a slow instance again once its estimate has decayed', () => {
    const balancer = makeBalancer(['fast', 'slow'], { rule: 'p2c-ewma' });
    let now = T0 + 1_000_000;
    sample(balancer, 'slow', 100, now);
    sample(balancer, 'fast', 10, now);
    expect(countPicks(balancer, 100, now).get('slow') ?? 0).toBe(0);
    // The fast one keeps answering in 10 ms; the slow one is left alone for 30 s: 100 ms x e^-3 = 5 ms.
    for (let i = 0; i < 300; i++) {
      now += 100;
      sample(balancer, 'fast', 10, now);
    }
    expect(state(balancer, 'slow').latencyMs(now)).toBeLessThan(10);
    expect(countPicks(balancer, 100, now).get('slow') ?? 0).toBeGreaterThan(0);
  });

  it('least-loaded prefers the instance with fewer requests in flight', () => {
    const balancer = makeBalancer(['a', 'b', 'c'], { rule: 'least-loaded' });
    const busy = state(balancer, 'a');
    balancer.begin(busy);
    balancer.begin(busy);
    const counts = countPicks(balancer, 1_000, T0);
    expect(counts.get('a') ?? 0).toBe(0);
    expect(counts.get('b')).toBeGreaterThan(350);
    expect(counts.get('c')).toBeGreaterThan(350);
  });

  it("weighted-response-time follows Ribbon's weights on the decaying average", () => {
    const balancer = makeBalancer(['f1', 'f2', 'f3', 'f4', 'slow'], { rule: 'weighted-response-time' });
    let now = T0 + 1_000_000;
    for (const id of ['f1', 'f2', 'f3', 'f4']) sample(balancer, id, 10, now);
    sample(balancer, 'slow', 100, now);
    // Weight = sum of means - own mean: 130 for each fast one, 40 for the slow one: 40 / 560 = 7.1%.
    const counts = countPicks(balancer, 40_000, now);
    const share = (counts.get('slow') ?? 0) / 40_000;
    expect(share).toBeGreaterThan(0.055);
    expect(share).toBeLessThan(0.09);
    // Healed: its average decays towards 10 ms, so within a minute it is weighed like the others.
    for (let i = 0; i < 600; i++) {
      now += 100;
      for (const id of ['f1', 'f2', 'f3', 'f4', 'slow']) sample(balancer, id, 10, now);
    }
    const healed = countPicks(balancer, 40_000, now + 2_000);
    expect((healed.get('slow') ?? 0) / 40_000).toBeGreaterThan(0.17);
  });

  it('zone-avoidance drops the busiest zone once it carries 0.2 requests per instance', () => {
    const balancer = new Balancer<BalancerTarget>(
      resolveBalancerOptions({ rule: 'zone-avoidance', random: seeded(1), outlierDetection: false }),
    );
    balancer.update(
      [
        { instanceId: 'a1', zone: 'a' },
        { instanceId: 'a2', zone: 'a' },
        { instanceId: 'b1', zone: 'b' },
        { instanceId: 'b2', zone: 'b' },
      ],
      T0,
    );
    expect(new Set(countPicks(balancer, 8, T0).keys())).toEqual(new Set(['a1', 'a2', 'b1', 'b2']));
    balancer.begin(state(balancer, 'a1')); // zone a: 1 in flight over 2 instances = 0.5 per instance
    const later = T0 + 5_000; // past the rule's refresh period
    const counts = countPicks(balancer, 100, later);
    expect([...counts.keys()].sort()).toEqual(['b1', 'b2']);
    expect(counts.get('b1')).toBe(50);
  });

  it('no rule returns the instance to avoid while another candidate exists', () => {
    for (const name of balancerRuleNames) {
      const balancer = makeBalancer(['a', 'b'], { rule: name });
      const a = state(balancer, 'a');
      for (let i = 0; i < 200; i++) expect(balancer.pick(T0, a)?.id, name).toBe('b');
      const single = makeBalancer(['only'], { rule: name });
      expect(single.pick(T0, state(single, 'only')), name).toBeUndefined();
    }
  });

  it('a custom rule is ten lines, and the balancer overrides one that ignores avoid', () => {
    const first: BalancerRule = {
      name: 'first',
      pick: (candidates, _now, avoid) => (candidates[0] === avoid ? candidates[1] : candidates[0]),
    };
    const balancer = makeBalancer(['a', 'b', 'c'], { rule: first });
    expect(balancer.pick(T0)!.id).toBe('a');
    expect(balancer.pick(T0, state(balancer, 'a'))!.id).toBe('b');
    const stubborn: BalancerRule = { name: 'stubborn', pick: (candidates) => candidates[0] };
    balancer.setRule(stubborn);
    expect(balancer.rule.name).toBe('stubborn');
    expect(balancer.pick(T0, state(balancer, 'a'))!.id).toBe('b');
  });

  it('rules change live by name, keeping instance state; unknown names are refused with the option named', () => {
    const balancer = makeBalancer(['a', 'b'], { rule: 'round-robin' });
    balancer.begin(state(balancer, 'a'));
    balancer.setRule('least-loaded');
    expect(balancer.rule.name).toBe('least-loaded');
    expect(state(balancer, 'a').pending).toBe(1);
    expect(countPicks(balancer, 50, T0).get('a') ?? 0).toBe(0);
    try {
      balancer.setRule('fastest' as 'random');
      expect.unreachable();
    } catch (error) {
      expect(isKaryonError(error, 'ERR_INVALID_OPTION')).toBe(true);
      expect((error as Error).message).toMatch(/option 'balancer' must be one of 'round-robin'.*"fastest"/);
    }
    expect(() => createRule({ name: 'x' } as unknown as BalancerRule)).toThrow(/pick\(candidates, now, avoid\)/);
  });

  it('keeps the state of instances that stay, starts new ones fresh, and returns those that left', () => {
    const balancer = makeBalancer(['a', 'b']);
    const now = T0 + 1_000_000;
    sample(balancer, 'a', 7, now);
    balancer.begin(state(balancer, 'a'));
    const removed = balancer.update(
      [
        { instanceId: 'a', zone: 'z1' },
        { instanceId: 'c', zone: 'z1' },
      ],
      now,
    );
    expect(removed.map((s) => s.id)).toEqual(['b']);
    expect(state(balancer, 'a').pending).toBe(1);
    expect(state(balancer, 'a').latencyMs(now)).toBeCloseTo(7, 3);
    expect(state(balancer, 'c').latencyMs(now)).toBe(30);
    expect(balancer.get('b')).toBeUndefined();
  });

  it('picks read one candidate array that is rebuilt only when eligibility changes', () => {
    const balancer = makeBalancer(['a', 'b', 'c']);
    const before = balancer.candidates(T0);
    for (let i = 0; i < 100; i++) sample(balancer, balancer.pick(T0 + i)!.id, 3, T0 + i);
    expect(balancer.candidates(T0 + 100)).toBe(before);
    balancer.update([{ instanceId: 'a', zone: 'z1' }], T0 + 100);
    expect(balancer.candidates(T0 + 100)).not.toBe(before);
  });
});

describe('LatencyHistogram', () => {
  it('reports quantiles within one 26% bucket, and forgets samples older than two windows', () => {
    const histogram = new LatencyHistogram(10_000, T0);
    for (let i = 1; i <= 100; i++) histogram.record(i, T0);
    const p95 = histogram.quantile(0.95, T0)!;
    expect(p95).toBeGreaterThanOrEqual(95);
    expect(p95).toBeLessThan(95 * 1.26);
    const p50 = histogram.quantile(0.5, T0)!;
    expect(p50).toBeGreaterThanOrEqual(50);
    expect(p50).toBeLessThan(50 * 1.26);
    expect(histogram.quantile(0.95, T0, 101)).toBeUndefined();
    // One window later the samples still count (previous generation); two windows later they are gone.
    expect(histogram.count(T0 + 10_000)).toBe(100);
    histogram.record(1, T0 + 10_000);
    expect(histogram.count(T0 + 20_000)).toBe(1);
    expect(histogram.count(T0 + 50_000)).toBe(0);
    expect(histogram.quantile(0.5, T0 + 50_000)).toBeUndefined();
  });
});
