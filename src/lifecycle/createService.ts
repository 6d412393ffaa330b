// The one place a service is put together: each part is made from the options by a small named step, told what it
// needs of the others, and registers its close on the shutdown stack where it is made (what the service did not
// make, a registry, metrics or a started configuration passed in, registers none). Read top to bottom, this is the
// whole wiring: registry and metrics, health, the application's server, admin, clients and commands, shadow
// traffic, configuration, then the lifecycle that runs them.
import { BreakerMetricsReporter } from '../metrics/BreakerMetricsReporter.js';
import { CommandRegistry } from '../breaker/CommandRegistry.js';
import { systemClock } from '../common/Clock.js';
import { HealthMonitor } from '../health/HealthMonitor.js';
import { durationMs } from '../internal/validate.js';
import { healthMetrics, lifecycleMetrics } from '../metrics/builtin.js';
import { resolveEurekaRegistryOptions } from '../registry/eureka/EurekaRegistryOptions.js';
import { describeInstance } from './instanceDescriptor.js';
import { Lifecycle } from './Lifecycle.js';
import { listenAdmin, listenApp } from './listenServers.js';
import { followConfig } from './liveSettings.js';
import { makeMetrics, makeRegistry } from './makeRegistry.js';
import { Service } from './Service.js';
import { serveAdminRoutes, serviceAdmin } from './serviceAdmin.js';
import { ServiceClients } from './ServiceClients.js';
import { serviceConfig } from './serviceConfig.js';
import { serviceLogger } from './serviceLogger.js';
import { checkServiceOptionsShape, resolveServiceOptions } from './ServiceOptions.js';
import type { ServiceOptions } from './ServiceOptions.js';
import { serviceShadow } from './serviceShadow.js';
import { ShutdownStack } from './ShutdownStack.js';
import { trackServer } from './trackServer.js';

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
  // Checked before anything reads a field, so that `createService(null)` names the problem instead of failing
  // with a TypeError on `options.registry`.
  checkServiceOptionsShape(options);
  const o = resolveServiceOptions(options);
  const { name } = o;
  const clock = options.clock ?? systemClock;
  const log = serviceLogger(options.logger);
  const logger = log.logger;
  const rollbackMs = options.configRollback === undefined ? undefined : durationMs('configRollback.windowMs', options.configRollback.windowMs, 30_000);
  const shutdown = new ShutdownStack();

  // The registry and the metrics, and what the registry adds (its metrics, its live keys, whether a cancel landed).
  const registry = makeRegistry(options.registry, o, clock, logger, shutdown);
  const { metrics, flush, none: noMetrics } = makeMetrics(options.metrics, o, clock, logger);
  const extras = registry.serviceExtras?.(metrics);
  if (extras !== undefined) shutdown.add('owned', 'ending the registry metrics', () => extras.close());

  // Health: its verdict moves the lifecycle and, with configRollback, may roll the configuration back.
  const checkMetrics = healthMetrics(metrics);
  const readinessListeners = new Set<(ready: boolean) => void>();
  const health = new HealthMonitor({
    clock,
    onCheckRun: (check, result, ms) => checkMetrics.check(check, result, ms),
    onCheckChange: (change) => {
      logger.info(`health check '${change.name}' ${change.from} -> ${change.to}`, { check: change.name });
      service.emit('healthChange', change);
    },
    onVerdictChange: ({ ready }) => {
      lifecycle.reconcile('health changed');
      // Checks failing while the service shuts down (its database pool closed by a shutdown hook) say nothing
      // of the last configuration change: no rollback from them.
      if (lifecycle.leaving) return;
      for (const listener of readinessListeners) listener(ready);
    },
  });

  const admin = serviceAdmin(options.admin, { options: o, clock, logger, metrics, health, lifecycle: () => lifecycle });
  const tracker = trackServer(options.server, options.outOfServiceGuard, { name, clock, logger, drainTimeoutMs: o.drainTimeoutMs, state: () => lifecycle.state }, shutdown);

  // Outbound: commands, the clients sharing them, their metrics, and the shadow traffic.
  const commands = new CommandRegistry({ group: name, clock, logger });
  shutdown.add('clients', 'closing the commands', () => commands.close());
  const clients = new ServiceClients({ clock, logger, registry, zone: o.zone, metrics, commands });
  shutdown.add('clients', 'closing the clients', (fail) => clients.close(fail));
  if (!noMetrics) {
    const reporter = new BreakerMetricsReporter(commands, metrics, clock);
    shutdown.add('owned', 'ending the breaker metrics', () => reporter.close());
  }
  const shadow = serviceShadow(options.shadow, options.server, { clock, logger, registry, metrics }, shutdown);

  // The configuration given, or the service's own: the library's live keys at the values the service runs with.
  const eureka = options.registry !== undefined && 'eureka' in options.registry ? resolveEurekaRegistryOptions(options.registry.eureka) : undefined;
  const config =
    options.config ??
    serviceConfig({
      settings: options.settings,
      logLevel: log.level(),
      eureka: eureka === undefined ? undefined : { heartbeatIntervalMs: eureka.heartbeatIntervalMs, registryFetchIntervalMs: eureka.registryFetchIntervalMs },
      shadow: shadow?.settings,
      clock,
      logger,
    });

  let releaseAdminPort = (): void => undefined;
  if (admin !== undefined) serveAdminRoutes(admin, { registry, clock, commands, metrics, clients, shadow, config, onClosed: () => releaseAdminPort() }, shutdown);

  // What start() opens before registering: the configuration (the service then follows its live keys), then the
  // servers, the admin server first (see listenServers.ts).
  const openConfig = followConfig(config, {
    name,
    logger,
    metrics,
    ownConfig: options.config === undefined,
    setLogLevel: (level) => log.setLevel(level),
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
  }, shutdown);
  let port = o.port ?? 8080;
  const openServers = async (): Promise<void> => {
    if (admin !== undefined) releaseAdminPort = await listenAdmin(admin.server, admin.portGiven, name, logger);
    if (options.server !== undefined) port = await listenApp(options.server, o.port ?? 8080, o.host, name, logger);
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
    describe: () => describeInstance(o, port, admin?.server.port),
    flush,
    onStateChange: (change) => service.emit('stateChange', change),
  });

  // The parts' events are emitted on it; none is emitted before it is used (checks run, states change from start()).
  const service = new Service({ options: o, lifecycle, registry, metrics, health, admin: admin?.server, commands, shadow, clients });
  return service;
}
