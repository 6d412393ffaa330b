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
