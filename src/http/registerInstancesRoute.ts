import type { RouteTarget } from '../common/RouteTarget.js';
import { sendJson } from '../internal/http.js';
import type { ServiceClient, ServiceClientStats } from './ServiceClient.js';

/** What `GET /instances` answers: each VIP with the stats of every client calling it. */
export interface InstancesReport {
  /** When the report was made (epoch ms). */
  readonly at: number;
  /** Client stats by VIP (one entry per client; usually one client per VIP). */
  readonly vips: Readonly<Record<string, readonly ServiceClientStats[]>>;
  /** Where every instance the registry knows is listed (`/registry`), when the admin server has it. */
  readonly registry?: string;
  /** Said when no client calls anything yet: the instances shown here are those of this service's clients. */
  readonly note?: string;
}

/** Options of {@link registerInstancesRoute}. */
export interface InstancesRouteOptions {
  /** The path of the registry's whole view on the same admin server, named in every answer. */
  readonly registryPath?: string;
}

/** Builds the `GET /instances` report from the current clients. */
export function instancesReport(clients: Iterable<ServiceClient>, now: number = Date.now()): InstancesReport {
  const vips: Record<string, ServiceClientStats[]> = {};
  for (const client of clients) {
    if (client.closed) continue;
    (vips[client.vip] ??= []).push(client.stats());
  }
  return { at: now, vips };
}

/**
 * Registers `GET /instances` on the admin server: every instance each client knows, with its registry status,
 * zone, balancer state (latency estimate, requests in flight, ejected until) and request counts.
 *
 * @example
 * ```ts
 * registerInstancesRoute(admin, () => [greeter, billing]);
 * ```
 */
export function registerInstancesRoute(admin: RouteTarget, clients: () => Iterable<ServiceClient>, options: InstancesRouteOptions = {}): void {
  const { registryPath } = options;
  admin.route('GET', '/instances', (_req, res) => {
    const report = instancesReport(clients());
    if (registryPath === undefined) return void sendJson(res, 200, report);
    const idle = Object.keys(report.vips).length === 0;
    sendJson(res, 200, {
      ...report,
      registry: registryPath,
      ...(idle ? { note: `no client of this service calls another service: every instance its registry knows is at ${registryPath}` } : {}),
    });
  });
}
