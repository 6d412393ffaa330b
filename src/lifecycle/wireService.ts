// The one place a service is put together (what createService() runs): each part is made from the options, told
// what it needs of the others, and registers its close on the shutdown stack where it is made. What the service
// did not make (a registry, metrics or a started configuration passed in) registers no close.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AdminServer, resolveAdminOptions } from '../admin/AdminServer.js';
import { registryAdminRoutes } from '../admin/registryRoutes.js';
import type { AdminServiceView } from '../admin/types.js';
import { adminUiRoutes } from '../admin/uiRoutes.js';
import { breakerAdminRoutes } from '../breaker/breakerAdminRoutes.js';
import { BreakerMetricsReporter } from '../breaker/BreakerMetricsReporter.js';
import { CommandRegistry } from '../breaker/CommandRegistry.js';
import { systemClock } from '../common/Clock.js';
import type { Clock } from '../common/Clock.js';
import { KaryonError } from '../common/KaryonError.js';
import { adaptLogger, silentLogger } from '../common/Logger.js';
import type { Logger } from '../common/Logger.js';
import { lineLogger } from '../common/lineLogger.js';
import { configAdminRoutes } from '../config/configAdminRoutes.js';
import type { DynamicConfig } from '../config/DynamicConfig.js';
import { filterLogger } from '../config/filterLogger.js';
import type { LogLevel } from '../config/karyonConfigSchema.js';
import { HealthMonitor } from '../health/HealthMonitor.js';
import type { CheckChange } from '../health/HealthMonitor.js';
import { registerInstancesRoute } from '../http/registerInstancesRoute.js';
import { shadowAdminRoutes } from '../http/shadow/shadowAdminRoutes.js';
import { createShadowTraffic } from '../http/shadow/ShadowTraffic.js';
import type { ShadowTraffic } from '../http/shadow/ShadowTraffic.js';
import { guardServer } from '../inbound/outOfServiceGuard.js';
import { ServerTracker } from '../inbound/ServerTracker.js';
import { durationMs, invalidOption } from '../internal/validate.js';
import { adminMetrics, healthMetrics, lifecycleMetrics, shadowMetrics } from '../metrics/builtin.js';
import { createMetrics } from '../metrics/createMetrics.js';
import type { MetricsOptions } from '../metrics/MetricsOptions.js';
import { metricsAdminRoutes } from '../metrics/metricsAdminRoutes.js';
import { noopMetrics } from '../metrics/noopMetrics.js';
import type { Metrics } from '../metrics/types.js';
import { EurekaRegistry } from '../registry/eureka/EurekaRegistry.js';
import { resolveEurekaRegistryOptions } from '../registry/eureka/EurekaRegistryOptions.js';
import { InMemoryRegistry } from '../registry/InMemoryRegistry.js';
import type { ServiceRegistry } from '../registry/types.js';
import { describeInstance, eurekaServerChoice, metricTags } from './instanceDescriptor.js';
import { Lifecycle } from './Lifecycle.js';
import { listenAdmin, listenApp } from './listenServers.js';
import { bindLiveSettings } from './liveSettings.js';
import { serviceConfig } from './serviceConfig.js';
import { ServiceClients } from './ServiceClients.js';
import { checkServiceOptionsShape, resolveServiceOptions } from './ServiceOptions.js';
import type { ResolvedServiceOptions, ServiceOptions } from './ServiceOptions.js';
import { ShutdownStack } from './ShutdownStack.js';
import type { StateChange } from './StateMachine.js';

/** The parts of a service, as `Service` exposes them. */
export interface ServiceParts {
  readonly options: ResolvedServiceOptions;
  readonly lifecycle: Lifecycle;
  readonly registry: ServiceRegistry;
  readonly metrics: Metrics;
  readonly health: HealthMonitor;
  readonly admin: AdminServer | undefined;
  readonly commands: CommandRegistry;
  readonly shadow: ShadowTraffic | undefined;
  readonly clients: ServiceClients;
}

