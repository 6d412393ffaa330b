// The options of createService(), and their one resolution. Kept apart from the lifecycle so that what a
// service is configured with can be read (and changed) without reading how it runs.
import { isIP } from 'node:net';
import type { AdminOptions } from '../admin/AdminServer.js';
import type { Clock } from '../common/Clock.js';
import { KaryonError } from '../common/KaryonError.js';
import type { Logger } from '../common/Logger.js';
import type { AnyDynamicConfig } from '../config/DynamicConfig.js';
import type { KaryonSettings } from '../config/schema.js';
import type { ShadowTrafficOptions } from '../http/shadow/ShadowOptions.js';
import type { ServiceGuardOptions } from '../inbound/outOfServiceGuard.js';
import type { NodeHttpServer } from '../inbound/ServerTracker.js';
import { defaultIpAddress } from '../internal/net.js';
import { durationMs, invalidOption, nonEmptyString, port as portOption } from '../internal/validate.js';
import type { MetricsOptions } from '../metrics/MetricsOptions.js';
import type { Metrics } from '../metrics/types.js';
import type { EurekaRegistryOptions } from '../registry/eureka/EurekaRegistryOptions.js';
import type { ServiceRegistry } from '../registry/types.js';

/** Timings of the lifecycle. */
export interface LifecycleOptions {
  /**
   * How long each initialize hook may run, in ms, unless the hook sets its own.
   * @default 30000
   */
  readonly initializeTimeoutMs?: number;
  /**
   * How long each shutdown hook may run, in ms, unless the hook sets its own.
   * @default 10000
   */
  readonly shutdownTimeoutMs?: number;
  /**
   * How long `stop()` keeps serving after telling the registry DOWN, so clients' caches catch up, in ms.
   * Counted from when the instance last left UP, so an instance already out of traffic does not wait again.
   * @default the registry's `propagationDelayMs` (Eureka: the fetch interval; in memory: 0)
   */
  readonly deregistrationDelayMs?: number;
  /**
   * The longest `stop()` keeps serving after telling the registry DOWN while callers that do not retry elsewhere
   * (a Java service, anything without karyon-ts's client) still send requests, in ms. Such a caller keeps the
   * instance until its own caches drop it: on the real Eureka server up to the server's response cache (30 s),
   * its client's fetch (30 s) and Spring Cloud LoadBalancer's cache (35 s). After `deregistrationDelayMs`, the
   * service goes on serving until none of those requests has arrived for `quietPeriodMs`, or this long after
   * leaving UP. Counted, like the delay, from when the instance last left UP.
   * @default 100000 when `deregistrationDelayMs` is not given and the registry has a propagation delay;
   * otherwise `deregistrationDelayMs` (a fixed delay)
   */
  readonly maxDeregistrationDelayMs?: number;
  /**
   * How long without a request from a caller that does not retry elsewhere counts as "its caches dropped the
   * instance", in ms (see `maxDeregistrationDelayMs`).
   * @default 10000
   */
  readonly quietPeriodMs?: number;
  /**
   * How long `stop()` lets requests in flight finish before cutting their connections, in ms.
   * @default 10000
   */
  readonly drainTimeoutMs?: number;
}

/** Shadow traffic of a service: {@link ShadowTrafficOptions} but the registry, metrics, clock and logger, which are the service's. */
export interface ServiceShadowOptions extends Omit<ShadowTrafficOptions, 'registry' | 'metrics' | 'clock' | 'logger'> {
  /**
   * Tee the requests the service's `server` receives (each request is observed before the application's
   * handler runs). False to tee only the calls of clients given `{ shadow: service.shadow }`.
   * @default true
   */
  readonly teeServer?: boolean;
}

/** Lease timings sent to the registry. */
export interface LeaseOptions {
  /**
   * How often the instance renews its lease (the heartbeat interval), in ms.
   * @default 30000
   */
  readonly renewalIntervalMs?: number;
  /**
   * How long the registry keeps the lease without a renewal, in ms.
   * @default 90000
   */
  readonly durationMs?: number;
}

