import type { Clock } from '../common/Clock.js';
import type { AutoFetchState } from './eureka/AutoFetchMode.js';
import type { Metrics } from '../metrics/types.js';

/** The statuses an instance has in a registry: Eureka's `InstanceStatus`. */
export const InstanceStatus = {
  /** Ready for traffic. */
  UP: 'UP',
  /** Running but unhealthy: no traffic. */
  DOWN: 'DOWN',
  /** Initializing: no traffic yet. */
  STARTING: 'STARTING',
  /** Taken out of traffic by an operator (Eureka's override). */
  OUT_OF_SERVICE: 'OUT_OF_SERVICE',
  /** Not known; also what unknown status strings become. */
  UNKNOWN: 'UNKNOWN',
} as const;

/** A registry status. */
export type InstanceStatus = (typeof InstanceStatus)[keyof typeof InstanceStatus];

const knownStatuses = new Set<string>(Object.values(InstanceStatus));

/** Maps any string to a status; unknown strings become `UNKNOWN`, as Eureka servers do. */
export function toInstanceStatus(value: unknown): InstanceStatus {
  return typeof value === 'string' && knownStatuses.has(value) ? (value as InstanceStatus) : InstanceStatus.UNKNOWN;
}

/** What a service tells a registry about itself when it registers. */
export interface InstanceDescriptor {
  /** Unique id of the instance; by default `host:app:port`. */
  readonly instanceId: string;
  /** Application name, upper-cased as Eureka stores it. */
  readonly app: string;
  /** Virtual address clients look the service up by; a comma-separated list is allowed. */
  readonly vipAddress: string;
  /** Secure virtual address; defaults to `vipAddress`. */
  readonly secureVipAddress: string;
  /** Host name clients should use. */
  readonly hostName: string;
  /** IP address clients should use. */
  readonly ipAddr: string;
  /** Plain HTTP port. */
  readonly port: number;
  /** Whether the plain port is enabled. */
  readonly portEnabled: boolean;
  /** HTTPS port. */
  readonly securePort: number;
  /** Whether the secure port is enabled. */
  readonly securePortEnabled: boolean;
  /** Availability zone, also sent as the `zone` metadata entry. */
  readonly zone: string;
  /** String metadata, published with the instance. */
  readonly metadata: Readonly<Record<string, string>>;
  /** The instance's home page. */
  readonly homePageUrl: string;
  /** The instance's status page (the admin `/status`). */
  readonly statusPageUrl: string;
  /** The instance's health URL (the admin `/healthcheck`). */
  readonly healthCheckUrl: string;
  /** How often the instance renews its lease, in ms. */
  readonly leaseRenewalIntervalMs: number;
  /** How long the registry keeps the lease without a renewal, in ms. */
  readonly leaseDurationMs: number;
}

/** An instance as a registry knows it: what it registered, plus the status the registry settled on. */
export interface RegistryInstance extends InstanceDescriptor {
  /** The status clients should act on (an operator override included). */
  readonly status: InstanceStatus;
  /** The operator override, or `UNKNOWN` when there is none. */
  readonly overriddenStatus: InstanceStatus;
  /** When the registry last changed this record (epoch ms). */
  readonly lastUpdatedTimestamp: number;
  /** When the instance last changed its own record (epoch ms). */
  readonly lastDirtyTimestamp: number;
}

/** What changed in a registry's view, delivered to `onChange` listeners. */
export interface RegistryChange {
  /** Instances that appeared. */
  readonly added: readonly RegistryInstance[];
  /** Instances that are gone. */
  readonly removed: readonly RegistryInstance[];
  /** Instances whose record changed, with the record before. */
  readonly modified: readonly InstanceModification[];
}

/** An instance whose record changed. */
export interface InstanceModification {
  /** The record before. */
  readonly previous: RegistryInstance;
  /** The record now. */
  readonly current: RegistryInstance;
}

/**
 * The seam between the lifecycle and a service registry: the in-memory registry and the Eureka client both
 * implement it. Writes concern instances this process registered; reads are the registry's view of all.
 *
 * Implementations own their retries: a registration or status change that fails is retried with backoff
 * until it succeeds or the instance is deregistered, so the returned promises settle once the first
 * attempt is done and do not reject for a registry that is down.
 */
