// The example service: answers GET /hello with its instance id. The quickstart runs several of these.
import { createServer } from 'node:http';
import { createService, outOfServiceGuard } from 'karyon-ts';
import type { Service } from 'karyon-ts';

export interface GreeterOptions {
  /** Shown in logs and answers, e.g. greeter-1; also its instance id. */
  readonly label: string;
  /** The Eureka service URL to register in. */
  readonly eurekaUrl: string;
  /** How often the instance renews its lease and fetches the registry. */
  readonly heartbeatIntervalMs: number;
  readonly registryFetchIntervalMs: number;
  /** How long the initialize hook takes, to make STARTING visible. */
  readonly warmUpMs?: number;
  /** How long the instance takes to answer. */
  readonly latencyMs?: () => number;
  /** Whether its database (the dependency its health check pings) answers. */
  readonly databaseUp?: () => boolean;
  readonly deregistrationDelayMs: number;
}

export function createGreeter(options: GreeterOptions): Service {
  // While OUT_OF_SERVICE or SHUTTING_DOWN, the guard answers 503 with a header that karyon-ts clients read as
  // "try another instance now", so no caller waits for Eureka to spread the news.
  const guard = outOfServiceGuard(() => service.status);
  const server = createServer(guard((req, res) => {
    if (req.url !== '/hello') {
      res.writeHead(404).end();
      return;
    }
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'hello', from: options.label }));
    }, options.latencyMs?.() ?? 2);
  }));
  const service = createService({
    name: 'greeter',
    server,
    port: 0,
    host: '127.0.0.1',
    hostName: '127.0.0.1',
    ipAddr: '127.0.0.1',
    instanceId: options.label,
    registry: {
      eureka: {
        serviceUrls: [options.eurekaUrl],
        heartbeatIntervalMs: options.heartbeatIntervalMs,
        registryFetchIntervalMs: options.registryFetchIntervalMs,
      },
    },
    admin: { port: 0, host: '127.0.0.1' },
    lifecycle: { deregistrationDelayMs: options.deregistrationDelayMs },
    logger: false, // the quickstart tells the story itself, from the services' events
  });
  service.onInitialize(async (signal) => {
    // Stands in for warming caches or opening connections: the instance stays STARTING meanwhile.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, options.warmUpMs ?? 0);
      signal.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason as Error)), { once: true });
    });
  }, { name: 'warm caches' });
  // A readiness check on a dependency: critical after 2 failures in a row, the instance goes DOWN in Eureka (out
  // of every caller's rotation); one success brings it back UP.
  service.addHealthCheck('database', () => ({ status: options.databaseUp?.() === false ? 'DOWN' : 'UP' }), {
    intervalMs: 250,
    failuresBeforeCritical: 2,
  });
  return service;
}
