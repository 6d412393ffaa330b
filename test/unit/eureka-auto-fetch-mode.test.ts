import { describe, expect, it } from 'vitest';
import { AUTO_HORIZON, AUTO_PROBE_EVERY, AutoFetchMode, costScore, instancesOfHashcode } from '../../src/registry/eureka/AutoFetchMode.js';

describe('AutoFetchMode', () => {
  it('reads the size of the registry from an apps__hashcode', () => {
    expect(instancesOfHashcode('DOWN_1_UP_3_')).toBe(4);
    expect(instancesOfHashcode('')).toBe(0);
    expect(instancesOfHashcode('UP_100000_')).toBe(100_000);
  });

  it('probes after the first refresh, then every few refreshes', () => {
    const auto = new AutoFetchMode('vips');
    const due = Array.from({ length: 2 * AUTO_PROBE_EVERY + 1 }, () => auto.probeDue());
    expect(due.flatMap((d, i) => (d ? [i] : []))).toEqual([0, AUTO_PROBE_EVERY, 2 * AUTO_PROBE_EVERY]);
  });

  it('keeps the VIPs while a full fetch, paid over the horizon, costs more; estimates it from the registry size', () => {
    const auto = new AutoFetchMode('vips');
    // 3 VIPs of 150 instances in a registry of 100,000: even a delta costing nothing does not pay the full fetch.
    auto.recordVips({ bytes: 9_000, cpuMs: 2, instances: 150 });
    auto.recordDelta({ bytes: 300, cpuMs: 0.05, instances: 0 }, 'UP_100000_');
    expect(auto.decide()).toBe('vips');
    expect(auto.state).toMatchObject({ reason: 'vipsCheaper', full: { instances: 100_000, bytes: 6_000_000 } });
  });

  it('moves to full when the deltas and one full fetch cost less, and back when the VIPs get cheaper', () => {
    const auto = new AutoFetchMode('vips');
    // The VIPs are most of a quiet registry.
    auto.recordVips({ bytes: 100_000, cpuMs: 5, instances: 100 });
    auto.recordDelta({ bytes: 200, cpuMs: 0.05, instances: 0 }, 'UP_120_');
    expect(auto.decide()).toBe('full');
    expect(auto.state.reason).toBe('fullCheaper');
    auto.recordFull({ bytes: 120_000, cpuMs: 6, instances: 120 });
    // The full fetch is paid now: a delta a little dearer than the VIPs does not bring them back (margin)...
    auto.recordDelta({ bytes: 110_000, cpuMs: 5, instances: 110 }, 'UP_120_');
    expect(auto.decide()).toBe('full');
    // ...a busy registry whose deltas cost far more does.
    auto.recordDelta({ bytes: 400_000, cpuMs: 20, instances: 400 }, 'UP_120_');
    expect(auto.decide()).toBe('vips');
    expect(auto.state.reason).toBe('vipsCheaper');
    expect(costScore({ bytes: 65_536, cpuMs: 1, instances: 0 })).toBe(2);
    expect(AUTO_HORIZON).toBe(120);
  });

  it('averages CPU readings, so one scheduler tick read as the cost of a refresh does not flip the mode', () => {
    const auto = new AutoFetchMode('full');
    auto.recordFull({ bytes: 1_000_000, cpuMs: 50, instances: 1000 });
    // The VIPs cost 1 (0.5 ms and 32 KiB); quiet deltas a fraction of a ms, read as 0 or a whole 4 ms tick.
    auto.recordVips({ bytes: 32_768, cpuMs: 0.5, instances: 20 });
    for (const cpuMs of [0, 0, 0, 4, 0, 0]) {
      auto.recordDelta({ bytes: 655, cpuMs, instances: 1 }, 'UP_1000_');
      expect(auto.decide()).toBe('full');
    }
    expect(auto.state.delta!.cpuMs).toBeLessThan(1);
    // Deltas that really cost 4 ms each do bring the VIPs back.
    for (let n = 0; n < 5; n++) auto.recordDelta({ bytes: 655, cpuMs: 4, instances: 1 }, 'UP_1000_');
    expect(auto.decide()).toBe('vips');
    expect(auto.state.delta!.cpuMs).toBeGreaterThan(3);
  });

  it('decides nothing before both modes are measured', () => {
    const auto = new AutoFetchMode('full');
    auto.recordFull({ bytes: 1_000_000, cpuMs: 50, instances: 1000 });
    expect(auto.decide()).toBe('full');
    expect(auto.state.reason).toBe('initial');
  });
});