export interface ServiceRegistry {
  /**
   * How long, at most, other clients take to see a status change made here, in ms: a service waits this long
   * after telling the registry DOWN before it drains (its default `deregistrationDelayMs`).
   */
  readonly propagationDelayMs?: number;
  /** Registers the instance with the given status, or re-registers it (a new record replaces the old). */
  register(instance: InstanceDescriptor, status: InstanceStatus, signal?: AbortSignal): Promise<void>;
  /** Changes the status of a registered instance (OUT_OF_SERVICE and back to UP go through the override). */
  setStatus(instanceId: string, status: InstanceStatus, signal?: AbortSignal): Promise<void>;
  /** Renews the instance's lease now. */
  heartbeat(instanceId: string, signal?: AbortSignal): Promise<void>;
  /** Removes the instance from the registry and stops renewing it. */
  deregister(instanceId: string, signal?: AbortSignal): Promise<void>;
  /** Every known instance of an application (any status), by app name, case-insensitive. */
  instancesByApp(app: string): readonly RegistryInstance[];
  /** Every known instance serving a VIP address (any status). */
  instancesByVip(vip: string): readonly RegistryInstance[];
  /** The UP instances serving a VIP address; the same array until the view changes, so reading it allocates nothing. */
  upInstancesByVip(vip: string): readonly RegistryInstance[];
  /** Calls `listener` after each change of the view; returns a function that unsubscribes. */
  onChange(listener: (change: RegistryChange) => void): () => void;
  /** Stops timers and releases sockets. Idempotent. */
  close(): Promise<void>;
  /**
   * What this registry adds to a service that uses it, beyond the methods above: its own metrics, reported
   * through `metrics`, the live settings it follows, and whether a deregistration reached it. A service calls
   * it once when it is made; optional, since a registry without extras is used through the methods above alone.
   * @param metrics - the service's metrics, tagged with its app and instance
   */
  serviceExtras?(metrics: Metrics): RegistryServiceExtras;
  /**
   * Every instance the registry knows, of any status. Optional: without it, a full list (the admin API's
   * `GET /registry`) is kept from the change events.
   */
  instances?(): Iterable<RegistryInstance>;
  /**
   * The applications whose last good view the registry keeps because its server lists too few of their
   * instances (a server that restarted empty). Optional: a registry without such protection has none.
   */
  readonly protectedApps?: readonly ProtectedApp[];
  /**
   * Follows the registry's fetches from its server from this call on (the admin API's `GET /registry` shows
   * how fresh its view is). Optional: a registry that does not fetch (in memory) has a view always current.
   * @param clock - stamps the fetches seen
   */
  watchFetches?(clock: Clock): RegistryFetchWatch;
}

/** What a registry adds to a service that uses it: see {@link ServiceRegistry.serviceExtras}. */
export interface RegistryServiceExtras {
  /** The live configuration keys the registry follows (`eureka.heartbeatIntervalMs`...), each with how to apply a value. */
  readonly liveSettings: Readonly<Record<string, (value: unknown) => void>>;
  /**
   * Starts following the deregistration of `instanceId`, for registries whose `deregister()` resolves after a
   * first attempt whatever the answer; the function returned stops following and says why the last attempt
   * failed (undefined when it went through, or none finished).
   */
  watchDeregistration(instanceId: string): () => string | undefined;
  /** Stops reporting. Idempotent. */
  close(): void;
}

/** After a delta, the view did not hash to the server's `apps__hashcode`; a full fetch follows. */
export interface HashMismatchEvent {
  /** The server's `apps__hashcode`. */
  readonly remote: string;
  /** The hash of the view after the delta was applied. */
  readonly local: string;
  /** The delta's `versions__delta`. */
  readonly versionsDelta: string;
  /** In `vips` mode: the VIP whose instances in the view hashed otherwise than the server's answer for it. */
  readonly vip?: string;
}

/** An application whose last good view is kept. */
export interface ProtectedApp {
  /** The application, as the registry names it. */
  readonly app: string;
  /** Instances held when the protection began. */
  readonly held: number;
  /** Instances the registry listed in the last full fetch. */
  readonly listed: number;
  /** When the protection began (clock ms). */
  readonly since: number;
}

/** A registry's last fetch from its server, as `GET /registry` of the admin API shows it. */
export interface RegistryFetchView {
  /** When the last fetch finished (epoch ms). */
  readonly at: number;
  /** `full` (`GET /apps`), `delta` (`GET /apps/delta`) or `vips` (`GET /vips/{vip}` for each VIP fetched). */
  readonly kind: 'full' | 'delta' | 'vips';
  /** For a full fetch, why it was full (`initial`, `hashMismatch`, `deltaRefused`...). */
  readonly reason: string | undefined;
  /** Whether it was answered with 200 and applied. */
  readonly ok: boolean;
  /** The HTTP status of the last answer; undefined when no server answered. */
  readonly statusCode: number | undefined;
  /** How long it took, in ms. */
  readonly durationMs: number;
  /** The server that answered. */
  readonly serviceUrl: string | undefined;
  /**
   * For an applied delta: whether the view then hashed to the server's `apps__hashcode` (false: a full fetch
   * follows). Undefined for a full fetch (it replaces the view) or a failed one.
   */
  readonly hashMatched: boolean | undefined;
  /** When it failed: why. */
  readonly error: string | undefined;
}

/** What a registry that fetches its view from a server tells of its fetches: see {@link ServiceRegistry.watchFetches}. */
export interface RegistryFetchReport {
  /** What refreshes fetch: the whole registry (`full`) or only the VIPs the service calls (`vips`, with them). */
  readonly mode: {
    /** `full` or `vips`. */
    readonly mode: 'full' | 'vips';
    /** The VIPs fetched in `vips` mode; empty in `full` mode. */
    readonly vips: readonly string[];
    /** With `fetchMode: 'auto'`: why the mode is in force, and what a VIP refresh, a delta and a full fetch cost when last measured. */
    readonly auto?: AutoFetchState;
  };
  /** The last fetch, successful or not; undefined before the first one finished. */
  readonly last: RegistryFetchView | undefined;
  /** When a fetch last succeeded (epoch ms); undefined before one did. */
  readonly lastSuccessAt: number | undefined;
  /** The last delta whose hash did not match the server's, if any. */
  readonly lastHashMismatch:
    | (HashMismatchEvent & {
        /** When the mismatch was seen (epoch ms). */
        readonly at: number;
      })
    | undefined;
}

/** A registry's fetches, followed from {@link ServiceRegistry.watchFetches} on. */
export interface RegistryFetchWatch {
  /** The fetches seen so far. */
  report(): RegistryFetchReport;
  /** Stops following. Idempotent. */
  close(): void;
}
