// The web UI's Prometheus parser (browser JavaScript, plain ES module) run in Node against the library's real
// exposition and the edge cases of the text format.
import { describe, expect, it } from 'vitest';
import { createMetrics } from 'karyon-ts';

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}
interface Family {
  readonly name: string;
  readonly type: string;
  readonly help: string;
  readonly samples: Sample[];
}
interface PrometheusModule {
  readonly parsePrometheus: (text: string) => { families: Family[]; skipped: number };
  readonly histogramQuantile: (q: number, buckets: { le: number; count: number }[]) => number | undefined;
}

// A module of the page, not of the library: loaded by URL so the type checker does not look for its types.
const { parsePrometheus, histogramQuantile } = (await import(new URL('../../src/admin/ui/prometheus.js', import.meta.url).href)) as PrometheusModule;

describe('the web UI reads the Prometheus text format', () => {
  it("parses the library's own exposition completely: counters, gauges and histograms with their values", async () => {
    const metrics = createMetrics({ prometheus: true });
    try {
      const served = metrics.counter('orders.placed', { region: 'eu' });
      for (let i = 0; i < 5; i++) served.increment();
      metrics.gauge('queue.depth', 17, { queue: 'mail' });
      const latency = metrics.timer('checkout.latency', { route: '/pay' });
      for (let ms = 1; ms <= 100; ms++) latency.record(ms);

      const text = metrics.prometheus!.render();
      const { families, skipped } = parsePrometheus(text);
      expect(skipped).toBe(0);
      const byName = new Map(families.map((f) => [f.name, f]));
      // Every family the text declares, and every sample line, is accounted for.
      const declared = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]);
      for (const name of declared) expect(byName.has(name!), name).toBe(true);
      const sampleLines = text.split('\n').filter((line) => line !== '' && !line.startsWith('#')).length;
      expect(families.reduce((n, f) => n + f.samples.length, 0)).toBe(sampleLines);

      const orders = [...byName.values()].find((f) => f.name.startsWith('orders_placed'))!;
      expect(orders.type).toBe('counter');
      expect(orders.samples).toEqual([{ name: orders.name, labels: { region: 'eu' }, value: 5 }]);
      const depth = [...byName.values()].find((f) => f.name.startsWith('queue_depth'))!;
      expect(depth).toMatchObject({ type: 'gauge', samples: [{ labels: { queue: 'mail' }, value: 17 }] });

      const checkout = [...byName.values()].find((f) => f.name.startsWith('checkout_latency'))!;
      expect(checkout.type).toBe('histogram');
      const count = checkout.samples.find((s) => s.name.endsWith('_count'))!;
      const sum = checkout.samples.find((s) => s.name.endsWith('_sum'))!;
      expect(count.value).toBe(100);
      expect(sum.value).toBeCloseTo(5.05, 6); // seconds
      const buckets = checkout.samples.filter((s) => s.name.endsWith('_bucket')).map((s) => ({ le: Number(s.labels.le === '+Inf' ? Infinity : s.labels.le), count: s.value }));
      expect(buckets.at(-1)).toEqual({ le: Infinity, count: 100 });
      // The median of 1..100 ms lies in the bucket that holds the 50th observation.
      const median = histogramQuantile(0.5, buckets)!;
      const holding = buckets.find((b) => b.count >= 50)!;
      const below = [...buckets].reverse().find((b) => b.count < 50)?.le ?? 0;
      expect(median).toBeGreaterThan(below);
      expect(median).toBeLessThanOrEqual(holding.le);
    } finally {
      await metrics.close();
    }
  });

  it('handles escapes, special values, timestamps, summaries, untyped samples, and skips lines it cannot read', () => {
    const text = [
      '# A comment that is neither HELP nor TYPE',
      '# HELP http_requests_total Requests, by "code" \\\\ and a\\nnew line.',
      '# TYPE http_requests_total counter',
      'http_requests_total{code="200",path="/a\\"b\\\\c\\nd"} 1027 1395066363000',
      'http_requests_total{code="500" , path="/"} 3',
      '',
      '# TYPE rpc_duration_seconds summary',
      'rpc_duration_seconds{quantile="0.5"} 0.012',
      'rpc_duration_seconds{quantile="0.99"} 0.25',
      'rpc_duration_seconds_sum 17.5',
      'rpc_duration_seconds_count 1000',
      '# TYPE temperature gauge',
      'temperature +Inf',
      'temperature{room="b"} -Inf',
      'temperature{room="c"} NaN',
      'untyped_thing 4.5e-3',
      'broken{label="unterminated} 1',
      'no_value_here',
      'bad_value 12abc',
    ].join('\n');
    const { families, skipped } = parsePrometheus(text);
    expect(skipped).toBe(3);
    const [requests, rpc, temperature, untyped] = families;
    expect(requests).toMatchObject({ name: 'http_requests_total', type: 'counter', help: 'Requests, by "code" \\ and a\nnew line.' });
    expect(requests!.samples).toEqual([
      { name: 'http_requests_total', labels: { code: '200', path: '/a"b\\c\nd' }, value: 1027 },
      { name: 'http_requests_total', labels: { code: '500', path: '/' }, value: 3 },
    ]);
    expect(rpc!.type).toBe('summary');
    expect(rpc!.samples.map((s) => [s.name, s.labels.quantile, s.value])).toEqual([
      ['rpc_duration_seconds', '0.5', 0.012],
      ['rpc_duration_seconds', '0.99', 0.25],
      ['rpc_duration_seconds_sum', undefined, 17.5],
      ['rpc_duration_seconds_count', undefined, 1000],
    ]);
    expect(temperature!.samples.map((s) => s.value)).toEqual([Infinity, -Infinity, NaN]);
    expect(untyped).toMatchObject({ name: 'untyped_thing', type: 'untyped', samples: [{ value: 0.0045 }] });
    expect(families).toHaveLength(4);
  });

  it('estimates quantiles from buckets as histogram_quantile does', () => {
    const buckets = [
      { le: 0.1, count: 10 },
      { le: 0.5, count: 60 },
      { le: 1, count: 90 },
      { le: Infinity, count: 100 },
    ];
    expect(histogramQuantile(0.1, buckets)).toBeCloseTo(0.1);
    expect(histogramQuantile(0.5, buckets)).toBeCloseTo(0.1 + 0.4 * (40 / 50));
    expect(histogramQuantile(0.9, buckets)).toBeCloseTo(1);
    // Beyond the last finite bucket, the answer is that bucket's bound.
    expect(histogramQuantile(0.99, buckets)).toBe(1);
    expect(histogramQuantile(0.5, [{ le: Infinity, count: 0 }])).toBeUndefined();
  });
});
