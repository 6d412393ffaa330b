// How fresh a Eureka client's view is (ServiceRegistry.watchFetches): its last fetch, its last success and its
// last hash mismatch, followed from its events, for the admin API's `GET /registry`.
import type { EventEmitter } from 'eventemitter3';
import type { Clock } from '../../common/Clock.js';
import type { HashMismatchEvent, RegistryFetchReport, RegistryFetchView, RegistryFetchWatch } from '../types.js';
import type { EurekaRegistryEvents, FetchEvent } from './EurekaRegistryEvents.js';

/** The parts of a Eureka client the watch uses (the client's own class would make an import cycle). */
export interface FetchWatchSource {
  /** Subscribes to the client's events. */
  on: EventEmitter<EurekaRegistryEvents>['on'];
  /** Unsubscribes from the client's events. */
  off: EventEmitter<EurekaRegistryEvents>['off'];
  /** What refreshes fetch. */
  readonly fetchMode: RegistryFetchReport['mode'];
}

/** Follows the fetches of `registry` from now on, stamped by `clock`. */
export function watchFetches(registry: FetchWatchSource, clock: Clock): RegistryFetchWatch {
  let last: RegistryFetchView | undefined;
  let lastSuccessAt: number | undefined;
  let lastHashMismatch: (HashMismatchEvent & { at: number }) | undefined;
  const onFetch = (event: FetchEvent): void => {
    const at = clock.now();
    last = {
      at,
      kind: event.kind,
      reason: event.reason,
      ok: event.ok,
      statusCode: event.statusCode,
      durationMs: event.durationMs,
      serviceUrl: event.serviceUrl,
      // A mismatch is told right after its delta's fetch event: matched until then.
      hashMatched: event.ok && event.kind === 'delta' ? true : undefined,
      error: event.error,
    };
    if (event.ok) lastSuccessAt = at;
  };
  const onHashMismatch = (event: HashMismatchEvent): void => {
    lastHashMismatch = { ...event, at: clock.now() };
    if (last?.kind === 'delta') last = { ...last, hashMatched: false };
  };
  registry.on('fetch', onFetch).on('hashMismatch', onHashMismatch);
  return {
    report: () => ({ mode: registry.fetchMode, last, lastSuccessAt, lastHashMismatch }),
    close: () => {
      registry.off('fetch', onFetch).off('hashMismatch', onHashMismatch);
    },
  };
}
