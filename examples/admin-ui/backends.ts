// The services the storefront sees in Eureka: three greeter instances (one of them answers errors now and
// then, so the storefront's balancer ejects it; one is taken out of service by its operator) and a billing
// instance whose database check fails, so it stays DOWN. Each is a real service with its own ports.
import { createServer } from 'node:http';
import { createService, outOfServiceGuard } from 'karyon-ts';
import type { Service } from 'karyon-ts';

/** How a backend instance behaves. */
export interface BackendOptions {
  /** Application name (also its VIP). */
  readonly name: string;
  /** Instance id, e.g. greeter-1. */
  readonly instanceId: string;
  /** Its zone. */
  readonly zone: string;
  /** The Eureka service URL to register in. */
  readonly eurekaUrl: string;
  /** How often it heartbeats and fetches the registry, ms. */
  readonly intervalMs: number;
  /** Share of requests answered 500 (0..1). */
  readonly errorRate?: number;
  /** Added latency of each answer, ms. */
  readonly latencyMs?: number;
  /** False makes its readiness check fail: the instance is DOWN in Eureka. */
  readonly healthy?: boolean;
}

/** Makes (does not start) one backend instance. */
export function createBackend(options: BackendOptions): Service {
  const guard = outOfServiceGuard(() => service.status);
  const server = createServer(
    guard((req, res) => {
      const fail = Math.random() < (options.errorRate ?? 0);
      setTimeout(() => {
        if (fail) {
          res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"flaky backend"}');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: `${options.name} says hello`, from: options.instanceId, path: req.url }));
      }, (options.latencyMs ?? 2) * (0.5 + Math.random()));
    }),
  );
  const service = createService({
    name: options.name,
    server,
    port: 0,
    host: '127.0.0.1',
    hostName: '127.0.0.1',
    ipAddr: '127.0.0.1',
    instanceId: options.instanceId,
    zone: options.zone,
    version: '2.0.1',
    registry: {
      eureka: { serviceUrls: [options.eurekaUrl], heartbeatIntervalMs: options.intervalMs, registryFetchIntervalMs: options.intervalMs },
    },
    admin: { port: 0, host: '127.0.0.1' },
    lifecycle: { deregistrationDelayMs: 0 },
  });
  service.addHealthCheck('database', () => ({ status: options.healthy === false ? 'DOWN' : 'UP' }), { intervalMs: 2000 });
  return service;
}
