import type { CounterHandle, GaugeHandle, HistogramHandle, Metrics, MetricsStats, SetHandle, TimerHandle } from './types.js';

const nothing = (): void => undefined;

const counter: CounterHandle = Object.freeze({ increment: nothing });
const gauge: GaugeHandle = Object.freeze({ set: nothing, add: nothing });
const histogram: HistogramHandle = Object.freeze({ record: nothing });
const set: SetHandle = Object.freeze({ add: nothing });
const stopwatch = (): number => 0;
const timer: TimerHandle = Object.freeze({
  record: nothing,
  time: <T>(fn: () => T): T => fn(),
  timeAsync: async <T>(fn: () => PromiseLike<T>): Promise<T> => fn(),
  start: () => stopwatch,
});
const stats: MetricsStats = Object.freeze({ sent: 0, dropped: 0, errors: 0, prometheusSeries: 0, prometheusDropped: 0 });

/**
 * Metrics that record nothing, for when neither statsd nor Prometheus is configured. Every handle is a shared
 * frozen object with empty methods, so instrumented code costs a call and nothing else.
 */
export const noopMetrics: Metrics = Object.freeze({
  enabled: false,
  prometheus: undefined,
  counter: () => counter,
  timer: () => timer,
  gauge: ((_name: string, value?: unknown) => (typeof value === 'number' ? undefined : gauge)) as Metrics['gauge'],
  histogram: ((_name: string, value?: unknown) => (typeof value === 'number' ? undefined : histogram)) as Metrics['histogram'],
  distribution: ((_name: string, value?: unknown) => (typeof value === 'number' ? undefined : histogram)) as Metrics['distribution'],
  set: () => set,
  increment: nothing,
  timing: nothing,
  unique: nothing,
  time: <T>(_name: string, fn: () => T): T => fn(),
  timeAsync: async <T>(_name: string, fn: () => PromiseLike<T>): Promise<T> => fn(),
  scope: (): Metrics => noopMetrics,
  flush: () => Promise.resolve(),
  close: () => Promise.resolve(),
  [Symbol.asyncDispose]: () => Promise.resolve(),
  stats: () => stats,
});
