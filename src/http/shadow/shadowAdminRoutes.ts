import { isKaryonError } from '../../common/KaryonError.js';
import type { RouteTarget } from '../../common/RouteTarget.js';
import { HttpError, readJson, sendJson } from '../../internal/http.js';
import type { ShadowSettings } from './ShadowOptions.js';
import type { ShadowTraffic } from './ShadowTraffic.js';

const fields = ['enabled', 'rate'] as const;

/**
 * Adds the shadow traffic endpoints to the admin server:
 * - `GET /shadow`: the kill switch, the rate, counts per shadow VIP and the recent differences (see
 *   `ShadowReport`); 404 while there is no shadow traffic;
 * - `PUT /shadow` (a mutation): `{"enabled": false}` is the kill switch, `{"enabled": true}` turns teeing
 *   back on, `{"rate": 0.1}` changes the sampled share; answers the new report, 400 on bad input.
 *
 * `shadow` may be a function, for a service whose shadow traffic comes and goes.
 *
 * @example
 * ```ts
 * shadowAdminRoutes(service.admin, shadow);
 * // curl -X PUT -d '{"enabled":false}' http://127.0.0.1:8077/shadow
 * ```
 */
export function shadowAdminRoutes(target: RouteTarget, shadow: ShadowTraffic | (() => ShadowTraffic | undefined)): void {
  const current = (): ShadowTraffic => {
    const traffic = typeof shadow === 'function' ? shadow() : shadow;
    if (traffic === undefined) throw new HttpError(404, 'no shadow traffic is configured');
    return traffic;
  };

  target.route('GET', '/shadow', (_req, res) => {
    sendJson(res, 200, current().report());
  });

  target.route(
    'PUT',
    '/shadow',
    async (req, res, _params, _url, context) => {
      const traffic = current();
      const body = await (typeof context?.readJson === 'function' ? context.readJson() : readJson(req, 64 * 1024));
      const change = parseChange(body);
      context?.audit?.record({ action: change.enabled === false ? 'shadow.disable' : 'shadow.update', before: auditView(traffic) });
      try {
        traffic.setOptions(change);
      } catch (error) {
        if (isKaryonError(error, 'ERR_INVALID_OPTION')) throw new HttpError(400, error.message);
        throw error;
      }
      context?.audit?.record({ after: auditView(traffic) });
      sendJson(res, 200, traffic.report());
    },
    { mutation: true },
  );
}

/** What the audit log keeps of shadow traffic around a change: the two settings the route changes. */
function auditView(traffic: ShadowTraffic): { enabled: boolean; rate: number } {
  return { enabled: traffic.settings.enabled, rate: traffic.settings.rate };
}

function parseChange(body: unknown): ShadowSettings {
  const usage = 'body must be {"enabled": true | false} and/or {"rate": 0..1}';
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, `${usage} (got ${JSON.stringify(body)})`);
  const given = body as Record<string, unknown>;
  const unknown = Object.keys(given).filter((key) => !(fields as readonly string[]).includes(key));
  if (unknown.length > 0) throw new HttpError(400, `${usage} (unknown field ${JSON.stringify(unknown[0])})`);
  const { enabled, rate } = given;
  if (enabled === undefined && rate === undefined) throw new HttpError(400, `${usage} (got neither)`);
  if (enabled !== undefined && typeof enabled !== 'boolean') throw new HttpError(400, `field 'enabled' must be true or false (got ${JSON.stringify(enabled)})`);
  if (rate !== undefined && (typeof rate !== 'number' || !(rate >= 0 && rate <= 1))) {
    throw new HttpError(400, `field 'rate' must be a number from 0 to 1 (got ${JSON.stringify(rate)})`);
  }
  return { ...(enabled !== undefined && { enabled }), ...(rate !== undefined && { rate }) };
}
