import { describe, expect, it } from 'vitest';
import { Balancer, resolveBalancerOptions } from '../../src/balancer/Balancer.js';
import { FailureKind } from '../../src/balancer/OutlierDetector.js';
import type { BalancerOptions, BalancerTarget, OutlierDetectionOptions } from 'karyon-ts';
import type { InstanceState } from '../../src/balancer/InstanceState.js';

const T0 = 1_000_000;

function makeBalancer(count: number, outlierDetection: OutlierDetectionOptions | false = {}, extra: BalancerOptions = {}): Balancer<BalancerTarget> {
  const balancer = new Balancer<BalancerTarget>(resolveBalancerOptions({ rule: 'round-robin', outlierDetection, ...extra }));
  balancer.update(
    Array.from({ length: count }, (_, i) => ({ instanceId: `i${i}`, zone: 'z' })),
    T0,
  );
  return balancer;
}

function get(balancer: Balancer<BalancerTarget>, id: string): InstanceState<BalancerTarget> {
  return balancer.get(id)!;
}

function fail(balancer: Balancer<BalancerTarget>, id: string, kind: FailureKind, now: number): void {
  const state = get(balancer, id);
  balancer.begin(state);
  balancer.fail(state, kind, 1, now);
}

function succeed(balancer: Balancer<BalancerTarget>, id: string, now: number): void {
  const state = get(balancer, id);
  balancer.begin(state);
  balancer.succeed(state, 1, now);
}

function candidateIds(balancer: Balancer<BalancerTarget>, now: number): string[] {
  return balancer.candidates(now).map((s) => s.id);
}

