// The shadow traffic a service makes from its `shadow` option: copies of its server's requests and of the calls of
// the clients given `{ shadow: service.shadow }`, sent to the shadow VIPs of its registry.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../common/Clock.js';
import type { Logger } from '../common/Logger.js';
import { createShadowTraffic } from '../http/shadow/ShadowTraffic.js';
import type { ShadowTraffic } from '../http/shadow/ShadowTraffic.js';
import type { NodeHttpServer } from '../inbound/ServerTracker.js';
import { bindShadowMetrics } from '../metrics/bindShadowMetrics.js';
import { shadowMetrics } from '../metrics/builtin.js';
import type { Metrics } from '../metrics/types.js';
import type { ServiceRegistry } from '../registry/types.js';
import type { ServiceShadowOptions } from './ServiceOptions.js';
import type { ShutdownStack } from './ShutdownStack.js';

/** What the shadow traffic shares with the service. */
export interface ServiceShadowDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly registry: ServiceRegistry;
  readonly metrics: Metrics;
}

/**
 * The shadow traffic of the `shadow` option, teeing `server`'s requests unless `teeServer` is false; its close and
 * the tee's removal are registered in the clients phase. Undefined without the option.
 */
export function serviceShadow(
  option: ServiceShadowOptions | undefined,
  server: NodeHttpServer | undefined,
  deps: ServiceShadowDeps,
  shutdown: ShutdownStack,
): ShadowTraffic | undefined {
  if (option === undefined) return undefined;
  const { teeServer = true, ...shadowOptions } = option;
  const shadow = createShadowTraffic({ clock: deps.clock, logger: deps.logger, ...shadowOptions, registry: deps.registry });
  bindShadowMetrics(shadow, shadowMetrics(deps.metrics));
  shutdown.add('clients', 'closing the shadow traffic', () => shadow.close());
  if (teeServer && server !== undefined) {
    // Before the application's handler, so the body and the answer are seen from their first byte.
    const observe = (req: IncomingMessage, res: ServerResponse): void => shadow.observe(req, res);
    server.prependListener('request', observe);
    shutdown.add('clients', 'removing the shadow tee', () => server.removeListener('request', observe));
  }
  return shadow;
}