/**
 * What an instance is registered as, besides its name and port: the fields of the registry record that say
 * where other machines reach it and what it is. Shared by {@link ServiceOptions} and the sidecar's `app`
 * options, and resolved once, with the service's other options.
 */
export interface InstanceIdentityOptions {
  /**
   * The VIP address clients find the instance by.
   * @default `name`
   */
  readonly vipAddress?: string;
  /**
   * The availability zone, published as the `zone` metadata.
   * @default 'default'
   */
  readonly zone?: string;
  /** The application's version, published as `version` metadata and shown by the admin API. */
  readonly version?: string;
  /**
   * Host name published to the registry: what other machines reach this instance by (Spring callers connect to
   * it). In a container, the pod or task address, not the container's own host name.
   * @default `ipAddr`, which other machines reach without DNS
   */
  readonly hostName?: string;
  /**
   * IP address published to the registry.
   * @default the first non-internal IPv4 address of this host
   */
  readonly ipAddr?: string;
  /**
   * Publish `ipAddr` as `hostName` too, as Spring's `eureka.instance.preferIpAddress` does, for callers that
   * connect by `hostName`.
   * @default false
   */
  readonly preferIpAddress?: boolean;
  /**
   * The instance id.
   * @default `${hostName}:${name}:${port}`
   */
  readonly instanceId?: string;
  /** Extra metadata published with the instance. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** The keys of {@link InstanceIdentityOptions}, for code that passes them on as given. */
export const instanceIdentityKeys = Object.freeze([
  'vipAddress', 'zone', 'version', 'hostName', 'ipAddr', 'preferIpAddress', 'instanceId', 'metadata',
] as const satisfies readonly (keyof InstanceIdentityOptions)[]);

/** Options of {@link createService}. */
export interface ServiceOptions extends InstanceIdentityOptions {
  /** The application name; upper-cased as Eureka's app name, and the default VIP address. */
  readonly name: string;
  /**
   * The application's HTTP port, registered in the registry. When `server` is given and not yet listening,
   * the service makes it listen on this port at `start()` (0 = any free port, registered as bound).
   * @default the server's port when it already listens, else 8080
   */
  readonly port?: number;
  /**
   * The application's HTTP server. The service tracks its requests so `stop()` drains them, and makes it
   * listen at `start()` if it does not already.
   */
  readonly server?: NodeHttpServer;
  /**
   * The address the application's server binds when the service makes it listen. An IP address other than
   * `0.0.0.0` and `::` is also the default of `ipAddr` (and so of `hostName`): `host: '127.0.0.1'` alone puts a
   * service on loopback, listening and registered there.
   * @default all interfaces
   */
  readonly host?: string;
  /**
   * Refuse new requests with 503 and the `OUT_OF_SERVICE_HEADER` (`x-karyon-status`) header while the instance is
   * OUT_OF_SERVICE or SHUTTING_DOWN, in front of every request listener of `server`: karyon-ts clients then
   * send them to another instance at once instead of waiting for the registry to tell them. By default only
   * requests of callers that retry elsewhere (karyon-ts clients, which send `RETRIES_ELSEWHERE_HEADER`) are
   * refused; others are served as before. `false` installs nothing.
   * @default true (with `server`)
   */
  readonly outOfServiceGuard?: boolean | ServiceGuardOptions;
  /**
   * The registry to register in and discover from: a `ServiceRegistry` (shared, you close it), or
   * `{ eureka: { serviceUrls, ... } }` for a Eureka client the service makes, reports metrics of and closes.
   * @default a private `InMemoryRegistry`
   */
  readonly registry?:
    | ServiceRegistry
    | {
        /** Options of the Eureka client the service makes. */
        readonly eureka: EurekaRegistryOptions;
      };
  /**
   * The admin HTTP server, or `false` for none.
   * @default port 8077 on loopback (127.0.0.1), no token: see `AdminOptions.host`. Without `admin.port`, a
   * second service of the same process whose 8077 another one of the process holds listens on a free port
   * instead (see `adminUrl`); a port given explicitly and taken fails `start()` with ERR_LISTEN.
   */
  readonly admin?: AdminOptions | false;
  /** Lifecycle timings. */
  readonly lifecycle?: LifecycleOptions;
  /**
   * Lease timings sent to the registry.
   * @default with `registry: { eureka }`, its heartbeat interval and three times that; else 30 s and 90 s
   */
  readonly lease?: LeaseOptions;
  /**
   * Application metrics: a `Metrics` you made with `createMetrics()` (you close it; the service flushes it
   * at the end of `stop()`), or options for one the service makes and closes at the end of `stop()`.
   * The service adds the tags `app`, `instance`, `zone` and `version`, reports its own metrics through it,
   * and serves `GET /metrics` on the admin port when Prometheus exposition is on.
   * @default no metrics
   */
  readonly metrics?: Metrics | MetricsOptions;
  /**
   * A dynamic configuration (from `defineConfig()`). The service starts it first in `start()` (unless already
   * started) and closes it at the end of `stop()` if it started it; serves `GET /config`, `GET /config/history`
   * and `PUT /config/{key}` on the admin port; reports reloads and rejections as metrics; and follows the
   * library's live keys it has (`log.level`, `balancer.rule`, `retry.*`, `breaker.*`,
   * `eureka.heartbeatIntervalMs`, `eureka.registryFetchIntervalMs`: see `karyonLiveSettingsSchema`).
   * @default the service's own: the library's live keys (log level, balancer rule, retry budget, breaker
   * defaults, Eureka intervals, shadow) at the values the service runs with, each changeable with
   * `PUT /config/{key}`, and with `settings`, every setting with its layer
   */
  readonly config?: AnyDynamicConfig;
  /**
   * The settings these options were made from: `serviceOptionsFromSettings()` sets it. Without `config`, the
   * service's own configuration then shows every setting on `GET /config` with the layer it came from
   * (default, environment, argument) and reads the live keys (`KARYON_LOG_LEVEL`...) from the same sources.
   */
  readonly settings?: KaryonSettings;
  /**
   * Transactional configuration changes: after a change, a readiness check turning critical within
   * `windowMs` rolls the configuration back to the snapshot before the change.
   * @default off
   */
  readonly configRollback?: {
    /** How long after a change a readiness check turning critical rolls it back, in ms. */
    readonly windowMs?: number;
  };
  /**
   * Shadow traffic the service makes, reports metrics of and closes: copies of a share of the requests of its
   * `server` (unless `teeServer` is false) and of the clients given `{ shadow: service.shadow }` go to the
   * shadow VIPs found in its registry. `GET /shadow` and `PUT /shadow` are served on the admin port, and the
   * configuration's `shadow.*` keys (see `shadowSettingsSchema`) change it live.
   * @default none
   */
  readonly shadow?: ServiceShadowOptions;
  /**
   * Time source.
   * @default systemClock
   */
  readonly clock?: Clock;
  /**
   * Where the service writes what it does: a {@link Logger}, a pino or bunyan logger as it is (they take
   * their fields first; see `adaptLogger`), or `false` for nothing. A configuration's `log.level` filters
   * it live.
   * @default one concise line per event at `info` and above, to stderr (`lineLogger`)
   */
  readonly logger?: Logger | false;
}

/** The options of a service after resolution: defaults filled in, each validated. */
export interface ResolvedServiceOptions {
  readonly name: string;
  readonly port: number | undefined;
  readonly host: string | undefined;
  readonly vipAddress: string;
  readonly zone: string;
  readonly version: string | undefined;
  readonly hostName: string;
  readonly ipAddr: string;
  readonly instanceId: string | undefined;
  readonly metadata: Readonly<Record<string, string>>;
  readonly initializeTimeoutMs: number;
  readonly shutdownTimeoutMs: number;
  readonly deregistrationDelayMs: number | undefined;
  readonly maxDeregistrationDelayMs: number | undefined;
  readonly quietPeriodMs: number;
  readonly drainTimeoutMs: number;
  readonly renewalIntervalMs: number;
  readonly leaseDurationMs: number;
}

/**
 * The host name and IP address to publish. Both default to an address other machines can reach: a host's own
 * name often resolves nowhere else (a container's id, a laptop's `.local` name), so the IP is published
 * unless a name is given. `preferIpAddress` publishes the IP as the host name whatever was given, as Spring does.
 */
function advertisedHost(options: ServiceOptions): { hostName: string; ipAddr: string } {
  const host = options.host;
  const boundIp = typeof host === 'string' && isIP(host) !== 0 && host !== '0.0.0.0' && host !== '::' ? host : undefined;
  const ipAddr = nonEmptyString('ipAddr', options.ipAddr, boundIp ?? defaultIpAddress());
  const preferIpAddress = options.preferIpAddress ?? false;
  if (typeof preferIpAddress !== 'boolean') invalidOption('preferIpAddress', 'a boolean', preferIpAddress);
  const hostName = nonEmptyString('hostName', options.hostName, ipAddr);
  return { hostName: preferIpAddress ? ipAddr : hostName, ipAddr };
}

export function checkServiceOptionsShape(options: ServiceOptions): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    const given = Array.isArray(options) ? 'an array' : String(options);
    throw new KaryonError('ERR_INVALID_OPTION', `createService() needs an options object such as { name: 'greeter' } (got ${given})`);
  }
  const registry: unknown = options.registry;
  if (registry !== undefined && (typeof registry !== 'object' || registry === null || Array.isArray(registry))) {
    invalidOption('registry', "a ServiceRegistry or { eureka: { ... } }", registry);
  }
}