describe('outlier ejection', () => {
  it('one connection failure ejects an instance at once, for 30 s', () => {
    const balancer = makeBalancer(10);
    fail(balancer, 'i3', FailureKind.CONNECT, T0);
    expect(get(balancer, 'i3').mode).toBe('ejected');
    expect(get(balancer, 'i3').excludedUntil).toBe(T0 + 30_000);
    expect(candidateIds(balancer, T0)).not.toContain('i3');
    for (let i = 0; i < 100; i++) expect(balancer.pick(T0 + 29_999)!.id).not.toBe('i3');
  });

  it('five failures in a row eject; a success in between starts the count again', () => {
    const balancer = makeBalancer(10);
    for (let i = 0; i < 4; i++) fail(balancer, 'i1', FailureKind.RESPONSE, T0);
    succeed(balancer, 'i1', T0);
    for (let i = 0; i < 4; i++) fail(balancer, 'i1', FailureKind.RESPONSE, T0);
    expect(get(balancer, 'i1').mode).toBe('active');
    fail(balancer, 'i1', FailureKind.RESPONSE, T0);
    expect(get(balancer, 'i1').mode).toBe('ejected');
  });

  it('readmits on one successful probe, letting a single request through meanwhile', () => {
    const balancer = makeBalancer(10);
    fail(balancer, 'i2', FailureKind.CONNECT, T0);
    const probeTime = T0 + 30_000;
    expect(candidateIds(balancer, probeTime)).toContain('i2');
    expect(get(balancer, 'i2').mode).toBe('probing');
    const probe = get(balancer, 'i2');
    balancer.begin(probe);
    // While the probe is in flight nothing else goes there.
    expect(candidateIds(balancer, probeTime)).not.toContain('i2');
    balancer.succeed(probe, 1, probeTime + 5);
    expect(probe.mode).toBe('active');
    expect(candidateIds(balancer, probeTime + 5)).toContain('i2');
  });

  it('a failed probe ejects again for longer: 30 s x times ejected, at most 300 s', () => {
    const balancer = makeBalancer(10);
    let now = T0;
    fail(balancer, 'i0', FailureKind.CONNECT, now);
    const durations: number[] = [];
    for (let round = 0; round < 12; round++) {
      const state = get(balancer, 'i0');
      durations.push(state.excludedUntil - now);
      now = state.excludedUntil;
      expect(candidateIds(balancer, now)).toContain('i0'); // probing
      fail(balancer, 'i0', FailureKind.RESPONSE, now); // one failed probe is enough
    }
    expect(durations.slice(0, 4)).toEqual([30_000, 60_000, 90_000, 120_000]);
    expect(Math.max(...durations)).toBe(300_000);
    expect(durations.at(-1)).toBe(300_000);
  });

  it('an instance healthy for a full maximum ejection starts over at 30 s', () => {
    const balancer = makeBalancer(10);
    fail(balancer, 'i0', FailureKind.CONNECT, T0);
    balancer.candidates(T0 + 30_000); // the ejection ran out: probing
    fail(balancer, 'i0', FailureKind.RESPONSE, T0 + 30_000); // failed probe: 60 s
    const readmitted = T0 + 90_000;
    balancer.candidates(readmitted);
    succeed(balancer, 'i0', readmitted);
    expect(get(balancer, 'i0').mode).toBe('active');
    fail(balancer, 'i0', FailureKind.CONNECT, readmitted + 1_000);
    expect(get(balancer, 'i0').excludedUntil - (readmitted + 1_000)).toBe(90_000);
    // Readmitted again, then quiet for 300 s: the next ejection is a first one again.
    const again = readmitted + 1_000 + 90_000;
    balancer.candidates(again);
    succeed(balancer, 'i0', again);
    fail(balancer, 'i0', FailureKind.CONNECT, again + 300_000);
    expect(get(balancer, 'i0').excludedUntil - (again + 300_000)).toBe(30_000);
  });

  it('never ejects more than the set share of instances (at least one)', () => {
    const five = makeBalancer(5);
    fail(five, 'i0', FailureKind.CONNECT, T0);
    fail(five, 'i1', FailureKind.CONNECT, T0);
    expect(get(five, 'i0').mode).toBe('ejected');
    expect(get(five, 'i1').mode).toBe('active');
    expect(candidateIds(five, T0)).toEqual(['i1', 'i2', 'i3', 'i4']);

    const twenty = makeBalancer(20);
    for (let i = 0; i < 5; i++) fail(twenty, `i${i}`, FailureKind.CONNECT, T0);
    expect(twenty.states.filter((s) => s.mode === 'ejected')).toHaveLength(2);
  });

  it('panics below half healthy: balances across every instance, ejected ones included', () => {
    const balancer = makeBalancer(3, { maxEjectedPercent: 100 });
    fail(balancer, 'i0', FailureKind.CONNECT, T0);
    expect(balancer.scope(T0).panic).toBe(false);
    expect(candidateIds(balancer, T0)).toEqual(['i1', 'i2']);
    fail(balancer, 'i1', FailureKind.CONNECT, T0);
    expect(balancer.scope(T0)).toMatchObject({ panic: true, candidates: 3 });
    expect(candidateIds(balancer, T0)).toEqual(['i0', 'i1', 'i2']);
  });

  it('an out-of-service answer excludes the instance at once, then one probe readmits it', () => {
    const balancer = makeBalancer(3, {}, { outOfServiceBackoffMs: 5_000 });
    const state = get(balancer, 'i1');
    balancer.begin(state);
    balancer.drain(state, T0);
    expect(state.mode).toBe('draining');
    expect(candidateIds(balancer, T0)).toEqual(['i0', 'i2']);
    expect(candidateIds(balancer, T0 + 4_999)).toEqual(['i0', 'i2']);
    expect(candidateIds(balancer, T0 + 5_000)).toEqual(['i0', 'i1', 'i2']);
    succeed(balancer, 'i1', T0 + 5_001);
    expect(state.mode).toBe('active');
    expect(state.timesEjected).toBe(0);
  });

  it('with ejection off, failures never exclude an instance', () => {
    const balancer = makeBalancer(3, false);
    for (let i = 0; i < 20; i++) fail(balancer, 'i0', FailureKind.CONNECT, T0);
    expect(get(balancer, 'i0').mode).toBe('active');
    expect(candidateIds(balancer, T0)).toContain('i0');
  });

  it('counts requests, successes, failures and failures in a row', () => {
    const balancer = makeBalancer(3);
    succeed(balancer, 'i0', T0);
    fail(balancer, 'i0', FailureKind.RESPONSE, T0);
    fail(balancer, 'i0', FailureKind.RESPONSE, T0);
    expect(get(balancer, 'i0')).toMatchObject({ requests: 3, successes: 1, failures: 2, consecutiveFailures: 2, pending: 0 });
  });

  it('rejects bad ejection options with the option named', () => {
    expect(() => resolveBalancerOptions({ outlierDetection: { maxEjectedPercent: 150 } })).toThrow(
      /option 'outlierDetection.maxEjectedPercent' must be a percentage between 0 and 100 \(got 150\)/,
    );
    expect(() => resolveBalancerOptions({ outlierDetection: { baseEjectionMs: 60_000, maxEjectionMs: 1_000 } })).toThrow(
      /outlierDetection.maxEjectionMs/,
    );
    expect(() => resolveBalancerOptions({ outlierDetection: { consecutiveFailures: 0 } })).toThrow(/consecutiveFailures' must be a positive integer/);
  });
});

describe('zone affinity', () => {
  function zoned(local: number, remote: number, options: BalancerOptions = {}): Balancer<BalancerTarget> {
    const balancer = new Balancer<BalancerTarget>(
      resolveBalancerOptions({ rule: 'round-robin', zone: 'east', outlierDetection: { maxEjectedPercent: 100 }, ...options }),
    );
    balancer.update(
      [
        ...Array.from({ length: local }, (_, i) => ({ instanceId: `east${i}`, zone: 'east' })),
        ...Array.from({ length: remote }, (_, i) => ({ instanceId: `west${i}`, zone: 'west' })),
      ],
      T0,
    );
    return balancer;
  }

  it('sends to the same zone first', () => {
    const balancer = zoned(3, 3);
    expect(candidateIds(balancer, T0)).toEqual(['east0', 'east1', 'east2']);
    expect(balancer.scope(T0)).toMatchObject({ zoneAffinity: true, zoneOverride: undefined });
  });

  it('leaves the zone when fewer than 2 of its instances are available', () => {
    const balancer = zoned(2, 2);
    fail(balancer, 'east0', FailureKind.CONNECT, T0);
    expect(balancer.scope(T0)).toMatchObject({ zoneAffinity: false, zoneOverride: 'too-few' });
    expect(candidateIds(balancer, T0)).toEqual(['east1', 'west0', 'west1']);
  });

  it('leaves the zone when 80% of it is ejected', () => {
    const balancer = zoned(5, 5, { zoneAffinity: { minAvailable: 1 } });
    for (let i = 0; i < 3; i++) fail(balancer, `east${i}`, FailureKind.CONNECT, T0);
    expect(balancer.scope(T0).zoneAffinity).toBe(true);
    fail(balancer, 'east3', FailureKind.CONNECT, T0);
    expect(balancer.scope(T0)).toMatchObject({ zoneAffinity: false, zoneOverride: 'ejected' });
    expect(candidateIds(balancer, T0)).toEqual(['east4', 'west0', 'west1', 'west2', 'west3', 'west4']);
  });

  it('leaves the zone under load (0.6 requests in flight per instance), looked at again each second', () => {
    const balancer = zoned(2, 2);
    expect(balancer.scope(T0).zoneAffinity).toBe(true);
    balancer.begin(get(balancer, 'east0'));
    balancer.begin(get(balancer, 'east1')); // 1 per instance
    expect(balancer.scope(T0 + 999).zoneAffinity).toBe(true); // not re-evaluated yet
    expect(balancer.scope(T0 + 1_000)).toMatchObject({ zoneAffinity: false, zoneOverride: 'load' });
    balancer.succeed(get(balancer, 'east0'), 1, T0 + 1_500);
    balancer.succeed(get(balancer, 'east1'), 1, T0 + 1_500);
    expect(balancer.scope(T0 + 1_500).zoneAffinity).toBe(false); // the load has gone, but it is not looked at yet...
    expect(balancer.scope(T0 + 2_000).zoneAffinity).toBe(true); // ...until the next recheck
  });

  it('balances across all zones without a zone, or with affinity off', () => {
    expect(candidateIds(zoned(2, 2, { zone: undefined as unknown as string }), T0)).toHaveLength(4);
    expect(candidateIds(zoned(2, 2, { zoneAffinity: false }), T0)).toHaveLength(4);
  });
});
