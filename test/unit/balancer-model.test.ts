import { describe, expect, it } from 'vitest';
import { Balancer, resolveBalancerOptions } from '../../src/balancer/Balancer.js';
import type { BalancerOptions, BalancerTarget } from 'karyon-ts';
import { simulate } from '../../bench/balancerModel.js';
import type { ModelOptions } from '../../bench/balancerModel.js';

// The deterministic model of bench/balancerModel.ts (section 7 of bench/client-balancing.bench.ts): simulated
// upstreams of 2 slots with a queue, 5 ms of work (+10% jitter), one 10x slower in the straggler fleet, Poisson
// arrivals, the real balancer picking on the simulation's clock. Seeded, so what it asserts holds on any machine.

const fastMs = 5;
const jitter = 0.1;
/** What the four fast upstreams serve at most: 2 slots each over the mean work. */
const capacity = (4 * 2 * 1000) / (fastMs * (1 + jitter));
const healthyFleet = [fastMs, fastMs, fastMs, fastMs, fastMs];
const stragglerFleet = [fastMs, fastMs, fastMs, fastMs, 10 * fastMs];

function run(workMs: readonly number[], fraction: number, seed: number, options: BalancerOptions = {}): ReturnType<typeof simulate> {
  const model: ModelOptions = { workMs, slots: 2, rate: capacity * fraction, warmMs: 2000, measureMs: 20_000, seed, jitter };
  return simulate(model, (random) => new Balancer<BalancerTarget>(resolveBalancerOptions({ random, ...options })));
}

describe('balancer model (p2c-ewma, one instance of five 10x slower)', () => {
  it.each([0.3, 0.6])('at %s of capacity: p99 within 1.2x the all-healthy p99, under 1%% of requests to the straggler', (fraction) => {
    for (const seed of [1, 2, 3]) {
      const healthy = run(healthyFleet, fraction, seed);
      const straggling = run(stragglerFleet, fraction, seed);
      expect(straggling.p99 / healthy.p99).toBeLessThanOrEqual(1.2);
      expect(straggling.shares[4]).toBeLessThan(0.01);
      // The straggler still gets its probes, so a straggler that healed is found.
      expect(straggling.shares[4]).toBeGreaterThan(0);
    }
  });

  it('at 90% of capacity, far ahead of round robin, which sends the straggler a fifth and lets its queue grow', () => {
    const client = run(stragglerFleet, 0.9, 1);
    const roundRobin = run(stragglerFleet, 0.9, 1, { rule: 'round-robin' });
    expect(roundRobin.shares[4]).toBeCloseTo(0.2, 2);
    expect(client.p99 * 10).toBeLessThan(roundRobin.p99);
  });

  it('cold start: after 2 s a fresh client estimates each fast instance within 2x of the latency its calls see', () => {
    for (const seed of [1, 2, 3]) {
      let balancer: Balancer<BalancerTarget> | undefined;
      const model: ModelOptions = { workMs: stragglerFleet, slots: 2, rate: capacity * 0.3, warmMs: 1000, measureMs: 1000, seed, jitter };
      const result = simulate(model, (random) => (balancer = new Balancer<BalancerTarget>(resolveBalancerOptions({ random }))));
      for (const state of balancer!.states.slice(0, 4)) {
        expect(state.ewmaMs / result.p50).toBeLessThanOrEqual(2);
        expect(state.ewmaMs / result.p50).toBeGreaterThanOrEqual(0.5);
        expect(state.averageLatencyMs / result.p50).toBeLessThanOrEqual(2);
      }
    }
  });

  it('is deterministic: the same seed gives the same figures', () => {
    expect(run(stragglerFleet, 0.6, 7)).toEqual(run(stragglerFleet, 0.6, 7));
  });
});