/** Where a service's events go (its `emit`). */
export interface ServiceEventSink {
  stateChange(change: StateChange): void;
  healthChange(change: CheckChange): void;
}

/**
 * Makes the parts of a service from its options.
 * @throws KaryonError ERR_INVALID_OPTION naming the option that is wrong.
 */
export function wireService(options: ServiceOptions, events: ServiceEventSink): ServiceParts {
  // Checked before anything reads a field, so that `createService(null)` names the problem instead of failing
  // with a TypeError on `options.registry`.
  checkServiceOptionsShape(options);
  const o = resolveServiceOptions(options);
  const name = o.name;
  const clock = options.clock ?? systemClock;
  const shutdown = new ShutdownStack();
  // A given logger gets everything ('debug'), the default one 'info', until a configuration's log.level says otherwise.
  let logLevel: LogLevel = options.logger === undefined ? 'info' : 'debug';
  const baseLogger = options.logger === undefined ? defaultLogger() : options.logger === false ? silentLogger : adaptLogger(options.logger);
  const logger = filterLogger(baseLogger, { get: () => logLevel });
  const rollbackMs = options.configRollback === undefined ? undefined : durationMs('configRollback.windowMs', options.configRollback.windowMs, 30_000);

  const registry = makeRegistry(options, o, clock, logger, shutdown);
  const { metrics, flush, none: noMetrics } = makeMetrics(options.metrics, o, clock, logger);
  const extras = registry.serviceExtras?.(metrics);
  if (extras !== undefined) shutdown.add('owned', 'ending the registry metrics', () => extras.close());

  const checkMetrics = healthMetrics(metrics);
  const readinessListeners = new Set<(ready: boolean) => void>();
  const health = new HealthMonitor({
    clock,
    onCheckRun: (check, result, ms) => checkMetrics.check(check, result, ms),
    onCheckChange: (change) => {
      logger.info(`health check '${change.name}' ${change.from} -> ${change.to}`, { check: change.name });
      events.healthChange(change);
    },
    onVerdictChange: ({ ready }) => {
      lifecycle.reconcile('health changed');
      // Checks failing while the service shuts down (its database pool closed by a shutdown hook) say nothing
      // of the last configuration change: no rollback from them.
      if (lifecycle.leaving) return;
      for (const listener of readinessListeners) listener(ready);
    },
  });

  const adminOptions = options.admin === false ? undefined : resolveAdminOptions(options.admin ?? {});
  const admin = adminOptions === undefined ? undefined : new AdminServer(adminView(), adminOptions, { logger, clock, auditMetrics: adminMetrics(metrics) });
  const adminPortGiven = options.admin !== undefined && options.admin !== false && options.admin.port !== undefined;
  let releaseAdminPort = (): void => undefined;

  const server = options.server;
  const tracker = server === undefined ? undefined : new ServerTracker(server, clock);
  if (tracker !== undefined) shutdown.add('drain', 'draining requests', () => drain(tracker));
  const guard = options.outOfServiceGuard ?? true;
  if (typeof guard !== 'boolean' && (typeof guard !== 'object' || guard === null)) invalidOption('outOfServiceGuard', 'a boolean or guard options', guard);
  if (server !== undefined && guard !== false) {
    const unguard = guardServer(server, () => lifecycle.state, guard === true ? {} : guard);
    shutdown.add('owned', 'removing the out-of-service guard', unguard);
  }

  const eurekaOptions = options.registry !== undefined && 'eureka' in options.registry ? resolveEurekaRegistryOptions(options.registry.eureka) : undefined;
  const commands = new CommandRegistry({ group: name, clock, logger });
  shutdown.add('clients', 'closing the commands', () => commands.close());
  const clients = new ServiceClients({ clock, logger, registry, zone: o.zone, metrics, commands });
  shutdown.add('clients', 'closing the clients', (fail) => clients.close(fail));
  if (!noMetrics) {
    const reporter = new BreakerMetricsReporter(commands, metrics, clock);
    shutdown.add('owned', 'ending the breaker metrics', () => reporter.close());
  }
  if (admin !== undefined) {
    const registryRoutes = registryAdminRoutes(admin, registry, { clock });
    shutdown.add('admin', 'ending the registry streams', () => registryRoutes.close());
    shutdown.add('admin', 'closing the admin server', async () => {
      try {
        await admin.close();
      } finally {
        releaseAdminPort();
      }
    });
    const breakerRoutes = breakerAdminRoutes(admin, commands);
    shutdown.add('admin', 'ending the hystrix streams', () => breakerRoutes.close());
  }

  let shadow: ShadowTraffic | undefined;
  if (options.shadow !== undefined) {
    const { teeServer = true, ...shadowOptions } = options.shadow;
    const made = createShadowTraffic({ clock, logger, ...shadowOptions, registry, metrics: shadowMetrics(metrics) });
    shadow = made;
    shutdown.add('clients', 'closing the shadow traffic', () => made.close());
    if (teeServer && server !== undefined) {
      // Before the application's handler, so the body and the answer are seen from their first byte.
      const observe = (req: IncomingMessage, res: ServerResponse): void => made.observe(req, res);
      server.prependListener('request', observe);
      shutdown.add('clients', 'removing the shadow tee', () => server.removeListener('request', observe));
    }
  }

  const config: DynamicConfig<object> | undefined =
    options.config ??
    serviceConfig({
      settings: options.settings,
      logLevel,
      eureka: eurekaOptions === undefined ? undefined : { heartbeatIntervalMs: eurekaOptions.heartbeatIntervalMs, registryFetchIntervalMs: eurekaOptions.registryFetchIntervalMs },
      shadow: shadow?.settings,
      clock,
      logger,
    });
  if (admin !== undefined) {
    if (adminOptions?.ui === true) adminUiRoutes(admin);
    // Without the exposition, GET /metrics answers 404 saying how to turn it on.
    metricsAdminRoutes(admin, metrics);
    registerInstancesRoute(admin, () => clients.all, { registryPath: '/registry' });
    if (shadow !== undefined) shadowAdminRoutes(admin, shadow);
    if (config !== undefined) configAdminRoutes(admin, config);
  }

  /** The configuration starts first (unless already started), then the service follows it. */
  const openConfig = async (signal: AbortSignal): Promise<void> => {
    if (config === undefined) return;
    if (!config.started) {
      shutdown.add('owned', 'closing the configuration', () => config.close());
      await config.start(signal);
    }
    const bindings = bindLiveSettings(config, {
      name,
      logger,
      metrics,
      ownConfig: options.config === undefined,
      setLogLevel: (level) => (logLevel = level),
      clients,
      commands,
      shadow,
      registrySettings: extras?.liveSettings ?? {},
      ...(rollbackMs === undefined
        ? {}
        : {
            rollback: {
              windowMs: rollbackMs,
              isHealthy: () => lifecycle.leaving || health.ready,
              onHealthChange: (listener: (ready: boolean) => void) => {
                readinessListeners.add(listener);
                return () => readinessListeners.delete(listener);
              },
            },
          }),
    });
    shutdown.add('owned', 'unbinding the configuration', () => {
      for (const unbind of bindings) unbind();
    });
  };

  let port = o.port ?? 8080;
  /** The admin server listens, then the application's server (see listenServers.ts). */
  const openServers = async (): Promise<void> => {
    if (admin !== undefined) releaseAdminPort = await listenAdmin(admin, adminPortGiven, name, logger);
    if (server !== undefined) port = await listenApp(server, o.port ?? 8080, o.host, name, logger);
  };

  const lifecycle: Lifecycle = new Lifecycle({
    name,
    instanceId: o.instanceId,
    clock,
    logger,
    timings: o,
    registrar: {
      // Read at stop(): the registry's live fetch interval may have changed it.
      get propagationDelayMs() {
        return registry.propagationDelayMs;
      },
      register: (instance, status, signal) => registry.register(instance, status, signal),
      setStatus: (instanceId, status) => registry.setStatus(instanceId, status),
      deregister: (instanceId) => registry.deregister(instanceId),
      ...(extras === undefined ? {} : { watchDeregistration: (instanceId: string) => extras.watchDeregistration(instanceId) }),
    },
    health,
    drain: tracker,
    shutdown,
    metrics: lifecycleMetrics(metrics),
    open: [openConfig, openServers],
    describe: () => describeInstance(o, port, admin?.port),
    flush,
    onStateChange: (change) => events.stateChange(change),
  });

  /** Waits for the requests in flight, up to `drainTimeoutMs`, then cuts them. */
  async function drain(requests: ServerTracker): Promise<void> {
    const result = await requests.drain(o.drainTimeoutMs);
    logger.info(`drained: ${result.completed} request(s) finished, ${result.forced} cut`, { ...result });
    if (result.forced > 0) {
      throw new KaryonError('ERR_SHUTDOWN', `${result.forced} request(s) still in flight after ${o.drainTimeoutMs} ms were cut`, { service: name });
    }
  }

  /** What the admin server sees of the service. */
  function adminView(): AdminServiceView {
    return {
      status: () => {
        const now = clock.now();
        const startedAt = lifecycle.startedAt;
        return {
          app: name,
          instanceId: lifecycle.instanceId ?? '',
          vipAddress: o.vipAddress,
          zone: o.zone,
          version: o.version,
          status: lifecycle.state,
          registryStatus: lifecycle.registryStatus,
          outOfServiceByOperator: lifecycle.outOfServiceByOperator,
          since: lifecycle.since,
          startedAt,
          uptimeMs: startedAt === undefined ? 0 : now - startedAt,
          port: lifecycle.descriptor?.port,
          transitions: [...lifecycle.history],
        };
      },
      health: () => health.evaluate(),
      setOperatorStatus: (status) => lifecycle.setOperatorOutOfService(status !== 'UP'),
    };
  }

  return { options: o, lifecycle, registry, metrics, health, admin, commands, shadow, clients };
}

