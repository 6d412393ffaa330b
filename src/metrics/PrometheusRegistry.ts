import type { Clock } from '../common/Clock.js';
import { systemClock } from '../common/Clock.js';
import { KaryonError } from '../common/KaryonError.js';
import type { Logger } from '../common/Logger.js';
import { silentLogger } from '../common/Logger.js';
import type { ResolvedPrometheusOptions } from './MetricsOptions.js';
import { resolveBuckets } from './MetricsOptions.js';
import {
  escapeHelp,
  escapeLabelValue,
  formatSampleValue,
  prometheusContentType,
  prometheusLabelName,
  prometheusMetricName,
} from './prometheusText.js';
import type { MetricType, PrometheusExposition, MetricTags } from './types.js';

/** Most distinct members a set series keeps per window; beyond it the count stops growing. */
const maxSetMembers = 10_000;

/** A counter series: only ever goes up. */
export class CounterSeries {
  /** The running total. */
  value = 0;
  /** Adds a non-negative amount; Prometheus counters never go down, so negative amounts are ignored. */
  add(amount: number): void {
    if (amount >= 0) this.value += amount;
  }
}

/** A gauge series: the last value set, moved by deltas. */
export class GaugeSeries {
  /** The current value. */
  value = 0;
}

/** A histogram series with fixed buckets. */
export class HistogramSeries {
  readonly #bounds: readonly number[];
  /** Observations per bucket (not cumulative); the last slot is the +Inf bucket. */
  readonly counts: number[];
  /** Sum of observations. */
  sum = 0;
  /** Number of observations. */
  count = 0;

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds;
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  /** Records one value. */
  observe(value: number): void {
    const bounds = this.#bounds;
    let i = 0;
    // Linear: a dozen buckets, and most values fall in the first few.
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += value;
    this.count++;
  }
}

/** A set series: distinct members over a tumbling window, rotated lazily (no timer). */
export class SetSeries {
  readonly #clock: Clock;
  readonly #windowMs: number;
  #members = new Set<string>();
  #windowStart: number;
  #lastCount: number | undefined;

  constructor(clock: Clock, windowMs: number) {
    this.#clock = clock;
    this.#windowMs = windowMs;
    this.#windowStart = clock.now();
  }

  /** Records one member. */
  add(member: string): void {
    this.#rotate();
    if (this.#members.size < maxSetMembers) this.#members.add(member);
  }

  /** The distinct count of the last complete window, or of the current one before any completed. */
  get value(): number {
    this.#rotate();
    return this.#lastCount ?? this.#members.size;
  }

  #rotate(): void {
    const elapsed = this.#clock.now() - this.#windowStart;
    if (elapsed < this.#windowMs) return;
    const windows = Math.floor(elapsed / this.#windowMs);
    // More than one window passed: the last complete one saw nothing.
    this.#lastCount = windows === 1 ? this.#members.size : 0;
    this.#members = new Set();
    this.#windowStart += windows * this.#windowMs;
  }
}

/** Any series. */
export type PrometheusSeries = CounterSeries | GaugeSeries | HistogramSeries | SetSeries;

/** The series type of each metric type. */
export interface PrometheusSeriesOf {
  /** Counters. */
  counter: CounterSeries;
  /** Timers (observed in seconds). */
  timer: HistogramSeries;
  /** Gauges. */
  gauge: GaugeSeries;
  /** Histograms. */
  histogram: HistogramSeries;
  /** Distributions. */
  distribution: HistogramSeries;
  /** Sets. */
  set: SetSeries;
}

type PrometheusType = 'counter' | 'gauge' | 'histogram';

interface Family {
  readonly name: string;
  readonly metricType: MetricType;
  readonly promType: PrometheusType;
  readonly help: string;
  readonly bounds: readonly number[];
  /** The `le` label text of each bound, built once. */
  readonly le: readonly string[];
  /** Series by their rendered label pairs (`a="x",b="y"`, sorted by name). */
  readonly series: Map<string, PrometheusSeries>;
}

/** The Prometheus type and name suffix a metric type maps to. */
function mapping(type: MetricType): { readonly promType: PrometheusType; readonly suffix: string } {
  switch (type) {
    case 'counter':
      return { promType: 'counter', suffix: '_total' };
    case 'timer':
      return { promType: 'histogram', suffix: '_seconds' };
    case 'gauge':
    case 'set':
      return { promType: 'gauge', suffix: '' };
    case 'histogram':
    case 'distribution':
      return { promType: 'histogram', suffix: '' };
  }
}

/** Options of one family, given by whoever registers it first. */
export interface PrometheusFamilyOptions {
  /** `# HELP` text. */
  readonly help?: string | undefined;
  /** Histogram bucket bounds. */
  readonly buckets?: readonly number[] | undefined;
}

/**
 * The in-process aggregation behind the Prometheus exposition: counters summed, gauges last value, timers
 * and histograms in fixed buckets, sets as distinct counts per window. Names map from statsd names:
 * dots become underscores, counters end in `_total`, timers are histograms in seconds ending in `_seconds`.
 */
export class PrometheusRegistry implements PrometheusExposition {
  /** The `Content-Type` of the text format 0.0.4. */
  readonly contentType = prometheusContentType;
  readonly #options: ResolvedPrometheusOptions;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #families = new Map<string, Family>();
  /** Families by metric type and statsd name, so one-shot records skip the name mapping. */
  readonly #byStatsdName = new Map<MetricType, Map<string, Family>>();
  #seriesCount = 0;
  #dropped = 0;
  #warnedFull = false;

  constructor(options: ResolvedPrometheusOptions, deps: { clock?: Clock; logger?: Logger } = {}) {
    this.#options = options;
    this.#clock = deps.clock ?? systemClock;
    this.#logger = deps.logger ?? silentLogger;
  }

  /** Number of series. */
  get seriesCount(): number {
    return this.#seriesCount;
  }

  /** Records ignored: over the series limit, or a name already used with another type. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Counts a record that was ignored by the caller (e.g. after a type conflict in a one-shot call). */
  drop(): void {
    this.#dropped++;
  }

  /**
   * The series of a metric with these labels, created on first use. Returns undefined (and counts a drop)
   * once the series limit is reached.
   * @throws KaryonError ERR_INVALID_OPTION when the Prometheus name is already used by a metric of another type.
   */
  series<T extends MetricType>(statsdName: string, type: T, labels: MetricTags, options: PrometheusFamilyOptions = {}): PrometheusSeriesOf[T] | undefined {
    const family = this.#family(statsdName, type, options);
    const key = labelPairs(labels, family.promType === 'histogram');
    const existing = family.series.get(key);
    if (existing !== undefined) return existing as PrometheusSeriesOf[T];
    if (this.#seriesCount >= this.#options.maxSeries) {
      this.#dropped++;
      if (!this.#warnedFull) {
        this.#warnedFull = true;
        this.#logger.warn('Prometheus series limit reached; records of new series are ignored', {
          maxSeries: this.#options.maxSeries,
          metric: family.name,
        });
      }
      return undefined;
    }
    const created = this.#newSeries(family);
    family.series.set(key, created);
    this.#seriesCount++;
    return created as PrometheusSeriesOf[T];
  }

