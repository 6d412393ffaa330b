import type { IncomingMessage, ServerResponse } from 'node:http';
import { EventEmitter } from 'eventemitter3';
import { AdminServer, resolveAdminOptions } from '../admin/AdminServer.js';
import { registryAdminRoutes } from '../admin/registryRoutes.js';
import type { RegistryAdminRoutes } from '../admin/registryRoutes.js';
import { adminUiRoutes } from '../admin/uiRoutes.js';
import type { AdminOptions } from '../admin/AdminServer.js';
import type { AdminServiceView, StatusReport } from '../admin/types.js';
import type { Clock } from '../common/Clock.js';
import { systemClock } from '../common/Clock.js';
import { KaryonError, isKaryonError } from '../common/KaryonError.js';
import type { Logger } from '../common/Logger.js';
import { adaptLogger, silentLogger } from '../common/Logger.js';
import { lineLogger } from '../common/lineLogger.js';
import { HealthMonitor } from '../health/HealthMonitor.js';
import type { CheckChange } from '../health/HealthMonitor.js';
import type { HealthCheckFunction, HealthCheckOptions, HealthReport } from '../health/types.js';
import { registerInstancesRoute } from '../http/registerInstancesRoute.js';
import { createShadowTraffic } from '../http/shadow/ShadowTraffic.js';
import type { ShadowTraffic } from '../http/shadow/ShadowTraffic.js';
import type { ShadowTrafficOptions } from '../http/shadow/ShadowOptions.js';
import { shadowAdminRoutes } from '../http/shadow/shadowAdminRoutes.js';
import { ServerTracker, listen } from '../inbound/ServerTracker.js';
import { guardServer } from '../inbound/outOfServiceGuard.js';
import type { ServiceGuardOptions } from '../inbound/outOfServiceGuard.js';
import { createServiceClient } from '../http/ServiceClient.js';
import type { ServiceClient } from '../http/ServiceClient.js';
import type { ServiceClientOptions } from '../http/ServiceClientOptions.js';
import type { BalancerRuleName } from '../balancer/BalancerRule.js';
import type { DrainResult, NodeHttpServer } from '../inbound/ServerTracker.js';
import type { Command, CommandOptions } from '../breaker/Command.js';
import { CommandRegistry } from '../breaker/CommandRegistry.js';
import type { AdoptedBreaker, OpossumCircuitBreaker } from '../breaker/AdoptedBreaker.js';
import { breakerAdminRoutes } from '../breaker/breakerAdminRoutes.js';
import type { CommandSettingsOptions } from '../breaker/CommandSettings.js';
import { BreakerMetricsReporter } from '../breaker/BreakerMetricsReporter.js';
import type { BreakerAdminRoutes } from '../breaker/breakerAdminRoutes.js';
import { componentCommands, registerComponentCommands } from '../breaker/decorators.js';
import { bindConfigMetrics } from '../config/bindConfigMetrics.js';
import { configAdminRoutes } from '../config/configAdminRoutes.js';
import type { AnyDynamicConfig, DynamicConfig } from '../config/DynamicConfig.js';
import { filterLogger } from '../config/filterLogger.js';
import { shadowLiveSettings } from '../config/karyonConfigSchema.js';
import type { LogLevel } from '../config/karyonConfigSchema.js';
import type { KaryonSettings } from '../config/schema.js';
import { resolveEurekaRegistryOptions } from '../registry/eureka/EurekaRegistryOptions.js';
import { serviceConfig } from './serviceConfig.js';
import { errorMessage, runWithTimeout, sleep } from '../internal/async.js';
import { isIP } from 'node:net';
import { defaultIpAddress } from '../internal/net.js';
import { durationMs, invalidOption, nonEmptyString, port as portOption } from '../internal/validate.js';
import { createMetrics } from '../metrics/createMetrics.js';
import { adminMetrics, clientMetrics, configMetrics, healthMetrics, lifecycleMetrics, registryMetrics, shadowMetrics, statusClass } from '../metrics/builtin.js';
import type { ClientMetrics, LifecycleMetrics } from '../metrics/builtin.js';
import type { MetricsOptions } from '../metrics/MetricsOptions.js';
import { metricsAdminRoutes } from '../metrics/metricsAdminRoutes.js';
import { noopMetrics } from '../metrics/noopMetrics.js';
import type { Metrics } from '../metrics/types.js';
import { EurekaRegistry } from '../registry/eureka/EurekaRegistry.js';
import type { FetchEvent, HeartbeatEvent, RegistrationEvent } from '../registry/eureka/EurekaRegistryEvents.js';
import type { EurekaRegistryOptions } from '../registry/eureka/EurekaRegistryOptions.js';
import { InMemoryRegistry } from '../registry/InMemoryRegistry.js';
import type { InstanceDescriptor, ServiceRegistry } from '../registry/types.js';
import { componentMembers } from './decorators.js';
import type { HookOptions, LifecycleHook } from './decorators.js';
import { registryStatusOf } from './LifecycleState.js';
import type { LifecycleState } from './LifecycleState.js';
import { StateMachine } from './StateMachine.js';
import type { StateChange } from './StateMachine.js';

/**
 * The whole chain to a Java caller on the real Eureka server: its response cache (30 s), the Java client's fetch
 * (30 s) and Spring Cloud LoadBalancer's cache (35 s), with a margin.
 */
const DEFAULT_MAX_DEREGISTRATION_DELAY_MS = 100_000;

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

/** Options of {@link createService}. */
export interface ServiceOptions {
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
   * The VIP address clients find the service by.
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
  /**
   * The registry to register in and discover from: a `ServiceRegistry` (shared, you close it), or
   * `{ eureka: { serviceUrls, ... } }` for a Eureka client the service makes, reports metrics of and closes.
   * @default a private {@link InMemoryRegistry}
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
   * their fields first; see {@link adaptLogger}), or `false` for nothing. A configuration's `log.level` filters
   * it live.
   * @default one concise line per event at `info` and above, to stderr (`lineLogger`)
   */
  readonly logger?: Logger | false;
}

/** The events a {@link Service} emits. */
export interface ServiceEvents {
  /** The lifecycle state changed. */
  stateChange: [change: StateChange];
  /** A health check's status changed. */
  healthChange: [change: CheckChange];
}

interface Hook {
  readonly name: string;
  readonly fn: LifecycleHook;
  readonly timeoutMs: number;
  /** For shutdown hooks: how many initialize hooks were registered before it (see `#unwind`). */
  readonly afterInitializeHooks: number;
}

