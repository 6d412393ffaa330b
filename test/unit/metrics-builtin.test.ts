import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  breakerMetrics,
  builtinMetrics,
  clientMetrics,
  configMetrics,
  healthMetrics,
  lifecycleMetrics,
  registryMetrics,
  adminMetrics,
  shadowMetrics,
} from 'karyon-ts/extend';
import { createMetrics, noopMetrics } from 'karyon-ts';
import { PrometheusRegistry } from '../../src/metrics/PrometheusRegistry.js';
import { resolveMetricsOptions } from '../../src/metrics/MetricsOptions.js';
import { statusClass } from '../../src/metrics/builtin.js';
import type { Metrics } from 'karyon-ts';

const doc = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8');
const rows = [...doc.matchAll(/^\| `(karyon\.[a-z_.]+)` \| (\w+) \| ([^|]+) \| ([^|]+) \| `([a-z_]+)` \| ([^|]+) \|$/gm)].map((m) => ({
  name: m[1]!,
  type: m[2]!,
  unit: m[3]!.trim(),
  tags: m[4]!.trim() === '—' ? [] : m[4]!.split(',').map((t) => t.trim().replace(/`/g, '')),
  prometheus: m[5]!,
  description: m[6]!.trim(),
}));

/** Parses the exposition into family name -> label names seen, with the family's type. */
function families(text: string): Map<string, { type: string; labels: Set<string>; help: string }> {
  const out = new Map<string, { type: string; labels: Set<string>; help: string }>();
  let current: { type: string; labels: Set<string>; help: string } | undefined;
  let help = '';
  for (const line of text.split('\n')) {
    const helpMatch = /^# HELP (\S+) (.*)$/.exec(line);
    if (helpMatch) help = helpMatch[2]!;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      current = { type: type[2]!, labels: new Set(), help };
      out.set(type[1]!, current);
      continue;
    }
    const sample = /^[a-zA-Z_:][a-zA-Z0-9_:]*\{([^}]*)\}/.exec(line);
    if (sample && current) for (const pair of sample[1]!.split(',')) current.labels.add(pair.split('=')[0]!);
  }
  return out;
}

describe('built-in metrics', () => {
  it('docs/metrics.md lists exactly the metrics of builtinMetrics, with the same type, unit, tags and description', () => {
    const catalogue = Object.values(builtinMetrics).map((m) => ({ name: m.name, type: m.type, unit: m.unit, tags: [...m.tags], description: m.description }));
    expect(rows.map(({ prometheus: _p, ...row }) => row)).toEqual(catalogue);
  });

  it('docs/metrics.md gives the Prometheus name each metric is exposed under', () => {
    const reg = new PrometheusRegistry(resolveMetricsOptions({ prometheus: true }).prometheus!);
    for (const m of Object.values(builtinMetrics)) reg.series(m.name, m.type, {});
    const exposed = [...families(reg.render()).keys()];
    expect(rows.map((r) => r.prometheus)).toEqual(exposed);
  });

  /** Drives every factory method once. */
  function recordAll(metrics: Metrics): void {
    const lifecycle = lifecycleMetrics(metrics);
    lifecycle.state('STARTING');
    lifecycle.initializeDuration(120);
    lifecycle.transition('STARTING', 'UP');
    lifecycle.shutdownDuration(900);
    healthMetrics(metrics).check('db', 'UP', 3);
    const registry = registryMetrics(metrics);
    registry.heartbeat(12);
    registry.heartbeatFailure(5000, 'timeout');
    registry.fetch('delta', 'success', 30);
    registry.instances({ UP: 3, DOWN: 1 });
    registry.hashMismatch();
    const client = clientMetrics(metrics);
    client.request('greeter', 'success', statusClass(200), 8);
    client.retry('greeter');
    client.retryBudgetExhausted('greeter');
    client.hedge('greeter');
    client.ejection('greeter');
    client.instance!('greeter', 'i1', 0.2, 0.05, 3.5);
    const breaker = breakerMetrics(metrics);
    breaker.state('greeter', 'open');
    breaker.call('greeter', 'short_circuited');
    const config = configMetrics(metrics);
    config.reload('file');
    config.rejection('remote');
    adminMetrics(metrics).mutation('status.set', 'denied', 'anonymous');
    const shadow = shadowMetrics(metrics);
    shadow.copy('greeter-next', 'sent');
    shadow.skipped('body_too_large');
    shadow.comparison('greeter-next', 'mismatch');
    shadow.latency('greeter-next', 4);
  }

  it('each factory records under the documented names and tags only, every metric at least once, with the documented help', () => {
    const metrics = createMetrics({ prometheus: true, globalTags: { app: 'a' } });
    recordAll(metrics);
    const exposed = families(metrics.prometheus!.render());
    for (const row of rows) {
      const family = exposed.get(row.prometheus);
      expect(family, row.name).toBeDefined();
      expect([...family!.labels].filter((l) => l !== 'le' && l !== 'app').sort(), row.name).toEqual([...row.tags].sort());
      expect(family!.help, row.name).toBe(row.description);
    }
    expect(exposed.size).toBe(rows.length);
  });

  it('state gauges show 1 for the current state and 0 for the state left', () => {
    const metrics = createMetrics({ prometheus: true });
    const lifecycle = lifecycleMetrics(metrics);
    lifecycle.state('STARTING');
    lifecycle.transition('STARTING', 'UP');
    lifecycle.transition('UP', 'OUT_OF_SERVICE');
    const breaker = breakerMetrics(metrics);
    breaker.state('a', 'closed');
    breaker.state('b', 'closed');
    breaker.state('a', 'open');
    const text = metrics.prometheus!.render();
    expect(text).toContain('karyon_lifecycle_state{state="STARTING"} 0\n');
    expect(text).toContain('karyon_lifecycle_state{state="UP"} 0\n');
    expect(text).toContain('karyon_lifecycle_state{state="OUT_OF_SERVICE"} 1\n');
    expect(text).toContain('karyon_lifecycle_transitions_total{from="UP",to="OUT_OF_SERVICE"} 1\n');
    expect(text).toContain('karyon_breaker_state{breaker="a",state="closed"} 0\n');
    expect(text).toContain('karyon_breaker_state{breaker="a",state="open"} 1\n');
    expect(text).toContain('karyon_breaker_state{breaker="b",state="closed"} 1\n');
  });

  it('instance counts zero a status that disappeared', () => {
    const metrics = createMetrics({ prometheus: true });
    const registry = registryMetrics(metrics);
    registry.instances({ UP: 3, DOWN: 1 });
    registry.instances({ UP: 4 });
    const text = metrics.prometheus!.render();
    expect(text).toContain('karyon_registry_instances{status="UP"} 4\n');
    expect(text).toContain('karyon_registry_instances{status="DOWN"} 0\n');
  });

  it('client metrics count requests by target, outcome and status class and keep their latency', () => {
    const metrics = createMetrics({ prometheus: true });
    const client = clientMetrics(metrics);
    client.request('greeter', 'success', statusClass(204), 8);
    client.request('greeter', 'success', statusClass(204), 12);
    client.request('greeter', 'failure', statusClass(503), 40);
    client.request('greeter', 'timeout', statusClass(undefined), 1000);
    const text = metrics.prometheus!.render();
    expect(text).toContain('karyon_client_requests_total{outcome="success",status_class="2xx",target="greeter"} 2\n');
    expect(text).toContain('karyon_client_requests_total{outcome="failure",status_class="5xx",target="greeter"} 1\n');
    expect(text).toContain('karyon_client_requests_total{outcome="timeout",status_class="none",target="greeter"} 1\n');
    expect(text).toContain('karyon_client_latency_seconds_sum{outcome="success",target="greeter"} 0.02\n');
    expect(statusClass(99)).toBe('none');
    expect(statusClass(600)).toBe('none');
    expect(statusClass(302)).toBe('3xx');
  });

  it('factories work on the no-op metrics without recording anything', () => {
    expect(() => recordAll(noopMetrics)).not.toThrow();
    expect(noopMetrics.enabled).toBe(false);
    expect(noopMetrics.prometheus).toBeUndefined();
    expect(noopMetrics.stats()).toEqual({ sent: 0, dropped: 0, errors: 0, prometheusSeries: 0, prometheusDropped: 0 });
  });
});