  /** Renders every family in the text exposition format 0.0.4, families and series in creation order. */
  render(): string {
    const out: string[] = [];
    for (const family of this.#families.values()) {
      if (family.series.size === 0) continue;
      out.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.promType}`);
      for (const [pairs, series] of family.series) {
        if (series instanceof HistogramSeries) {
          const sep = pairs === '' ? '' : ',';
          let cumulative = 0;
          for (let i = 0; i < family.le.length; i++) {
            cumulative += series.counts[i] as number;
            out.push(`${family.name}_bucket{${pairs}${sep}le="${family.le[i] as string}"} ${cumulative}`);
          }
          const braces = pairs === '' ? '' : `{${pairs}}`;
          out.push(`${family.name}_sum${braces} ${formatSampleValue(series.sum)}`, `${family.name}_count${braces} ${series.count}`);
        } else {
          out.push(`${family.name}${pairs === '' ? '' : `{${pairs}}`} ${formatSampleValue(series.value)}`);
        }
      }
    }
    return out.length === 0 ? '' : `${out.join('\n')}\n`;
  }

  #family(statsdName: string, type: MetricType, options: PrometheusFamilyOptions): Family {
    let byName = this.#byStatsdName.get(type);
    const known = byName?.get(statsdName);
    if (known !== undefined) return known;
    const { promType, suffix } = mapping(type);
    const base = prometheusMetricName(statsdName);
    const name = suffix === '' || base.endsWith(suffix) ? base : `${base}${suffix}`;
    let family = this.#families.get(name);
    if (family === undefined) {
      const bounds =
        promType === 'histogram'
          ? resolveBuckets(
              `${statsdName}.buckets`,
              options.buckets,
              type === 'timer' ? this.#options.timerBuckets : this.#options.histogramBuckets,
            )
          : [];
      family = {
        name,
        metricType: type,
        promType,
        help: options.help !== undefined && options.help.trim() !== '' ? options.help : `${type} ${statsdName}`,
        bounds,
        le: promType === 'histogram' ? [...bounds.map(formatSampleValue), '+Inf'] : [],
        series: new Map(),
      };
      this.#families.set(name, family);
    } else if (!compatible(family.metricType, type)) {
      throw new KaryonError(
        'ERR_INVALID_OPTION',
        `metric '${statsdName}' cannot be a ${type}: its Prometheus name '${name}' is already a ${family.metricType}`,
      );
    }
    if (byName === undefined) {
      byName = new Map();
      this.#byStatsdName.set(type, byName);
    }
    byName.set(statsdName, family);
    return family;
  }

  #newSeries(family: Family): PrometheusSeries {
    switch (family.metricType) {
      case 'counter':
        return new CounterSeries();
      case 'gauge':
        return new GaugeSeries();
      case 'set':
        return new SetSeries(this.#clock, this.#options.setWindowMs);
      case 'timer':
      case 'histogram':
      case 'distribution':
        return new HistogramSeries(family.bounds);
    }
  }
}

/** Histograms and distributions are the same thing to Prometheus; everything else must match exactly. */
function compatible(a: MetricType, b: MetricType): boolean {
  if (a === b) return true;
  const histogramLike = (t: MetricType): boolean => t === 'histogram' || t === 'distribution';
  return histogramLike(a) && histogramLike(b);
}

/**
 * Renders labels as sorted `name="value"` pairs: the series key and its text at once. Empty values are left
 * out (Prometheus treats them as absent); names that sanitise alike keep the last value; on histograms a
 * tag named `le` is renamed `exported_le`, as Prometheus does with clashing labels.
 */
function labelPairs(labels: MetricTags, histogram: boolean): string {
  const byName = new Map<string, string>();
  for (const [key, value] of Object.entries(labels)) {
    const text = String(value);
    if (text === '') continue;
    let name = prometheusLabelName(key);
    if (histogram && name === 'le') name = 'exported_le';
    byName.set(name, text);
  }
  if (byName.size === 0) return '';
  return [...byName.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}="${escapeLabelValue(value)}"`)
    .join(',');
}