/** The registry the options name; one the service makes registers its close. */
function makeRegistry(options: ServiceOptions, o: ResolvedServiceOptions, clock: Clock, logger: Logger, shutdown: ShutdownStack): ServiceRegistry {
  const given = options.registry;
  if (given !== undefined && !('eureka' in given)) return given;
  const made = given === undefined ? new InMemoryRegistry({ clock }) : new EurekaRegistry({ clock, logger, ...eurekaServerChoice(o), ...given.eureka });
  shutdown.add('owned', 'closing the registry', () => made.close());
  return made;
}

/**
 * The service's metrics, tagged with its identity, and what the end of stop() does with them: closes them when
 * the service made them, flushes them otherwise.
 */
function makeMetrics(
  option: Metrics | MetricsOptions | undefined,
  o: ResolvedServiceOptions,
  clock: Clock,
  logger: Logger,
): { metrics: Metrics; flush: () => Promise<void>; none: boolean } {
  const owned = option === undefined || isMetrics(option) ? undefined : createMetrics({ clock, logger, ...option });
  const root = owned ?? (option as Metrics | undefined) ?? noopMetrics;
  const metrics = root.scope('', metricTags(o));
  return { metrics, flush: () => owned?.close() ?? metrics.flush(), none: root === noopMetrics };
}

/** What a service writes to when given no logger: concise lines on stderr, warnings and errors marked. */
function defaultLogger(): Logger {
  return lineLogger({ stdout: process.stderr, stderr: process.stderr, verbose: true });
}

function isMetrics(value: Metrics | MetricsOptions): value is Metrics {
  return typeof (value as Metrics).counter === 'function';
}
