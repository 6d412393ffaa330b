import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../common/Clock.js';
import { systemClock } from '../common/Clock.js';
import { sendJson } from '../internal/http.js';
import type { ProtectedApp, RegistryFetchReport, RegistryInstance, ServiceRegistry } from '../registry/types.js';

// Declared with the registry seam, whose fetch report carries it; re-exported under the admin API's names.
export type { RegistryFetchView } from '../registry/types.js';

/** Anything that takes routes as the admin server does (`AdminServer` fits it as it is). */
export interface RegistryRouteTarget {
  /** Adds a route. */
  route(method: string, path: string, handler: (req: IncomingMessage, res: ServerResponse) => unknown): unknown;
}

/** One instance as `GET /registry` shows it. */
export interface RegistryInstanceView {
  /** The instance id. */
  readonly instanceId: string;
  /** The status clients act on (an operator override included). */
  readonly status: string;
  /** The operator override, or `UNKNOWN` when there is none. */
  readonly overriddenStatus: string;
  /** The availability zone. */
  readonly zone: string;
  /** The VIP address (a comma-separated list is allowed). */
  readonly vipAddress: string;
  /** The IP address clients use. */
  readonly ipAddr: string;
  /** The host name clients use. */
  readonly hostName: string;
  /** The plain HTTP port. */
  readonly port: number;
  /** When the registry last changed the record (epoch ms). */
  readonly lastUpdatedTimestamp: number;
  /** The instance's status page (its admin `/status` for karyon-ts services), so a UI can link to its console. */
  readonly statusPageUrl: string;
}

/** One application as `GET /registry` shows it. */
export interface RegistryAppView {
  /** The application name, as the registry stores it (upper-case for Eureka). */
  readonly name: string;
  /** Its instances, by instance id. */
  readonly instances: readonly RegistryInstanceView[];
  /**
   * Present while the registry lists too few of the app's instances and the client keeps its last good view
   * (a registry that restarted empty): how many were held, how many the registry lists, and since when.
   */
  readonly protected?: {
    /** Instances held when the protection began. */
    readonly held: number;
    /** Instances the registry listed in its last full answer. */
    readonly listed: number;
    /** When the protection began (epoch ms). */
    readonly since: number;
  };
}

/** What `GET /registry` answers: every application and instance the service's registry knows, of any status. */
export interface RegistryReport {
  /** The applications, by name. */
  readonly apps: readonly RegistryAppView[];
  /**
   * The registry's fetches from its server (a Eureka client): the last one, and when one last succeeded.
   * Undefined for a registry that does not fetch (in memory): its view is always current.
   */
  readonly fetch?: RegistryFetchReport;
}

/** Options of {@link registryAdminRoutes}. */
export interface RegistryAdminRoutesOptions {
  /**
   * Stamps the fetches shown.
   * @default systemClock
   */
  readonly clock?: Clock;
}

/** What {@link registryAdminRoutes} added; close it when the service stops. */
export interface RegistryAdminRoutes {
  /** Stops following the registry (only registries without `instances()` are followed). Idempotent. */
  close(): Promise<void>;
  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Builds the `GET /registry` answer from a list of instances: grouped by app, sorted by name and id, with the
 * apps whose last good view is kept marked.
 */
export function registryReport(instances: Iterable<RegistryInstance>, protectedApps: readonly ProtectedApp[] = []): RegistryReport {
  const byApp = new Map<string, RegistryInstanceView[]>();
  for (const instance of instances) {
    let list = byApp.get(instance.app);
    if (list === undefined) byApp.set(instance.app, (list = []));
    list.push({
      instanceId: instance.instanceId,
      status: instance.status,
      overriddenStatus: instance.overriddenStatus,
      zone: instance.zone,
      vipAddress: instance.vipAddress,
      ipAddr: instance.ipAddr,
      hostName: instance.hostName,
      port: instance.port,
      lastUpdatedTimestamp: instance.lastUpdatedTimestamp,
      statusPageUrl: instance.statusPageUrl,
    });
  }
  const apps = [...byApp]
    .sort(([a], [b]) => compare(a, b))
    .map(([name, list]): RegistryAppView => {
      const kept = protectedApps.find((entry) => entry.app === name);
      const sorted = list.sort((a, b) => compare(a.instanceId, b.instanceId));
      return kept === undefined ? { name, instances: sorted } : { name, instances: sorted, protected: { held: kept.held, listed: kept.listed, since: kept.since } };
    });
  return { apps };
}

/**
 * Adds `GET /registry` to the admin server: every application and instance the service's registry knows, of
 * any status, as the discovery page of the web UI shows them.
 *
 * The {@link ServiceRegistry} interface reads by app or VIP only, so the full list comes from the registry's
 * `instances()` when it has one (the in-memory registry and the Eureka client both do); any other registry is
 * followed through its change events from this call on.
 *
 * @example
 * ```ts
 * const routes = registryAdminRoutes(service.admin, service.registry);
 * // on shutdown:
 * await routes.close();
 * ```
 */
export function registryAdminRoutes(target: RegistryRouteTarget, registry: ServiceRegistry, options: RegistryAdminRoutesOptions = {}): RegistryAdminRoutes {
  const list = listingOf(registry);
  // Only a registry that fetches from a server has fetches to show: it says so by offering the watch.
  const fetches = registry.watchFetches?.(options.clock ?? systemClock);
  target.route('GET', '/registry', (_req, res) => {
    const report = registryReport(list.instances(), registry.protectedApps ?? []);
    sendJson(res, 200, fetches === undefined ? report : { ...report, fetch: fetches.report() });
  });
  const close = (): Promise<void> => {
    list.close();
    fetches?.close();
    return Promise.resolve();
  };
  return { close, [Symbol.asyncDispose]: close };
}

interface Listing {
  instances(): Iterable<RegistryInstance>;
  close(): void;
}

/** A way to list every instance a registry knows, whatever the implementation offers. */
function listingOf(registry: ServiceRegistry): Listing {
  if (registry.instances !== undefined) return { instances: () => registry.instances?.() ?? [], close: () => undefined };
  const known = new Map<string, RegistryInstance>();
  let unsubscribe: (() => void) | undefined = registry.onChange((change) => {
    for (const instance of change.removed) known.delete(instance.instanceId);
    for (const instance of change.added) known.set(instance.instanceId, instance);
    for (const { current } of change.modified) known.set(current.instanceId, current);
  });
  return {
    instances: () => known.values(),
    close: () => {
      unsubscribe?.();
      unsubscribe = undefined;
    },
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
