import { describe, expect, it } from 'vitest';
import { createMetrics } from 'karyon-ts';
import { PrometheusRegistry } from '../../src/metrics/PrometheusRegistry.js';
import { resolveMetricsOptions } from '../../src/metrics/MetricsOptions.js';
import { escapeLabelValue, prometheusLabelName, prometheusMetricName } from '../../src/metrics/prometheusText.js';
import { silentLogger } from 'karyon-ts/extend';
import type { Logger, MetricsOptions } from 'karyon-ts';
import { ManualClock } from 'karyon-ts/testing';

function registry(prometheus: MetricsOptions['prometheus'] = true, clock = new ManualClock(), logger: Logger = silentLogger) {
  return new PrometheusRegistry(resolveMetricsOptions({ prometheus }).prometheus!, { clock, logger });
}

describe('Prometheus exposition', () => {
  it('renders counters summed, gauges last value and histograms with cumulative buckets, in the 0.0.4 format', () => {
    const metrics = createMetrics({ prometheus: { timerBuckets: [0.01, 0.1], histogramBuckets: [10, 100] }, prefix: 'app' });
    const requests = metrics.counter('http.requests', { route: '/a' }, { help: 'HTTP requests served.' });
    requests.increment();
    requests.increment(2);
    requests.increment(-5);
    metrics.gauge('queue.depth', { queue: 'mail' }).set(7);
    metrics.gauge('queue.depth', 3, { queue: 'mail' });
    metrics.gauge('inflight').add(2);
    metrics.gauge('inflight').add(-0.5);
    const latency = metrics.timer('http.latency');
    latency.record(5);
    latency.record(50);
    latency.record(5000);
    metrics.histogram('payload.bytes', 10);
    metrics.distribution('payload.bytes', 500);
    expect(metrics.prometheus!.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(metrics.prometheus!.render()).toBe(
      [
        '# HELP app_http_requests_total HTTP requests served.',
        '# TYPE app_http_requests_total counter',
        'app_http_requests_total{route="/a"} 3',
        '# HELP app_queue_depth gauge app.queue.depth',
        '# TYPE app_queue_depth gauge',
        'app_queue_depth{queue="mail"} 3',
        '# HELP app_inflight gauge app.inflight',
        '# TYPE app_inflight gauge',
        'app_inflight 1.5',
        '# HELP app_http_latency_seconds timer app.http.latency',
        '# TYPE app_http_latency_seconds histogram',
        'app_http_latency_seconds_bucket{le="0.01"} 1',
        'app_http_latency_seconds_bucket{le="0.1"} 2',
        'app_http_latency_seconds_bucket{le="+Inf"} 3',
        'app_http_latency_seconds_sum 5.055',
        'app_http_latency_seconds_count 3',
        '# HELP app_payload_bytes histogram app.payload.bytes',
        '# TYPE app_payload_bytes histogram',
        'app_payload_bytes_bucket{le="10"} 1',
        'app_payload_bytes_bucket{le="100"} 1',
        'app_payload_bytes_bucket{le="+Inf"} 2',
        'app_payload_bytes_sum 510',
        'app_payload_bytes_count 2',
        '',
      ].join('\n'),
    );
  });

  it('sanitises names and label names and escapes label values and help text', () => {
    expect(prometheusMetricName('karyon.client:requests-2xx')).toBe('karyon_client_requests_2xx');
    expect(prometheusMetricName('5xx.errors')).toBe('_5xx_errors');
    expect(prometheusLabelName('status-class')).toBe('status_class');
    expect(prometheusLabelName('__reserved')).toBe('_reserved');
    expect(prometheusLabelName('1st')).toBe('_1st');
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    const reg = registry();
    reg.series('weird.name', 'counter', { 'path/x': 'C:\\dir "quoted"\nnext', empty: '' }, { help: 'line one\nback\\slash' })!.add(1);
    expect(reg.render()).toBe(
      [
        '# HELP weird_name_total line one\\nback\\\\slash',
        '# TYPE weird_name_total counter',
        'weird_name_total{path_x="C:\\\\dir \\"quoted\\"\\nnext"} 1',
        '',
      ].join('\n'),
    );
  });

  it('keeps one series per label set whatever the tag order, and renames a tag called le on histograms', () => {
    const reg = registry({ histogramBuckets: [1] });
    const a = reg.series('c', 'counter', { b: '2', a: '1' });
    const b = reg.series('c', 'counter', { a: '1', b: '2' });
    expect(a).toBe(b);
    reg.series('h', 'histogram', { le: 'x' })!.observe(0.5);
    expect(reg.render()).toContain('h_bucket{exported_le="x",le="1"} 1\n');
    expect(reg.seriesCount).toBe(2);
  });

  it('treats histogram and distribution as one family but refuses other clashes', () => {
    const reg = registry();
    expect(reg.series('d', 'histogram', {})).toBe(reg.series('d', 'distribution', {}));
    reg.series('x', 'gauge', {});
    expect(() => reg.series('x', 'set', {})).toThrow(/metric 'x' cannot be a set: its Prometheus name 'x' is already a gauge/);
    expect(() => reg.series('x.y', 'counter', {}, { buckets: [1] })).not.toThrow();
    expect(() => reg.series('bad', 'timer', {}, { buckets: [2, 1] })).toThrow(/option 'bad.buckets' must be strictly increasing bounds \(got "2, 1"\)/);
  });

  it('stops creating series at maxSeries, counts what it ignores and warns once', () => {
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (message) => warnings.push(message) };
    const reg = registry({ maxSeries: 2 }, new ManualClock(), logger);
    expect(reg.series('c', 'counter', { id: '1' })).toBeDefined();
    expect(reg.series('c', 'counter', { id: '2' })).toBeDefined();
    expect(reg.series('c', 'counter', { id: '3' })).toBeUndefined();
    expect(reg.series('c', 'counter', { id: '4' })).toBeUndefined();
    expect(reg.series('c', 'counter', { id: '1' })).toBeDefined();
    expect(reg.seriesCount).toBe(2);
    expect(reg.dropped).toBe(2);
    expect(warnings).toEqual(['Prometheus series limit reached; records of new series are ignored']);
    const metrics = createMetrics({ prometheus: { maxSeries: 1 } });
    metrics.increment('one', 1, { user: 'a' });
    metrics.increment('one', 1, { user: 'b' });
    expect(metrics.stats()).toMatchObject({ prometheusSeries: 1, prometheusDropped: 1 });
  });

  it('counts distinct set members per window on the injected clock, rotating lazily', () => {
    const clock = new ManualClock();
    const metrics = createMetrics({ prometheus: { setWindowMs: 1000 }, clock });
    const users = metrics.set('users');
    users.add('ann');
    users.add('bob');
    users.add('ann');
    metrics.unique('users', 7);
    expect(metrics.prometheus!.render()).toContain('\nusers 3\n');
    clock.advance(1000);
    users.add('cid');
    // The last complete window saw 3; the current one (1 so far) is shown once it completes.
    expect(metrics.prometheus!.render()).toContain('\nusers 3\n');
    clock.advance(1000);
    expect(metrics.prometheus!.render()).toContain('\nusers 1\n');
    clock.advance(5000);
    expect(metrics.prometheus!.render()).toContain('\nusers 0\n');
  });

  it('renders nothing before anything is registered', () => {
    expect(registry().render()).toBe('');
  });
});