interface ResolvedServiceOptions {
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

/** The default admin port, and the service of this process that listens on it, if any. */
const DEFAULT_ADMIN_PORT = 8077;
let defaultAdminPortHolder: string | undefined;

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

function checkServiceOptionsShape(options: ServiceOptions): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    const given = Array.isArray(options) ? 'an array' : String(options);
    throw new KaryonError('ERR_INVALID_OPTION', `createService() needs an options object such as { name: 'greeter' } (got ${given})`);
  }
  const registry: unknown = options.registry;
  if (registry !== undefined && (typeof registry !== 'object' || registry === null || Array.isArray(registry))) {
    invalidOption('registry', "a ServiceRegistry or { eureka: { ... } }", registry);
  }
}

function resolveServiceOptions(options: ServiceOptions): ResolvedServiceOptions {
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

/**
 * A service's lifecycle: registration, initialize hooks, health, the operator's status, graceful shutdown
 * and the admin server. Made by {@link createService}.
 *
 * The state is one of {@link LifecycleState}; it changes only through the transition table, each change is
 * told to the registry and emitted as `stateChange`. While running, the state follows two inputs: the
 * readiness verdict of the health checks and the operator's OUT_OF_SERVICE. Readiness critical means DOWN
 * (as Eureka, DOWN wins over an override); otherwise the operator's OUT_OF_SERVICE; otherwise UP.
 */
export class Service extends EventEmitter<ServiceEvents> implements AsyncDisposable {
  readonly #options: ResolvedServiceOptions;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #registry: ServiceRegistry;
  readonly #ownsRegistry: boolean;
  readonly #machine: StateMachine;
  readonly #health: HealthMonitor;
  readonly #admin: AdminServer | undefined;
  readonly #tracker: ServerTracker | undefined;
  readonly #metrics: Metrics;
  readonly #ownedMetrics: Metrics | undefined;
  readonly #lifecycleMetrics: LifecycleMetrics;
  readonly #stopRegistryMetrics: (() => void) | undefined;
  #clientMetrics: ClientMetrics | undefined;
  readonly #clients: ServiceClient[] = [];
  readonly #commands: CommandRegistry;
  readonly #breakerRoutes: BreakerAdminRoutes | undefined;
  readonly #registryRoutes: RegistryAdminRoutes | undefined;
  readonly #breakerReporter: BreakerMetricsReporter | undefined;
  readonly #shadow: ShadowTraffic | undefined;
  readonly #untee: (() => void) | undefined;
  /** Clients whose balancer rule follows `balancer.rule` (those made without their own). */
  readonly #ruleFollowers = new WeakSet<ServiceClient>();
  readonly #config: DynamicConfig<object> | undefined;
  /** True when the configuration is the service's own (no `config` option): its defaults are already in force. */
  readonly #ownConfig: boolean;
  readonly #configRollbackMs: number | undefined;
  #startedConfig = false;
  #configBindings: (() => void)[] = [];
  #logLevel: LogLevel = 'debug';
  #defaultRule: string | undefined;
  #retryBudget: { ratio: number; minRetriesPerSecond: number; ttlMs: number } | undefined;
  readonly #readinessListeners = new Set<(ready: boolean) => void>();
  readonly #initializeHooks: Hook[] = [];
  readonly #shutdownHooks: Hook[] = [];
  /** The operator's intent, kept apart from health: only `markUp()` clears it. */
  #outOfServiceByOperator = false;
  #completedInitializeHooks = 0;
  #descriptor: InstanceDescriptor | undefined;
  #registered = false;
  #registryQueue: Promise<void> = Promise.resolve();
  #startedAt: number | undefined;
  /** When the instance last stopped being UP, for the deregistration delay. */
  #leftUpAt: number | undefined;
  #starting: Promise<void> | undefined;
  /** What start() returns: #starting, settled after stop() when stop() interrupted it. */
  #startResult: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  /** True once stop() or a failed start closed the clients: no more are made. */
  #clientsClosed = false;
  readonly #startAbort = new AbortController();
  /** True when the admin port was not given, so it may move to a free one when this process holds 8077. */
  readonly #adminPortDefaulted: boolean;
  #holdsDefaultAdminPort = false;
  readonly #unguard: (() => void) | undefined;

  /** Use {@link createService}. */
  constructor(options: ServiceOptions) {
    super();
    // Checked before anything reads a field, so that `createService(null)` names the problem instead of failing
    // with a TypeError on `options.registry`.
    checkServiceOptionsShape(options);
    this.#options = resolveServiceOptions(options);
    this.#clock = options.clock ?? systemClock;
    // A given logger gets everything ('debug'), the default one 'info', until a configuration's log.level says otherwise.
    if (options.logger === undefined) this.#logLevel = 'info';
    const logger = options.logger === undefined ? defaultLogger() : options.logger === false ? silentLogger : adaptLogger(options.logger);
    this.#logger = filterLogger(logger, { get: () => this.#logLevel });
    this.#ownConfig = options.config === undefined;
    this.#configRollbackMs = options.configRollback === undefined ? undefined : durationMs('configRollback.windowMs', options.configRollback.windowMs, 30_000);
    const registry = options.registry;
    this.#ownsRegistry = registry === undefined || 'eureka' in registry;
    this.#registry =
      registry === undefined
        ? new InMemoryRegistry({ clock: this.#clock })
        : 'eureka' in registry
          ? new EurekaRegistry({ clock: this.#clock, logger: this.#logger, ...this.#serverChoice(), ...registry.eureka })
          : registry;
    const metricsOption = options.metrics;
    this.#ownedMetrics = metricsOption === undefined || isMetrics(metricsOption) ? undefined : createMetrics({ clock: this.#clock, logger: this.#logger, ...metricsOption });
    const rootMetrics = this.#ownedMetrics ?? (metricsOption as Metrics | undefined) ?? noopMetrics;
    this.#metrics = rootMetrics.scope('', this.#globalTags());
    this.#lifecycleMetrics = lifecycleMetrics(this.#metrics);
    if (this.#registry instanceof EurekaRegistry) this.#stopRegistryMetrics = reportRegistryMetrics(this.#registry, this.#metrics);
    const checkMetrics = healthMetrics(this.#metrics);
    this.#machine = new StateMachine(this.#clock, (change) => this.#onTransition(change));
    this.#lifecycleMetrics.state('STARTING');
    this.#health = new HealthMonitor({
      clock: this.#clock,
      onCheckRun: (name, result, durationMs) => checkMetrics.check(name, result, durationMs),
      onCheckChange: (change) => {
        this.#logger.info(`health check '${change.name}' ${change.from} -> ${change.to}`, { check: change.name });
        this.emit('healthChange', change);
      },
      onVerdictChange: ({ ready }) => {
        this.#reconcile('health changed');
        // Checks failing while the service shuts down (its database pool closed by a shutdown hook) say nothing
        // of the last configuration change: no rollback from them.
        if (this.#leaving) return;
        for (const listener of this.#readinessListeners) listener(ready);
      },
    });
    const adminOptions = options.admin === false ? undefined : resolveAdminOptions(options.admin ?? {});
    this.#admin =
      adminOptions === undefined
        ? undefined
        : new AdminServer(this.#adminView(), adminOptions, {
            logger: this.#logger,
            clock: this.#clock,
            auditMetrics: adminMetrics(this.#metrics),
          });
    this.#adminPortDefaulted = adminOptions !== undefined && (options.admin === undefined || options.admin === false || options.admin.port === undefined);
    this.#tracker = options.server === undefined ? undefined : new ServerTracker(options.server, this.#clock);
    const guard = options.outOfServiceGuard ?? true;
    if (typeof guard !== 'boolean' && (typeof guard !== 'object' || guard === null)) invalidOption('outOfServiceGuard', 'a boolean or guard options', guard);
    this.#unguard =
      options.server === undefined || guard === false
        ? undefined
        : guardServer(options.server, () => this.#machine.state, guard === true ? {} : guard);
    const eurekaOptions = registry !== undefined && 'eureka' in registry ? resolveEurekaRegistryOptions(registry.eureka) : undefined;
    this.#commands = new CommandRegistry({ group: this.#options.name, clock: this.#clock, logger: this.#logger });
    this.#breakerReporter = rootMetrics === noopMetrics ? undefined : new BreakerMetricsReporter(this.#commands, this.#metrics, this.#clock);
    this.#breakerRoutes = this.#admin === undefined ? undefined : breakerAdminRoutes(this.#admin, this.#commands);
    this.#registryRoutes = this.#admin === undefined ? undefined : registryAdminRoutes(this.#admin, this.#registry, { clock: this.#clock });
    if (options.shadow !== undefined) {
      const { teeServer = true, ...shadowOptions } = options.shadow;
      const shadow = createShadowTraffic({
        clock: this.#clock,
        logger: this.#logger,
        ...shadowOptions,
        registry: this.#registry,
        metrics: shadowMetrics(this.#metrics),
      });
      this.#shadow = shadow;
      const server = options.server;
      if (teeServer && server !== undefined) {
        // Before the application's handler, so the body and the answer are seen from their first byte.
        const observe = (req: IncomingMessage, res: ServerResponse): void => shadow.observe(req, res);
        server.prependListener('request', observe);
        this.#untee = () => server.removeListener('request', observe);
      }
    }
    this.#config =
      options.config ??
      serviceConfig({
        settings: options.settings,
        logLevel: this.#logLevel,
        eureka: eurekaOptions === undefined ? undefined : { heartbeatIntervalMs: eurekaOptions.heartbeatIntervalMs, registryFetchIntervalMs: eurekaOptions.registryFetchIntervalMs },
        shadow: this.#shadow?.settings,
        clock: this.#clock,
        logger: this.#logger,
      });
    if (this.#admin !== undefined) {
      if (adminOptions?.ui === true) adminUiRoutes(this.#admin);
      // Without the exposition, GET /metrics answers 404 saying how to turn it on.
      metricsAdminRoutes(this.#admin, this.#metrics);
      registerInstancesRoute(this.#admin, () => this.#clients, { registryPath: '/registry' });
      if (this.#shadow !== undefined) shadowAdminRoutes(this.#admin, this.#shadow);
      if (this.#config !== undefined) configAdminRoutes(this.#admin, this.#config);
    }
  }

  /** The application name. */
  get name(): string {
    return this.#options.name;
  }

  /** The lifecycle state. */
  get status(): LifecycleState {
    return this.#machine.state;
  }

  /** The recent transitions, oldest first. */
  get transitions(): readonly StateChange[] {
    return this.#machine.history;
  }

  /** The registry this service registers in and discovers from. */
  get registry(): ServiceRegistry {
    return this.#registry;
  }

  /** What the service registered; undefined before `start()` has bound its port. */
  get instance(): InstanceDescriptor | undefined {
    return this.#descriptor;
  }

  /** The instance id; undefined before `start()` has bound its port (unless given as an option). */
  get instanceId(): string | undefined {
    return this.#descriptor?.instanceId ?? this.#options.instanceId;
  }

  /** The admin server's base URL, once it listens. */
  get adminUrl(): string | undefined {
    return this.#admin?.url;
  }

  /**
   * The service's metrics, tagged with `app`, `instance`, `zone` and `version`; a no-op sink when none were
   * configured. Use it for the application's own metrics.
   */
  get metrics(): Metrics {
    return this.#metrics;
  }

  /** The service's commands (Hystrix-like breakers, bulkheads, fallbacks), by name. */
  get commands(): CommandRegistry {
    return this.#commands;
  }

  /** The service's shadow traffic (the `shadow` option); give it to clients as `{ shadow: service.shadow }`. */
  get shadow(): ShadowTraffic | undefined {
    return this.#shadow;
  }

  /** The admin server, to add routes; undefined when disabled. */
  get admin(): AdminServer | undefined {
    return this.#admin;
  }

  /** The state of every health check, without running any. */
  healthReport(): HealthReport {
    return this.#health.report();
  }

  /**
   * Adds an initialize hook. Hooks run in order during `start()`, each with a timeout and a signal; the
   * instance is registered as STARTING before they run and becomes UP only when all have succeeded.
   * @throws KaryonError ERR_INVALID_STATE once `start()` has been called.
   */
  onInitialize(fn: LifecycleHook, options: HookOptions = {}): this {
    if (this.#starting !== undefined || this.#stopping !== undefined) {
      throw new KaryonError('ERR_INVALID_STATE', 'initialize hooks must be added before start()', { service: this.name });
    }
    this.#initializeHooks.push(this.#hook(fn, options, this.#options.initializeTimeoutMs, 'initialize'));
    return this;
  }

  /**
   * Adds a shutdown hook. Shutdown hooks run in reverse order during `stop()`, after the registry was left
   * and requests were drained, each with a timeout; their errors are collected, not fatal. When `start()`
   * fails, the shutdown hooks added after an initialize hook that never finished are skipped: add each
   * shutdown hook right after the initialize hook it undoes.
   * @throws KaryonError ERR_INVALID_STATE once `stop()` has been called.
   */
  onShutdown(fn: LifecycleHook, options: HookOptions = {}): this {
    if (this.#stopping !== undefined) {
      throw new KaryonError('ERR_INVALID_STATE', 'shutdown hooks must be added before stop()', { service: this.name });
    }
    this.#shutdownHooks.push(this.#hook(fn, options, this.#options.shutdownTimeoutMs, 'shutdown'));
    return this;
  }

  /** Adds a health check; see {@link HealthCheckOptions} for its kind, timeout, caching and hysteresis. */
  addHealthCheck(name: string, fn: HealthCheckFunction, options?: HealthCheckOptions): this {
    this.#health.add(name, fn, options);
    return this;
  }

  /**
   * Protects a function as a Hystrix-like command of this service: circuit breaker, semaphore bulkhead,
   * timeout and fallback, with Hystrix's defaults; shown by `GET /breakers` and `GET /hystrix.stream`.
   * Commands of the same name share one breaker.
   * @throws KaryonError ERR_INVALID_OPTION naming a wrong option.
   *
   * @example
   * ```ts
   * const getUser = service.command('getUser', (id: string) => users.get(id), { timeoutMs: 300, fallback: () => guest });
   * const user = await getUser('42');
   * ```
   */
  command<A extends unknown[], R>(name: string, fn: (...args: A) => R, options?: CommandOptions<A, Awaited<R>>): Command<A, Awaited<R>> {
    return this.#commands.command(name, fn, options);
  }

  /**
   * Adopts an opossum 9 `CircuitBreaker` the service already has: it shows in `GET /breakers`,
   * `GET /hystrix.stream`, the admin UI and the breaker metrics, and the admin API forces it open or closed,
   * or resets it, through opossum's own `open()` and `close()`. Calls keep going through `breaker.fire()`.
   * @throws KaryonError ERR_INVALID_OPTION when it is not an opossum breaker or its name is taken.
   *
   * @example
   * ```ts
   * const pricing = new CircuitBreaker(callPricing, { name: 'pricing', timeout: 300 });
   * service.adoptBreaker(pricing);
   * ```
   */
  adoptBreaker(breaker: OpossumCircuitBreaker): AdoptedBreaker {
    return this.#commands.adopt(breaker);
  }

  /**
   * Adds the hooks, health checks and commands of a component whose methods carry `@initialize()`,
   * `@onShutdown()`, `@healthCheck()` or `@command()`.
   * @throws KaryonError ERR_INVALID_COMPONENT when the object has no decorated method.
   */
  register(component: object): this {
    const members = typeof component === 'object' && component !== null ? componentMembers(component) : [];
    const commands = typeof component === 'object' && component !== null ? componentCommands(component) : [];
    if (members.length === 0 && commands.length === 0) {
      const what = typeof component === 'object' && component !== null ? component.constructor.name : String(component);
      throw new KaryonError('ERR_INVALID_COMPONENT', `${what} has no @initialize(), @onShutdown(), @healthCheck() or @command() method`, {
        service: this.name,
      });
    }
    if (commands.length > 0) registerComponentCommands(this.#commands, component);
    for (const member of members) {
      switch (member.kind) {
        case 'initialize':
          this.onInitialize(member.fn, member.options);
          break;
        case 'shutdown':
          this.onShutdown(member.fn, member.options);
          break;
        case 'healthCheck':
          this.addHealthCheck(member.name, member.fn, member.options);
          break;
      }
    }
    return this;
  }

  /**
   * A client of another service, balanced over the UP instances of `vip` as this service's registry sees
   * them, in this service's zone; it reports the built-in client metrics, shows in the admin `GET /instances`,
   * and is closed by `stop()` after the shutdown hooks (which may still use it). Make one per target and keep it.
   * @throws KaryonError ERR_INVALID_OPTION naming a wrong option; ERR_INVALID_STATE once stop() or a failed start has closed the clients (a stopping service makes clients until then).
   *
   * @example
   * ```ts
   * const greeter = service.client('greeter', { balancer: 'p2c-ewma' });
   * const res = await greeter.request({ path: '/hello' });
   * ```
   */
  client(vip: string, options: ServiceClientOptions = {}): ServiceClient {
    // Until stop() (or a failed start) closes the clients, a stopping service still calls out: its requests in
    // flight and its shutdown hooks may need a client it has not made yet (the sidecar's proxy does).
    if (this.#clientsClosed) {
      throw new KaryonError('ERR_INVALID_STATE', `clients cannot be made once the service has closed its clients (${this.status})`, { service: this.name });
    }
    this.#clientMetrics ??= clientMetrics(this.#metrics);
    const followsRule = options.balancer === undefined && this.#defaultRule !== undefined;
    const budget = this.#retryBudget;
    const client = createServiceClient({
      clock: this.#clock,
      logger: this.#logger,
      ...options,
      ...(followsRule ? { balancer: this.#defaultRule as BalancerRuleName } : {}),
      registry: this.#registry,
      vip,
      zone: this.#options.zone,
      metrics: this.#clientMetrics,
      commands: this.#commands,
    });
    if (options.balancer === undefined) this.#ruleFollowers.add(client);
    if (budget !== undefined && (typeof options.retries !== 'object' || options.retries.budget === undefined)) client.setRetryBudget(budget);
    this.#clients.push(client);
    return client;
  }

  /**
   * Starts the service: admin server and app server listen, the instance registers as STARTING, the
   * initialize hooks run in order, health checks run once, and the instance becomes UP (or DOWN when a
   * readiness check fails, or OUT_OF_SERVICE when an operator said so meanwhile). Calling it again
   * returns the same promise. A service runs once: once `stop()` has been called, `start()` rejects with
   * ERR_INVALID_STATE; make a new service with {@link createService} to run again.
   * @throws KaryonError ERR_HOOK_FAILED or ERR_HOOK_TIMEOUT when a hook fails (the state is then FAILED and
   * what started was unwound); ERR_LISTEN when a port cannot be bound; ERR_START_ABORTED when `stop()` or
   * the signal interrupted it (after `stop()` has finished, so it has deregistered by then); ERR_INVALID_STATE
   * when called after `stop()`.
   */
  start(signal?: AbortSignal): Promise<void> {
    // A service runs once: after stop() (a start it interrupted still settles through the promise given before).
    if (this.#stopping !== undefined) return Promise.reject(this.#restartError());
    this.#starting ??= this.#start(signal);
    // Interrupted by stop() (a SIGTERM while initializing), it rejects only once stop() has finished: a process
    // whose top-level `await service.start()` throws then ends after leaving the registry, not before.
    this.#startResult ??= this.#starting.catch(async (error: unknown) => {
      if (this.#stopping !== undefined) await this.#stopping.catch(() => undefined);
      throw error;
    });
    return this.#startResult;
  }

  /**
   * Takes the instance out of traffic: OUT_OF_SERVICE in the registry until `markUp()`, whatever health says.
   * Resolves once the registry has been told (or the attempt failed and is being retried).
   * @throws KaryonError ERR_INVALID_STATE when the service is stopping, stopped or failed.
   */
  async markOutOfService(): Promise<void> {
    this.#requireOperable('markOutOfService');
    this.#outOfServiceByOperator = true;
    this.#reconcile('marked OUT_OF_SERVICE by operator');
    await this.#registryQueue;
  }

  /**
   * Clears the operator's OUT_OF_SERVICE: the instance goes UP, or DOWN if a readiness check is critical.
   * @throws KaryonError ERR_INVALID_STATE when the service is stopping, stopped or failed.
   */
  async markUp(): Promise<void> {
    this.#requireOperable('markUp');
    this.#outOfServiceByOperator = false;
    this.#reconcile('marked UP by operator');
    await this.#registryQueue;
  }

  /**
   * Stops gracefully: SHUTTING_DOWN, tell the registry DOWN, wait `deregistrationDelayMs` for clients to
   * notice, drain requests in flight, run shutdown hooks in reverse order, deregister, close, STOPPED.
   * Idempotent; safe during `start()`, which it interrupts.
   * @throws KaryonError ERR_SHUTDOWN (state still STOPPED) when shutdown hooks or the drain failed; its
   * `errors` lists each failure.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  /** Same as `stop()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  // ---- start ------------------------------------------------------------------------------------------

  /** A service runs once: what start() says after stop(). */
  #restartError(): KaryonError {
    return new KaryonError(
      'ERR_INVALID_STATE',
      `service '${this.name}' was stopped (${this.status}) and cannot be started again: create a new one with createService()`,
      { service: this.name, status: this.status },
    );
  }

  async #start(signal: AbortSignal | undefined): Promise<void> {
    this.#startedAt = this.#clock.now();
    const abort = this.#startAbort;
    const onAbort = (): void => abort.abort(new KaryonError('ERR_START_ABORTED', 'start() was aborted by its signal', { service: this.name }));
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (this.#config !== undefined) {
        if (!this.#config.started) {
          this.#startedConfig = true;
          await this.#config.start(abort.signal);
        }
        this.#bindConfig(this.#config);
      }
      this.#checkAborted();
      await this.#listenAdmin();
      const port = await this.#listenApp();
      this.#checkAborted();
      this.#descriptor = this.#describe(port);
      this.#logger.info(`registering ${this.#descriptor.instanceId} as STARTING`, { instanceId: this.#descriptor.instanceId });
      this.#registered = true;
      this.#enqueueRegistry(() => this.#registry.register(this.#describeOrThrow(), 'STARTING', abort.signal));
      await this.#registryQueue;
      for (const hook of this.#initializeHooks) {
        this.#checkAborted();
        await this.#runHook(hook, 'initialize', abort.signal);
        this.#completedInitializeHooks++;
      }
      this.#checkAborted();
      await this.#health.runAll();
      this.#checkAborted();
      this.#health.start();
      this.#lifecycleMetrics.initializeDuration(this.#clock.now() - this.#startedAt);
      this.#reconcile('initialize hooks finished', true);
      await this.#registryQueue;
    } catch (error) {
      if (this.#stopping !== undefined) {
        // stop() owns the unwinding from here.
        throw isKaryonError(error, 'ERR_START_ABORTED')
          ? error
          : new KaryonError('ERR_START_ABORTED', 'start() was interrupted by stop()', { service: this.name, cause: error });
      }
      // The caller's signal aborted the start (nobody called stop()): a failed start like any other, unwound.
      const failure =
        !abort.signal.aborted || isKaryonError(error, 'ERR_START_ABORTED')
          ? error
          : new KaryonError('ERR_START_ABORTED', 'start() was aborted by its signal', { service: this.name, cause: error });
      await this.#fail(failure);
      throw failure;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  #checkAborted(): void {
    const { signal } = this.#startAbort;
    if (!signal.aborted) return;
    throw isKaryonError(signal.reason, 'ERR_START_ABORTED')
      ? signal.reason
      : new KaryonError('ERR_START_ABORTED', 'start() was interrupted by stop()', { service: this.name });
  }

  /** The admin server listens: on 8077 unless the port was given or another service of this process holds it. */
  async #listenAdmin(): Promise<void> {
    if (this.#admin === undefined) return;
    if (!this.#adminPortDefaulted) {
      await this.#admin.listen();
      return;
    }
    const holder = defaultAdminPortHolder;
    if (holder !== undefined) {
      await this.#admin.listen(0);
      this.#logger.info(`admin port ${DEFAULT_ADMIN_PORT} is held by service '${holder}' of this process: admin server on ${this.#admin.url ?? 'a free port'} (set admin.port to choose)`);
      return;
    }
    defaultAdminPortHolder = this.name;
    this.#holdsDefaultAdminPort = true;
    try {
      await this.#admin.listen();
    } catch (error) {
      this.#releaseDefaultAdminPort();
      throw error;
    }
  }

  #releaseDefaultAdminPort(): void {
    if (!this.#holdsDefaultAdminPort) return;
    this.#holdsDefaultAdminPort = false;
    defaultAdminPortHolder = undefined;
  }

  async #listenApp(): Promise<number> {
    const server = this.#tracker?.server;
    if (server === undefined) return this.#options.port ?? 8080;
    try {
      return await listen(server, this.#options.port ?? 8080, this.#options.host, { name: `the server of '${this.name}'`, logger: this.#logger });
    } catch (error) {
      throw new KaryonError('ERR_LISTEN', `could not listen on port ${this.#options.port ?? 8080}: ${errorMessage(error)}`, {
        service: this.name,
        cause: error,
      });
    }
  }

  /** start() failed on its own: FAILED, then unwind what started. */
  async #fail(error: unknown): Promise<void> {
    this.#logger.error(`start failed: ${errorMessage(error)}`, { service: this.name });
    this.#machine.transition('FAILED', `start failed: ${errorMessage(error)}`);
    const errors = await this.#unwind(this.#completedInitializeHooks);
    for (const e of errors) this.#logger.warn(`while unwinding a failed start: ${errorMessage(e)}`);
    // As at the end of stop(): the FAILED transition and what led to it are sent, and the metrics' timers end.
    await this.#closeMetrics().catch((error: unknown) =>
      this.#logger.warn(`while flushing the metrics of a failed start: ${errorMessage(error)}`),
    );
  }

  // ---- stop -------------------------------------------------------------------------------------------

  async #stop(): Promise<void> {
    if (this.#starting !== undefined) {
      this.#startAbort.abort(new KaryonError('ERR_START_ABORTED', 'start() was interrupted by stop()', { service: this.name }));
      await this.#starting.catch(() => undefined);
    }
    const state = this.#machine.state;
    if (state === 'FAILED' || state === 'STOPPED') return;
    this.#machine.transition('SHUTTING_DOWN', 'stop() called');
    const stopStarted = this.#clock.now();
    const errors: unknown[] = [];
    if (this.#starting !== undefined) {
      await this.#registryQueue;
      if (this.#leftUpAt !== undefined) {
        const { delayMs, maxMs } = this.#deregistrationDelays();
        const delay = delayMs - (this.#clock.now() - this.#leftUpAt);
        if (delay > 0) this.#logger.info(`waiting ${delay} ms for clients to see DOWN before draining`);
        await sleep(this.#clock, delay);
        const tracker = this.#tracker;
        const until = this.#leftUpAt + maxMs;
        if (tracker !== undefined && until > this.#clock.now()) {
          const quietMs = this.#options.quietPeriodMs;
          const lastAt = tracker.lastOtherCallerAt;
          if (lastAt !== undefined && this.#clock.now() - lastAt < quietMs) {
            this.#logger.info(`serving callers that do not retry elsewhere until none has called for ${quietMs} ms (at most ${until - this.#clock.now()} ms more)`);
            await tracker.quiet(quietMs, until);
          }
        }
      }
    }
    errors.push(...(await this.#unwind(this.#completedInitializeHooks, this.#starting !== undefined)));
    this.#lifecycleMetrics.shutdownDuration(this.#clock.now() - stopStarted);
    this.#machine.transition('STOPPED', errors.length === 0 ? 'stopped' : `stopped with ${errors.length} error(s)`);
    // Last, so the STOPPED transition itself is sent: nothing buffered is lost.
    await this.#closeMetrics();
    if (errors.length > 0) {
      throw new KaryonError('ERR_SHUTDOWN', `stop() finished with ${errors.length} error(s): ${errors.map(errorMessage).join('; ')}`, {
        service: this.name,
        ...(this.instanceId === undefined ? {} : { instanceId: this.instanceId }),
        errors,
      });
    }
  }

  /**
   * Releases what started, in stop order: drain, shutdown hooks (those added before the first initialize
   * hook that did not finish), deregister, close. Collects errors instead of throwing.
   */
  async #unwind(completedInitializeHooks: number, runHooks = this.#starting !== undefined): Promise<unknown[]> {
    const errors: unknown[] = [];
    const attempt = async (what: string, work: () => Promise<unknown>): Promise<boolean> => {
      try {
        await work();
        return true;
      } catch (error) {
        this.#logger.warn(`${what} failed: ${errorMessage(error)}`, { service: this.name });
        errors.push(error);
        return false;
      }
    };
    await this.#health.close();
    if (this.#tracker !== undefined) {
      await attempt('draining requests', async () => {
        const result: DrainResult = await this.#tracker!.drain(this.#options.drainTimeoutMs);
        this.#logger.info(`drained: ${result.completed} request(s) finished, ${result.forced} cut`, { ...result });
        if (result.forced > 0) {
          throw new KaryonError('ERR_SHUTDOWN', `${result.forced} request(s) still in flight after ${this.#options.drainTimeoutMs} ms were cut`, {
            service: this.name,
          });
        }
      });
    }
    if (runHooks) {
      const hooks = this.#shutdownHooks.filter((hook) => hook.afterInitializeHooks <= completedInitializeHooks).reverse();
      for (const hook of hooks) await attempt(`shutdown hook '${hook.name}'`, () => this.#runHook(hook, 'shutdown'));
    }
    this.#untee?.();
    if (this.#shadow !== undefined) await attempt('closing the shadow traffic', () => this.#shadow!.close());
    this.#clientsClosed = true;
    for (const client of this.#clients) await attempt(`closing the client of '${client.vip}'`, () => client.close());
    await attempt('closing the commands', () => this.#commands.close());
    if (this.#registered && this.#descriptor !== undefined) {
      const instanceId = this.#descriptor.instanceId;
      this.#registered = false;
      await this.#registryQueue;
      // Said only when the registry took it. A Eureka client resolves after its first attempt whatever the
      // answer (and retries): its events say whether the cancel went through.
      const cancelFailure = this.#registry instanceof EurekaRegistry ? watchCancel(this.#registry, instanceId) : undefined;
      const done = await attempt('deregistering', () => this.#registry.deregister(instanceId));
      const failure = cancelFailure?.();
      if (done && failure === undefined) this.#logger.info(`deregistered ${instanceId}`, { instanceId });
      else if (done) this.#logger.warn(`${instanceId} is not deregistered (${failure}): the registry drops it when its lease expires`, { instanceId });
    }
    if (this.#breakerRoutes !== undefined) await attempt('ending the hystrix streams', () => this.#breakerRoutes!.close());
    if (this.#admin !== undefined) await attempt('closing the admin server', () => this.#admin!.close());
    this.#releaseDefaultAdminPort();
    this.#unguard?.();
    await this.#registryRoutes?.close();
    await this.#breakerReporter?.close();
    this.#stopRegistryMetrics?.();
    for (const unbind of this.#configBindings.splice(0)) unbind();
    if (this.#startedConfig && this.#config !== undefined) await attempt('closing the configuration', () => this.#config!.close());
    if (this.#ownsRegistry) await attempt('closing the registry', () => this.#registry.close());
    return errors;
  }

  /** Sends what the metrics buffer; closes them too when the service made them. */
  #closeMetrics(): Promise<void> {
    return this.#ownedMetrics?.close() ?? this.#metrics.flush();
  }

  /** True once the service is shutting down, stopped or failed. */
  get #leaving(): boolean {
    const state = this.#machine.state;
    return state === 'SHUTTING_DOWN' || state === 'STOPPED' || state === 'FAILED';
  }

  /** Follows the configuration: metrics, rollback on readiness failure, and the library's live keys it has. */
  #bindConfig(config: DynamicConfig<object>): void {
    const bindings = this.#configBindings;
    bindings.push(bindConfigMetrics(config, configMetrics(this.#metrics)));
    if (this.#configRollbackMs !== undefined) {
      bindings.push(
        config.watchReadiness({
          windowMs: this.#configRollbackMs,
          isHealthy: () => this.#leaving || this.#health.ready,
          onHealthChange: (listener) => {
            this.#readinessListeners.add(listener);
            return () => this.#readinessListeners.delete(listener);
          },
        }),
      );
    }
    // The service's own configuration defaults to what the service runs with: only a key set otherwise (the
    // environment, an argument) applies at start. A configuration given applies every key it has.
    const layers = new Map(config.describe().keys.map((entry) => [entry.key, entry.layer]));
    const setElsewhere = (key: string): boolean => !this.#ownConfig || layers.get(key) !== 'default';
    const follow = (key: string, apply: (value: unknown) => void): void => {
      if (!config.hasKey(key)) return;
      const property = config.property(key as never) as { get(): unknown; onChange(fn: (value: unknown) => void): () => void };
      if (setElsewhere(key)) apply(property.get());
      bindings.push(property.onChange((value) => apply(value)));
    };
    follow('log.level', (level) => (this.#logLevel = level as LogLevel));
    follow('balancer.rule', (rule) => {
      this.#defaultRule = rule as string;
      for (const client of this.#clients) if (this.#ruleFollowers.has(client)) client.setRule(rule as BalancerRuleName);
    });
    const retryKeys = ['retry.budgetPercent', 'retry.minRetriesPerSecond', 'retry.budgetWindowMs'];
    if (retryKeys.every((key) => config.hasKey(key))) {
      const applyBudget = (): void => {
        const get = (key: string): number => config.get(key as never);
        this.#retryBudget = { ratio: get('retry.budgetPercent') / 100, minRetriesPerSecond: get('retry.minRetriesPerSecond'), ttlMs: get('retry.budgetWindowMs') };
        for (const client of this.#clients) client.setRetryBudget(this.#retryBudget);
      };
      if (retryKeys.some(setElsewhere)) applyBudget();
      bindings.push(config.onChange((event) => {
        if (event.changes.some((change) => retryKeys.includes(change.key))) applyBudget();
      }));
    }
    const breakerKeys: Record<string, keyof CommandSettingsOptions> = {
      'breaker.errorThresholdPercentage': 'errorThresholdPercentage',
      'breaker.requestVolumeThreshold': 'requestVolumeThreshold',
      'breaker.sleepWindowMs': 'sleepWindowMs',
      'breaker.timeoutMs': 'timeoutMs',
    };
    for (const [key, setting] of Object.entries(breakerKeys)) {
      // Commands take whole percentages, as Hystrix does.
      follow(key, (value) => this.#commands.setDefaults({ [setting]: setting === 'errorThresholdPercentage' ? Math.round(value as number) : value }));
    }
    const shadow = this.#shadow;
    if (shadow !== undefined) {
      for (const setting of shadowLiveSettings) {
        follow(`shadow.${setting}`, (value) => {
          try {
            shadow.setOptions({ [setting]: value });
          } catch (error) {
            this.#logger.warn(`shadow.${setting} not applied: ${errorMessage(error)}`, { service: this.name });
          }
        });
      }
    }
    const registry = this.#registry;
    if (registry instanceof EurekaRegistry) {
      follow('eureka.heartbeatIntervalMs', (ms) => registry.setIntervals({ heartbeatIntervalMs: ms as number }));
      follow('eureka.registryFetchIntervalMs', (ms) => registry.setIntervals({ registryFetchIntervalMs: ms as number }));
    }
  }

  /** The fixed wait after DOWN, and the longest wait while callers that do not retry elsewhere still call. */
  #deregistrationDelays(): { delayMs: number; maxMs: number } {
    const given = this.#options.deregistrationDelayMs;
    const delayMs = given ?? this.#registry.propagationDelayMs ?? 30_000;
    const defaultMax = given === undefined && delayMs > 0 ? Math.max(delayMs, DEFAULT_MAX_DEREGISTRATION_DELAY_MS) : delayMs;
    return { delayMs, maxMs: Math.max(delayMs, this.#options.maxDeregistrationDelayMs ?? defaultMax) };
  }

  // ---- state ------------------------------------------------------------------------------------------

  /** The running state the two inputs call for: readiness first, then the operator. */
  #desiredRunningState(): LifecycleState {
    if (!this.#health.ready) return 'DOWN';
    return this.#outOfServiceByOperator ? 'OUT_OF_SERVICE' : 'UP';
  }

  /** Moves a running service to the state its inputs call for; does nothing while starting or stopping. */
  #reconcile(reason: string, startFinished = false): void {
    const state = this.#machine.state;
    const running = state === 'UP' || state === 'DOWN' || state === 'OUT_OF_SERVICE';
    if (!running && !(startFinished && state === 'STARTING')) return;
    const desired = this.#desiredRunningState();
    const why = desired === 'DOWN' && reason === 'health changed' ? 'a readiness check is critical' : reason;
    this.#machine.transition(desired, why);
  }

  #onTransition(change: StateChange): void {
    this.#lifecycleMetrics.transition(change.from, change.to);
    this.#lifecycleMetrics.state(change.to);
    if (change.from === 'UP') this.#leftUpAt = change.at;
    if (change.to === 'UP') this.#leftUpAt = undefined;
    this.#logger.info(`${this.name} ${change.from} -> ${change.to} (${change.reason})`, {
      instanceId: this.instanceId,
      from: change.from,
      to: change.to,
    });
    const status = registryStatusOf(change.to);
    if (this.#registered && status !== undefined) {
      const instanceId = this.#describeOrThrow().instanceId;
      this.#enqueueRegistry(() => this.#registry.setStatus(instanceId, status));
    }
    this.emit('stateChange', change);
  }

  /** Registry calls run one at a time, in order, so the registry sees the states in the order they happened. */
  #enqueueRegistry(operation: () => Promise<void>): void {
    this.#registryQueue = this.#registryQueue.then(operation).catch((error: unknown) => {
      this.#logger.warn(`registry update failed: ${errorMessage(error)}`, { instanceId: this.instanceId });
    });
  }

  #requireOperable(operation: string): void {
    const state = this.#machine.state;
    if (state === 'SHUTTING_DOWN' || state === 'STOPPED' || state === 'FAILED' || this.#stopping !== undefined) {
      throw new KaryonError('ERR_INVALID_STATE', `${operation}() is not possible while ${state}`, {
        service: this.name,
        status: state,
      });
    }
  }

  // ---- helpers ----------------------------------------------------------------------------------------

  #hook(fn: LifecycleHook, options: HookOptions, defaultTimeoutMs: number, kind: string): Hook {
    if (typeof fn !== 'function') {
      throw new KaryonError('ERR_INVALID_OPTION', `${kind} hook must be a function (got ${typeof fn})`, { service: this.name });
    }
    const list = kind === 'initialize' ? this.#initializeHooks : this.#shutdownHooks;
    return {
      name: options.name ?? (fn.name === '' ? `${kind} hook #${list.length + 1}` : fn.name),
      fn,
      timeoutMs: durationMs(`${kind} hook timeoutMs`, options.timeoutMs, defaultTimeoutMs),
      afterInitializeHooks: this.#initializeHooks.length,
    };
  }

  async #runHook(hook: Hook, kind: 'initialize' | 'shutdown', signal?: AbortSignal): Promise<void> {
    const started = this.#clock.now();
    try {
      await runWithTimeout(hook.fn, {
        clock: this.#clock,
        timeoutMs: hook.timeoutMs,
        signal,
        onTimeout: () =>
          new KaryonError('ERR_HOOK_TIMEOUT', `${kind} hook '${hook.name}' did not finish within ${hook.timeoutMs} ms`, {
            service: this.name,
          }),
      });
      this.#logger.debug(`${kind} hook '${hook.name}' finished in ${this.#clock.now() - started} ms`);
    } catch (error) {
      // The hook's timeout, and stop() interrupting it, keep their own error; anything the hook threw (a
      // KaryonError of a call it made too) becomes ERR_HOOK_FAILED naming the hook, the error as its cause.
      if (isKaryonError(error, 'ERR_HOOK_TIMEOUT') || signal?.aborted === true) throw error;
      throw new KaryonError('ERR_HOOK_FAILED', `${kind} hook '${hook.name}' failed: ${errorMessage(error)}`, {
        service: this.name,
        cause: error,
      });
    }
  }

  #describe(port: number): InstanceDescriptor {
    const o = this.#options;
    const adminPort = this.#admin?.port;
    const base = `http://${o.hostName}:${port}`;
    const adminBase = adminPort === undefined ? base : `http://${o.hostName}:${adminPort}`;
    const metadata: Record<string, string> = { ...o.metadata, zone: o.zone };
    if (o.version !== undefined) metadata.version = o.version;
    if (adminPort !== undefined) metadata['management.port'] = String(adminPort);
    return Object.freeze({
      instanceId: o.instanceId ?? `${o.hostName}:${o.name}:${port}`,
      app: o.name.toUpperCase(),
      vipAddress: o.vipAddress,
      secureVipAddress: o.vipAddress,
      hostName: o.hostName,
      ipAddr: o.ipAddr,
      port,
      portEnabled: true,
      securePort: 443,
      securePortEnabled: false,
      zone: o.zone,
      metadata: Object.freeze(metadata),
      homePageUrl: `${base}/`,
      statusPageUrl: `${adminBase}/status`,
      healthCheckUrl: `${adminBase}/healthcheck`,
      leaseRenewalIntervalMs: o.renewalIntervalMs,
      leaseDurationMs: o.leaseDurationMs,
    });
  }

  /** Tags on every metric: known at creation, so the instance tag uses the configured id or host:name[:port]. */
  /**
   * How the Eureka client orders its servers: same zone first, shuffled by the instance's identity when it has a
   * stable one (an id, or a fixed port), so an instance keeps its order and a fleet spreads over the servers.
   */
  #serverChoice(): { zone: string; shuffleSeed?: string } {
    const o = this.#options;
    const seed = o.instanceId ?? (o.port === undefined || o.port === 0 ? undefined : `${o.hostName}:${o.name}:${o.port}`);
    return seed === undefined ? { zone: o.zone } : { zone: o.zone, shuffleSeed: seed };
  }

  #globalTags(): Record<string, string> {
    const o = this.#options;
    const port = o.port === undefined || o.port === 0 ? '' : `:${o.port}`;
    const tags: Record<string, string> = { app: o.name, instance: o.instanceId ?? `${o.hostName}:${o.name}${port}`, zone: o.zone };
    if (o.version !== undefined) tags.version = o.version;
    return tags;
  }

  #describeOrThrow(): InstanceDescriptor {
    if (this.#descriptor === undefined) throw new KaryonError('ERR_INVALID_STATE', 'the instance is not described yet');
    return this.#descriptor;
  }

  #statusReport(): StatusReport {
    const now = this.#clock.now();
    const state = this.#machine.state;
    return {
      app: this.name,
      instanceId: this.instanceId ?? '',
      vipAddress: this.#options.vipAddress,
      zone: this.#options.zone,
      version: this.#options.version,
      status: state,
      registryStatus: this.#registered ? registryStatusOf(state) : undefined,
      outOfServiceByOperator: this.#outOfServiceByOperator,
      since: this.#machine.since,
      startedAt: this.#startedAt,
      uptimeMs: this.#startedAt === undefined ? 0 : now - this.#startedAt,
      port: this.#descriptor?.port,
      transitions: [...this.#machine.history],
    };
  }

  #adminView(): AdminServiceView {
    return {
      status: () => this.#statusReport(),
      health: () => this.#health.evaluate(),
      setOperatorStatus: (status) => (status === 'UP' ? this.markUp() : this.markOutOfService()),
    };
  }
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
function reportRegistryMetrics(registry: EurekaRegistry, metrics: Metrics): () => void {
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
  registry.on('heartbeat', onHeartbeat).on('fetch', onFetch).on('hashMismatch', onHashMismatch);
  return () => {
    registry.off('heartbeat', onHeartbeat).off('fetch', onFetch).off('hashMismatch', onHashMismatch);
  };
}

/**
 * Follows the cancels of one instance: the returned function says why the last one failed (undefined when it
 * succeeded or none finished) and stops following.
 */
function watchCancel(registry: EurekaRegistry, instanceId: string): () => string | undefined {
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

/** What a service writes to when given no logger: concise lines on stderr, warnings and errors marked. */
function defaultLogger(): Logger {
  return lineLogger({ stdout: process.stderr, stderr: process.stderr, verbose: true });
}

function isMetrics(value: Metrics | MetricsOptions): value is Metrics {
  return typeof (value as Metrics).counter === 'function';
}

/**
 * Creates a service lifecycle. Nothing listens or registers until `start()`.
 *
 * @example
 * ```ts
 * const server = http.createServer(handler);
 * const service = createService({ name: 'greeter', server, port: 8080, admin: { port: 8077 } });
 * service.onInitialize(async (signal) => { await warmCaches(signal); });
 * service.addHealthCheck('db', async () => ({ status: (await db.ping()) ? 'UP' : 'DOWN' }));
 * installSignalHandlers(service); // SIGTERM -> graceful stop(), during start() too
 * await service.start();          // STARTING -> UP
 * ```
 * @throws KaryonError ERR_INVALID_OPTION naming the option that is wrong.
 */
export function createService(options: ServiceOptions): Service {
  return new Service(options);
}
