import type { RouteTarget } from '../common/RouteTarget.js';
import { sendJson, sendText } from '../internal/http.js';
import type { Metrics } from './types.js';

/**
 * Adds `GET /metrics` (the Prometheus text exposition format 0.0.4) to the admin server. When `metrics` has
 * no Prometheus aggregation the endpoint answers 404 with the option to set, rather than an empty page a
 * scraper would take for a healthy target.
 *
 * @example
 * ```ts
 * const metrics = createMetrics({ prometheus: true });
 * metricsAdminRoutes(admin, metrics); // admin: an AdminServer
 * ```
 */
export function metricsAdminRoutes(admin: RouteTarget, metrics: Metrics): void {
  admin.route('GET', '/metrics', (_req, res) => {
    const exposition = metrics.prometheus;
    if (exposition === undefined) {
      sendJson(res, 404, { error: 'the Prometheus exposition is off; create the metrics with `prometheus: true` (KARYON_METRICS_PROMETHEUS=true)' });
      return;
    }
    sendText(res, 200, exposition.render(), { 'content-type': exposition.contentType, 'cache-control': 'no-store' });
  });
}