export function resolveServiceOptions(options: ServiceOptions): ResolvedServiceOptions {
  const registry = options.registry;
  const heartbeatMs = registry !== undefined && 'eureka' in registry ? registry.eureka.heartbeatIntervalMs : undefined;
  const name = nonEmptyString('name', options.name);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
    throw new KaryonError('ERR_INVALID_OPTION', `option 'name' must be letters, digits, '.', '_' or '-' (got ${JSON.stringify(name)})`);
  }
  const metadata = options.metadata ?? {};
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') {
      throw new KaryonError('ERR_INVALID_OPTION', `option 'metadata.${key}' must be a string (got ${typeof value})`);
    }
  }
  const lifecycle = options.lifecycle ?? {};
  const lease: LeaseOptions = options.lease ?? (heartbeatMs === undefined ? {} : { renewalIntervalMs: heartbeatMs, durationMs: heartbeatMs * 3 });
  return Object.freeze({
    name,
    port: options.port === undefined ? undefined : portOption('port', options.port, 8080),
    host: options.host,
    vipAddress: nonEmptyString('vipAddress', options.vipAddress, name),
    zone: nonEmptyString('zone', options.zone, 'default'),
    version: options.version,
    ...advertisedHost(options),
    instanceId: options.instanceId === undefined ? undefined : nonEmptyString('instanceId', options.instanceId),
    metadata: Object.freeze({ ...metadata }),
    initializeTimeoutMs: durationMs('lifecycle.initializeTimeoutMs', lifecycle.initializeTimeoutMs, 30_000),
    shutdownTimeoutMs: durationMs('lifecycle.shutdownTimeoutMs', lifecycle.shutdownTimeoutMs, 10_000),
    deregistrationDelayMs:
      lifecycle.deregistrationDelayMs === undefined
        ? undefined
        : durationMs('lifecycle.deregistrationDelayMs', lifecycle.deregistrationDelayMs, 0),
    maxDeregistrationDelayMs:
      lifecycle.maxDeregistrationDelayMs === undefined
        ? undefined
        : durationMs('lifecycle.maxDeregistrationDelayMs', lifecycle.maxDeregistrationDelayMs, 0),
    quietPeriodMs: durationMs('lifecycle.quietPeriodMs', lifecycle.quietPeriodMs, 10_000),
    drainTimeoutMs: durationMs('lifecycle.drainTimeoutMs', lifecycle.drainTimeoutMs, 10_000),
    renewalIntervalMs: durationMs('lease.renewalIntervalMs', lease.renewalIntervalMs, 30_000),
    leaseDurationMs: durationMs('lease.durationMs', lease.durationMs, 90_000),
  });
}
