import type { EventEmitter } from 'eventemitter3';
import type { ShadowMetrics, ShadowTrafficEvents } from '../common/ShadowTrafficEvents.js';

/** What {@link bindShadowMetrics} listens to: a `ShadowTraffic`, or anything emitting its events. */
export type ShadowEventSource = Pick<EventEmitter<ShadowTrafficEvents>, 'on' | 'off'>;

/**
 * Reports shadow traffic's events as the built-in shadow metrics: copies by outcome, skips, comparisons and
 * the copies' latency. A service does this for the shadow traffic it makes. Returns a function that stops
 * reporting.
 *
 * @example
 * ```ts
 * const shadow = createShadowTraffic({ registry, vip: 'greeter-next', rate: 0.2 });
 * const unbind = bindShadowMetrics(shadow, shadowMetrics(metrics));
 * ```
 */
export function bindShadowMetrics(shadow: ShadowEventSource, family: ShadowMetrics): () => void {
  const listeners: { readonly [K in keyof ShadowTrafficEvents]: (...args: ShadowTrafficEvents[K]) => void } = {
    copy: (e) => family.copy(e.vip, e.outcome),
    answer: (e) => family.latency(e.vip, e.durationMs),
    skip: (e) => family.skipped(e.reason),
    comparison: (e) => family.comparison(e.vip, e.result),
  };
  const names = Object.keys(listeners) as (keyof ShadowTrafficEvents)[];
  for (const name of names) shadow.on(name, listeners[name] as never);
  return () => {
    for (const name of names) shadow.off(name, listeners[name] as never);
  };
}
