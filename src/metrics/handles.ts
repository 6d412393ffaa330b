import type { CounterSeries, GaugeSeries, HistogramSeries, SetSeries } from './PrometheusRegistry.js';
import type { StatsdSink } from './StatsdSink.js';
import { sanitizeSetMember } from './statsdWire.js';
import type { StatsdLineParts } from './statsdWire.js';
import type { CounterHandle, GaugeHandle, HistogramHandle, SetHandle, TimerHandle } from './types.js';

/**
 * What a handle writes to: the statsd sink with the line parts built once, and the Prometheus series found
 * once. Either may be absent. Recording is then one string concatenation and one field update.
 */
export interface HandleTargets<S> {
  /** The statsd sink, when statsd is on. */
  readonly sink: StatsdSink | undefined;
  /** The line around the value. */
  readonly parts: StatsdLineParts;
  /** The Prometheus series, when Prometheus is on (and the series limit was not reached). */
  readonly series: S | undefined;
}

// Values that are not finite numbers would put "NaN" or "Infinity" on the wire, which statsd servers reject
// or, worse, accept; they are dropped and counted instead.

/** A pre-bound counter. */
export class Counter implements CounterHandle {
  readonly #sink: StatsdSink | undefined;
  readonly #head: string;
  readonly #tail: string;
  readonly #series: CounterSeries | undefined;

  constructor(targets: HandleTargets<CounterSeries>) {
    this.#sink = targets.sink;
    this.#head = targets.parts.head;
    this.#tail = targets.parts.tail;
    this.#series = targets.series;
  }

  increment(value = 1): void {
    if (!Number.isFinite(value)) {
      this.#sink?.drop();
      return;
    }
    this.#sink?.send(this.#head + value + this.#tail);
    this.#series?.add(value);
  }
}

/** A pre-bound timer. */
export class Timer implements TimerHandle {
  readonly #sink: StatsdSink | undefined;
  readonly #head: string;
  readonly #tail: string;
  readonly #series: HistogramSeries | undefined;
  readonly #now: () => number;

  constructor(targets: HandleTargets<HistogramSeries>, now: () => number) {
    this.#sink = targets.sink;
    this.#head = targets.parts.head;
    this.#tail = targets.parts.tail;
    this.#series = targets.series;
    this.#now = now;
  }

  record(ms: number): void {
    if (!Number.isFinite(ms)) {
      this.#sink?.drop();
      return;
    }
    this.#sink?.send(this.#head + ms + this.#tail);
    // Prometheus' base unit of time is the second.
    this.#series?.observe(ms / 1000);
  }

  time<T>(fn: () => T): T {
    const started = this.#now();
    try {
      return fn();
    } finally {
      this.record(this.#now() - started);
    }
  }

  async timeAsync<T>(fn: () => PromiseLike<T>): Promise<T> {
    const started = this.#now();
    try {
      return await fn();
    } finally {
      this.record(this.#now() - started);
    }
  }

  start(): () => number {
    const started = this.#now();
    return () => {
      const elapsed = this.#now() - started;
      this.record(elapsed);
      return elapsed;
    };
  }
}

/** A pre-bound gauge. */
export class Gauge implements GaugeHandle {
  readonly #sink: StatsdSink | undefined;
  readonly #head: string;
  readonly #tail: string;
  readonly #series: GaugeSeries | undefined;

  constructor(targets: HandleTargets<GaugeSeries>) {
    this.#sink = targets.sink;
    this.#head = targets.parts.head;
    this.#tail = targets.parts.tail;
    this.#series = targets.series;
  }

  set(value: number): void {
    if (!Number.isFinite(value)) {
      this.#sink?.drop();
      return;
    }
    const sink = this.#sink;
    if (sink !== undefined) {
      // statsd reads a signed gauge value as a delta: a negative value is set by going through zero.
      if (value < 0) sink.send(`${this.#head}0${this.#tail}`);
      sink.send(this.#head + value + this.#tail);
    }
    if (this.#series !== undefined) this.#series.value = value;
  }

  add(delta: number): void {
    if (!Number.isFinite(delta)) {
      this.#sink?.drop();
      return;
    }
    this.#sink?.send(delta < 0 ? this.#head + delta + this.#tail : `${this.#head}+${delta}${this.#tail}`);
    if (this.#series !== undefined) this.#series.value += delta;
  }
}

/** A pre-bound histogram or distribution. */
export class Histogram implements HistogramHandle {
  readonly #sink: StatsdSink | undefined;
  readonly #head: string;
  readonly #tail: string;
  readonly #series: HistogramSeries | undefined;

  constructor(targets: HandleTargets<HistogramSeries>) {
    this.#sink = targets.sink;
    this.#head = targets.parts.head;
    this.#tail = targets.parts.tail;
    this.#series = targets.series;
  }

  record(value: number): void {
    if (!Number.isFinite(value)) {
      this.#sink?.drop();
      return;
    }
    this.#sink?.send(this.#head + value + this.#tail);
    this.#series?.observe(value);
  }
}

/** A pre-bound set. */
export class UniqueSet implements SetHandle {
  readonly #sink: StatsdSink | undefined;
  readonly #head: string;
  readonly #tail: string;
  readonly #series: SetSeries | undefined;

  constructor(targets: HandleTargets<SetSeries>) {
    this.#sink = targets.sink;
    this.#head = targets.parts.head;
    this.#tail = targets.parts.tail;
    this.#series = targets.series;
  }

  add(member: string | number): void {
    if (typeof member === 'number' ? !Number.isFinite(member) : typeof member !== 'string') {
      this.#sink?.drop();
      return;
    }
    this.#sink?.send(this.#head + sanitizeSetMember(member) + this.#tail);
    this.#series?.add(String(member));
  }
}
