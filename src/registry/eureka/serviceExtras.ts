// What a Eureka client adds to a service that uses it (ServiceRegistry.serviceExtras): the built-in registry
// metrics, the live heartbeat and fetch intervals, and whether a cancel reached a server. Wired in by the client
// itself, so the lifecycle depends on the ServiceRegistry seam alone.
import type { EventEmitter } from 'eventemitter3';
import { registryMetrics, statusClass } from '../../metrics/builtin.js';
import type { Metrics } from '../../metrics/types.js';
import type { InstanceStatus, RegistryServiceExtras } from '../types.js';
import type { EurekaRegistryEvents, FetchEvent, HeartbeatEvent, RegistrationEvent } from './EurekaRegistryEvents.js';
import type { ProtectedApp } from './ViewGuard.js';

/** The parts of a Eureka client its extras use (the client's own class would make an import cycle). */
export interface EurekaExtrasSource {
  /** Subscribes to the client's events. */
  on: EventEmitter<EurekaRegistryEvents>['on'];
  /** Unsubscribes from the client's events. */
  off: EventEmitter<EurekaRegistryEvents>['off'];
  /** How many known instances have each status. */
  statusCounts(): ReadonlyMap<InstanceStatus, number>;
  /** The applications whose last good view is kept. */
  readonly protectedApps: readonly ProtectedApp[];
  /** Changes the heartbeat and fetch intervals. */
  setIntervals(intervals: { readonly heartbeatIntervalMs?: number; readonly registryFetchIntervalMs?: number }): void;
}

/** The extras of a Eureka client, reporting through `metrics`. */
export function eurekaServiceExtras(registry: EurekaExtrasSource, metrics: Metrics): RegistryServiceExtras {
  const stopMetrics = reportRegistryMetrics(registry, metrics);
  let closed = false;
  return {
    liveSettings: {
      'eureka.heartbeatIntervalMs': (ms) => registry.setIntervals({ heartbeatIntervalMs: ms as number }),
      'eureka.registryFetchIntervalMs': (ms) => registry.setIntervals({ registryFetchIntervalMs: ms as number }),
    },
    watchDeregistration: (instanceId) => watchCancel(registry, instanceId),
    close: () => {
      if (closed) return;
      closed = true;
      stopMetrics();
    },
  };
}

/**
 * Why a heartbeat failed, as a metric tag of few values: `network` (no server answered: refused, reset or
 * timed out), `not_found` (404: the server lost the lease; the instance re-registers), `http_4xx`, `http_5xx`.
 */
function heartbeatFailureReason(statusCode: number | undefined): string {
  if (statusCode === undefined) return 'network';
  return statusCode === 404 ? 'not_found' : `http_${statusClass(statusCode)}`;
}

/** Reports a Eureka client's heartbeats, fetches and cache as the built-in registry metrics; returns the unsubscriber. */
function reportRegistryMetrics(registry: EurekaExtrasSource, metrics: Metrics): () => void {
  const report = registryMetrics(metrics);
  const onHeartbeat = (event: HeartbeatEvent): void => {
    if (event.ok) report.heartbeat(event.durationMs);
    else report.heartbeatFailure(event.durationMs, heartbeatFailureReason(event.statusCode));
  };
  const onFetch = (event: FetchEvent): void => {
    report.fetch(event.kind, event.ok ? 'success' : 'failure', event.durationMs);
    if (event.ok) {
      report.instances(Object.fromEntries(registry.statusCounts()));
      report.protectedApps(registry.protectedApps.length);
    }
  };
  const onHashMismatch = (): void => report.hashMismatch();
  registry.on('heartbeat', onHeartbeat);
  registry.on('fetch', onFetch);
  registry.on('hashMismatch', onHashMismatch);
  return () => {
    registry.off('heartbeat', onHeartbeat);
    registry.off('fetch', onFetch);
    registry.off('hashMismatch', onHashMismatch);
  };
}

/**
 * Follows the cancels of one instance: the returned function says why the last one failed (undefined when it
 * succeeded or none finished) and stops following.
 */
function watchCancel(registry: EurekaExtrasSource, instanceId: string): () => string | undefined {
  let failure: string | undefined;
  const onRegistration = (event: RegistrationEvent): void => {
    if (event.operation !== 'cancel' || event.instanceId !== instanceId) return;
    failure = event.ok ? undefined : (event.error ?? `HTTP ${event.statusCode ?? 'no answer'}`);
  };
  registry.on('registration', onRegistration);
  return () => {
    registry.off('registration', onRegistration);
    return failure;
  };
}
