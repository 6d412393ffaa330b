// The admin server of a service: what it sees of the service, and the routes each part of the service serves on it.
import { AdminServer, resolveAdminOptions } from '../admin/AdminServer.js';
import type { AdminOptions } from '../admin/AdminServer.js';
import { registryAdminRoutes } from '../admin/registryRoutes.js';
import type { AdminServiceView } from '../admin/types.js';
import { adminUiRoutes } from '../admin/uiRoutes.js';
import { breakerAdminRoutes } from '../breaker/breakerAdminRoutes.js';
import type { CommandRegistry } from '../breaker/CommandRegistry.js';
import type { Clock } from '../common/Clock.js';
import type { Logger } from '../common/Logger.js';
import { configAdminRoutes } from '../config/configAdminRoutes.js';
import type { DynamicConfig } from '../config/DynamicConfig.js';
import type { HealthMonitor } from '../health/HealthMonitor.js';
import { registerInstancesRoute } from '../http/registerInstancesRoute.js';
import { shadowAdminRoutes } from '../http/shadow/shadowAdminRoutes.js';
import type { ShadowTraffic } from '../http/shadow/ShadowTraffic.js';
import { adminMetrics } from '../metrics/builtin.js';
import { metricsAdminRoutes } from '../metrics/metricsAdminRoutes.js';
import type { Metrics } from '../metrics/types.js';
import type { ServiceRegistry } from '../registry/types.js';
import type { Lifecycle } from './Lifecycle.js';
import type { ResolvedServiceOptions } from './ServiceOptions.js';
import type { ServiceClients } from './ServiceClients.js';
import type { ShutdownStack } from './ShutdownStack.js';

/** What the admin server of a service reads. */
export interface ServiceAdminDeps {
  readonly options: ResolvedServiceOptions;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly health: HealthMonitor;
  /** The lifecycle, read only once the service runs (it is made after the admin server). */
  readonly lifecycle: () => Lifecycle;
}

/** A service's admin server, with what its options say of where it listens and what it serves. */
export interface ServiceAdmin {
  readonly server: AdminServer;
  /** The port was given: taken, it fails the start instead of falling back to a free port. */
  readonly portGiven: boolean;
  /** Serve the web UI. */
  readonly ui: boolean;
}

/** The admin server of the `admin` option, or undefined for `false`. */
export function serviceAdmin(option: AdminOptions | false | undefined, deps: ServiceAdminDeps): ServiceAdmin | undefined {
  if (option === false) return undefined;
  const resolved = resolveAdminOptions(option ?? {});
  const server = new AdminServer(adminView(deps), resolved, { logger: deps.logger, clock: deps.clock, auditMetrics: adminMetrics(deps.metrics) });
  return { server, portGiven: option !== undefined && option.port !== undefined, ui: resolved.ui };
}

/** The parts of a service that serve routes on its admin server. */
export interface AdminRouteSources {
  readonly registry: ServiceRegistry;
  readonly clock: Clock;
  readonly commands: CommandRegistry;
  readonly metrics: Metrics;
  readonly clients: ServiceClients;
  readonly shadow: ShadowTraffic | undefined;
  readonly config: DynamicConfig<object> | undefined;
  /** Runs once the admin server is closed (releases its hold on the default admin port). */
  readonly onClosed: () => void;
}

/**
 * Serves each part's routes on the admin server (the web UI when on, metrics, instances, registry and Hystrix
 * streams, breakers, shadow, config), and registers in the admin phase the end of the streams and the close.
 */
export function serveAdminRoutes({ server: admin, ui }: ServiceAdmin, parts: AdminRouteSources, shutdown: ShutdownStack): void {
  const registryRoutes = registryAdminRoutes(admin, parts.registry, { clock: parts.clock });
  shutdown.add('admin', 'ending the registry streams', () => registryRoutes.close());
  shutdown.add('admin', 'closing the admin server', async () => {
    try {
      await admin.close();
    } finally {
      parts.onClosed();
    }
  });
  const breakerRoutes = breakerAdminRoutes(admin, parts.commands);
  shutdown.add('admin', 'ending the hystrix streams', () => breakerRoutes.close());
  if (ui) adminUiRoutes(admin);
  // Without the exposition, GET /metrics answers 404 saying how to turn it on.
  metricsAdminRoutes(admin, parts.metrics);
  registerInstancesRoute(admin, () => parts.clients.all, { registryPath: '/registry' });
  if (parts.shadow !== undefined) shadowAdminRoutes(admin, parts.shadow);
  if (parts.config !== undefined) configAdminRoutes(admin, parts.config);
}

/** What the admin server sees of the service. */
function adminView(deps: ServiceAdminDeps): AdminServiceView {
  const { options: o, clock, health } = deps;
  return {
    status: () => {
      const lifecycle = deps.lifecycle();
      const now = clock.now();
      const startedAt = lifecycle.startedAt;
      return {
        app: o.name,
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
    setOperatorStatus: (status) => deps.lifecycle().setOperatorOutOfService(status !== 'UP'),
  };
}
