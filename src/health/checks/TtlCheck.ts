import type { Clock } from '../../common/Clock.js';
import { systemClock } from '../../common/Clock.js';
import { durationMs, invalidOption } from '../../internal/validate.js';
import type { HealthCheckFunction, HealthResult } from '../types.js';
import { DEFAULT_MAX_OUTPUT_BYTES } from './output.js';

/** The statuses an application reports to a TTL check, as Consul names them. */
export type TtlStatus = 'passing' | 'warning' | 'critical';

/** Options of {@link TtlCheck}. */
export interface TtlCheckOptions {
  /** How long a report holds, in ms: with no new report within it, the check turns critical. */
  readonly ttlMs: number;
  /**
   * Time source.
   * @default systemClock
   */
  readonly clock?: Clock;
}

/** The last report a {@link TtlCheck} received. */
export interface TtlReport {
  /** What the application said. */
  readonly status: TtlStatus;
  /** Its note (Consul's `output`). */
  readonly output: string;
  /** When (epoch ms). */
  readonly at: number;
}

const toResult: Readonly<Record<TtlStatus, HealthResult['status']>> = { passing: 'UP', warning: 'WARN', critical: 'DOWN' };

/**
 * A Consul-style TTL check: the application reports its own state (`pass()`, `warn()`, `fail()`, or over HTTP
 * through the sidecar) and the check turns critical when no report came within `ttlMs`. Until the first
 * report it is critical, as in Consul, so a readiness TTL check keeps an instance out of traffic until the
 * application first says it is ready. Add its `check` function to a service: it reads the last report and
 * the clock, nothing more.
 * @throws KaryonError ERR_INVALID_OPTION when `ttlMs` is not a positive number of milliseconds.
 *
 * @example
 * ```ts
 * const heartbeat = new TtlCheck({ ttlMs: 30_000 });
 * service.addHealthCheck('worker', heartbeat.check, { intervalMs: 1_000 });
 * setInterval(() => heartbeat.pass('queue drained'), 10_000);
 * ```
 */
export class TtlCheck {
  /** How long a report holds, in ms. */
  readonly ttlMs: number;
  readonly #clock: Clock;
  #last: TtlReport | undefined;

  constructor(options: TtlCheckOptions) {
    if (typeof options !== 'object' || options === null) invalidOption('TtlCheck', 'an options object', options);
    this.ttlMs = durationMs('ttlMs', options.ttlMs, NaN);
    if (!(this.ttlMs > 0)) invalidOption('ttlMs', 'a positive number of milliseconds', options.ttlMs);
    this.#clock = options.clock ?? systemClock;
  }

  /** The last report, or undefined before the first. */
  get last(): TtlReport | undefined {
    return this.#last;
  }

  /** Records a report. The output is cut to 4096 bytes, as Consul does. */
  update(status: TtlStatus, output = ''): void {
    if (status !== 'passing' && status !== 'warning' && status !== 'critical') {
      invalidOption('status', "'passing', 'warning' or 'critical'", status);
    }
    const text = typeof output === 'string' ? output : String(output);
    const cut = Buffer.byteLength(text) > DEFAULT_MAX_OUTPUT_BYTES ? Buffer.from(text).subarray(0, DEFAULT_MAX_OUTPUT_BYTES).toString('utf8') : text;
    this.#last = { status, output: cut, at: this.#clock.now() };
  }

  /** Reports passing. */
  pass(output?: string): void {
    this.update('passing', output);
  }

  /** Reports warning. */
  warn(output?: string): void {
    this.update('warning', output);
  }

  /** Reports critical. */
  fail(output?: string): void {
    this.update('critical', output);
  }

  /** The health check function: the last report while it is younger than `ttlMs`, else DOWN. */
  readonly check: HealthCheckFunction = (): HealthResult => {
    const last = this.#last;
    if (last === undefined) return { status: 'DOWN', details: { output: 'TTL check has not been reported yet' } };
    const ageMs = this.#clock.now() - last.at;
    if (ageMs > this.ttlMs) {
      return { status: 'DOWN', details: { output: `TTL expired: last report ${ageMs} ms ago (ttl ${this.ttlMs} ms): ${last.output}`, ageMs } };
    }
    return { status: toResult[last.status], details: { output: last.output, ageMs } };
  };
}
