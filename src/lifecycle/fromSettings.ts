import { loadAdminTokens } from '../admin/AdminTokens.js';
import type { AdminOptions } from '../admin/AdminOptions.js';
import type { KaryonSettings } from '../config/schema.js';
import type { ServiceOptions } from './Service.js';

/**
 * Turns loaded {@link KaryonSettings} into {@link ServiceOptions}: name, port, zone, advertised host, admin port and token,
 * admin tokens (reading the tokens file), deregistration delay, lease renewal interval, the Eureka client
 * (when service URLs are set, with its token), and metrics: statsd, Prometheus exposition on the admin port;
 * and the settings themselves, so `GET /config` shows each with the layer it came from.
 * @throws KaryonError ERR_INVALID_CONFIG when the admin tokens file cannot be read or is invalid. Spread your own options over the result.
 *
 * @example
 * ```ts
 * const settings = loadSettings({ env: process.env });
 * const service = createService({ ...serviceOptionsFromSettings(settings), server });
 * ```
 */
export function serviceOptionsFromSettings(settings: KaryonSettings): ServiceOptions {
  const { app, admin, lifecycle, eureka, statsd, metrics } = settings;
  const adminOptions: AdminOptions = {
    port: admin.port,
    ...(admin.host === null ? {} : { host: admin.host }),
    ...(admin.token === null ? {} : { token: admin.token }),
    ...(admin.tokensFile === null ? {} : { tokens: loadAdminTokens({ file: admin.tokensFile }) }),
  };
  return {
    ...(statsd.host === null && !metrics.prometheus
      ? {}
      : { metrics: { ...(statsd.host === null ? {} : { host: statsd.host, port: statsd.port }), ...(metrics.prometheus ? { prometheus: true } : {}) } }),
    ...(eureka.serviceUrls.length === 0
      ? {}
      : {
          registry: {
            eureka: {
              serviceUrls: eureka.serviceUrls,
              heartbeatIntervalMs: eureka.heartbeatIntervalMs,
              registryFetchIntervalMs: eureka.registryFetchIntervalMs,
              ...(eureka.token === null ? {} : { token: eureka.token }),
              ...(eureka.tokenHeader === null ? {} : { tokenHeader: eureka.tokenHeader }),
              decodePriority: eureka.decodePriority,
            },
          },
        }),
    settings,
    name: app.name,
    port: app.port,
    zone: app.zone,
    ...(app.hostName === null ? {} : { hostName: app.hostName }),
    ...(app.ipAddr === null ? {} : { ipAddr: app.ipAddr }),
    ...(eureka.preferIpAddress ? { preferIpAddress: true } : {}),
    admin: adminOptions,
    lifecycle: {
      ...(lifecycle.deregistrationDelayMs === null ? {} : { deregistrationDelayMs: lifecycle.deregistrationDelayMs }),
      ...(lifecycle.maxDeregistrationDelayMs === null ? {} : { maxDeregistrationDelayMs: lifecycle.maxDeregistrationDelayMs }),
      quietPeriodMs: lifecycle.quietPeriodMs,
    },
    lease: { renewalIntervalMs: eureka.heartbeatIntervalMs, durationMs: eureka.heartbeatIntervalMs * 3 },
  };
}
