import type { KaryonSettings } from '../config/schema.js';
import type { ServiceOptions } from './Service.js';

/**
 * Turns loaded {@link KaryonSettings} into {@link ServiceOptions}: name, port, zone, admin port and token,
 * deregistration delay, lease renewal interval, the Eureka client (when service URLs are set) and statsd
 * metrics. Spread your own options over the result.
 *
 * @example
 * ```ts
 * const settings = loadSettings({ env: process.env });
 * const service = createService({ ...serviceOptionsFromSettings(settings), server });
 * ```
 */
export function serviceOptionsFromSettings(settings: KaryonSettings): ServiceOptions {
  const { app, admin, lifecycle, eureka, statsd } = settings;
  return {
    ...(statsd.host === null ? {} : { metrics: { host: statsd.host, port: statsd.port } }),
    ...(eureka.serviceUrls.length === 0
      ? {}
      : {
          registry: {
            eureka: {
              serviceUrls: eureka.serviceUrls,
              heartbeatIntervalMs: eureka.heartbeatIntervalMs,
              registryFetchIntervalMs: eureka.registryFetchIntervalMs,
            },
          },
        }),
    name: app.name,
    port: app.port,
    zone: app.zone,
    admin: admin.token === null ? { port: admin.port } : { port: admin.port, token: admin.token },
    lifecycle: lifecycle.deregistrationDelayMs === null ? {} : { deregistrationDelayMs: lifecycle.deregistrationDelayMs },
    lease: { renewalIntervalMs: eureka.heartbeatIntervalMs, durationMs: eureka.heartbeatIntervalMs * 3 },
  };
}
