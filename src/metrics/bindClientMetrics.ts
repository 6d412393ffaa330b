import type { EventEmitter } from 'eventemitter3';
import { statusClass } from '../common/ServiceClientEvents.js';
import type { ClientMetrics, ServiceClientEvents } from '../common/ServiceClientEvents.js';

/** What {@link bindClientMetrics} listens to: a `ServiceClient`, or anything emitting its events. */
export type ClientEventSource = Pick<EventEmitter<ServiceClientEvents>, 'on' | 'off'>;

/**
 * Reports a service client's events as the built-in client metrics: calls by outcome and status class with
 * their latency, retries, retries the budget refused, hedges, ejections and each instance's traffic. A
 * service does this for every client it makes; a client made with `createServiceClient` reports nothing until
 * bound. Returns a function that stops reporting.
 *
 * @example
 * ```ts
 * const client = createServiceClient({ registry, vip: 'greeter' });
 * const unbind = bindClientMetrics(client, clientMetrics(metrics));
 * ```
 */
export function bindClientMetrics(client: ClientEventSource, family: ClientMetrics): () => void {
  const listeners: { readonly [K in keyof ServiceClientEvents]: (...args: ServiceClientEvents[K]) => void } = {
    call: (e) => family.request(e.vip, e.outcome, statusClass(e.statusCode), e.durationMs),
    retry: (e) => family.retry(e.vip),
    retryBudgetExhausted: (e) => family.retryBudgetExhausted(e.vip),
    hedge: (e) => family.hedge(e.vip),
    ejection: (e) => family.ejection(e.vip),
    instanceTraffic: (e) => family.instance?.(e.vip, e.instanceId, e.share, e.errorRate, e.cost),
  };
  const names = Object.keys(listeners) as (keyof ServiceClientEvents)[];
  for (const name of names) client.on(name, listeners[name] as never);
  return () => {
    for (const name of names) client.off(name, listeners[name] as never);
  };
}
