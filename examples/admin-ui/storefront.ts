// The storefront: one service with every feature the admin web UI shows switched on. It registers in Eureka,
// calls the greeter through a balanced client, guards three dependencies with breakers, runs readiness and
// liveness checks with thresholds, reads a layered configuration (a file, the environment, runtime overrides,
// one sensitive value), exposes Prometheus metrics, and keeps some traffic flowing so every page moves.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createService, defineConfig, fileSource, isKaryonError, karyonConfigSchema, karyonConfigValidators, outOfServiceGuard } from 'karyon-ts';
import type { Logger, Service } from 'karyon-ts';

/** What the storefront needs to run. */
export interface StorefrontOptions {
  /** The Eureka service URL. */
  readonly eurekaUrl: string;
  /** The admin port (0 = any free port). */
  readonly adminPort: number;
  /** The admin token operators type into the web UI (the `operate` role). */
  readonly token: string;
  /** A token that may only read; with one, reads need a token too. */
  readonly readToken?: string | undefined;
  /** How often it heartbeats and fetches the registry, ms. */
  readonly intervalMs: number;
  /** Where the service logs. */
  readonly logger: Logger;
}

/** The running storefront. */
export interface Storefront {
  /** The service. */
  readonly service: Service;
  /** Stops the traffic and the service, removes its temporary files. */
  stop(): Promise<void>;
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new Error('aborted'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** Starts the storefront (the Eureka server must be up). */
export async function startStorefront(options: StorefrontOptions): Promise<Storefront> {
  // The file layer of the configuration: a real file, watched, that an operator could edit.
  const configDir = await mkdtemp(join(tmpdir(), 'karyon-admin-ui-'));
  await writeFile(join(configDir, 'storefront.json'), JSON.stringify({ storefront: { banner: 'Autumn sale', maxCartItems: 40 }, balancer: { rule: 'p2c-ewma' } }, null, 2));

  const config = defineConfig({
    schema: {
      ...karyonConfigSchema,
      storefront: {
        banner: { doc: 'Text of the banner on the home page', format: String, default: 'Welcome' },
        maxCartItems: { doc: 'Most items in one cart', format: 'nat', default: 50 },
        recommendations: { doc: 'Show recommendations', format: Boolean, default: true, env: 'STOREFRONT_RECOMMENDATIONS' },
      },
      db: {
        url: { doc: 'Database URL', format: String, default: 'postgres://db.internal:5432/store', env: 'STOREFRONT_DB_URL' },
        password: { doc: 'Database password', format: String, default: '', sensitive: true, env: 'STOREFRONT_DB_PASSWORD' },
      },
    },
    sources: [fileSource({ path: join(configDir, 'storefront.json'), cascade: false })],
    validators: {
      ...karyonConfigValidators,
      'storefront.maxCartItems': (n: number) => n <= 500 || 'must be at most 500',
    },
    env: {
      KARYON_APP_NAME: 'storefront',
      KARYON_ADMIN_TOKEN: options.token,
      KARYON_LOG_LEVEL: 'info',
      // The service follows these live; without them the defaults (30 s) would replace the short intervals.
      KARYON_EUREKA_HEARTBEAT_MS: String(options.intervalMs),
      KARYON_EUREKA_FETCH_MS: String(options.intervalMs),
      STOREFRONT_DB_PASSWORD: 'correct-horse-battery-staple',
      STOREFRONT_RECOMMENDATIONS: 'true',
    },
  });

  const guard = outOfServiceGuard(() => service.status);
  const server = createServer(
    guard((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ banner: config.get('storefront.banner') }));
    }),
  );
  const service = createService({
    name: 'storefront',
    version: '1.4.2',
    zone: 'us-east-1a',
    server,
    port: 0,
    host: '127.0.0.1',
    hostName: '127.0.0.1',
    ipAddr: '127.0.0.1',
    instanceId: 'storefront-1',
    registry: { eureka: { serviceUrls: [options.eurekaUrl], heartbeatIntervalMs: options.intervalMs, registryFetchIntervalMs: options.intervalMs } },
    admin: {
      port: options.adminPort,
      host: '127.0.0.1',
      token: options.token,
      ...(options.readToken === undefined ? {} : { tokens: [{ name: 'viewer', token: options.readToken, role: 'read' as const }] }),
    },
    metrics: { prometheus: true },
    config,
    configRollback: { windowMs: 30_000 },
    lifecycle: { deregistrationDelayMs: 0 },
    logger: options.logger,
  });

  // Health: a readiness check with hysteresis, a degraded one, and a liveness check of the event loop.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  let databaseLatency = 3;
  service.addHealthCheck(
    'database',
    () => ({ status: 'UP', details: { pool: '6/20 in use', latencyMs: Math.round((databaseLatency = databaseLatency * 0.8 + Math.random() * 2)) } }),
    { intervalMs: 2000, successBeforePassing: 2, failuresBeforeCritical: 3, timeoutMs: 500 },
  );
  service.addHealthCheck('search-index', () => ({ status: 'WARN', details: { lagSeconds: 40 + Math.round(Math.random() * 10), note: 'reindex running' } }), {
    intervalMs: 3000,
  });
  service.addHealthCheck(
    'event-loop',
    () => {
      const p99 = loopDelay.percentile(99) / 1e6;
      loopDelay.reset();
      return { status: p99 > 500 ? 'DOWN' : 'UP', details: { p99Ms: Math.round(p99) } };
    },
    { kind: 'liveness', intervalMs: 1000 },
  );

  // Three dependencies behind breakers: one fast, one flaky (its breaker opens and closes), one slow.
  const inventory = service.command('inventory.lookup', async (sku: string) => {
    await sleep(2 + Math.random() * 6);
    if (Math.random() < 0.02) throw new Error('inventory unavailable');
    return { sku, inStock: true };
  });
  let paymentsFailing = false;
  const payments = service.command(
    'payments.charge',
    async (cents: number) => {
      await sleep(10 + Math.random() * 30);
      if (Math.random() < (paymentsFailing ? 0.8 : 0.05)) throw new Error('card processor timed out');
      return { charged: cents };
    },
    { requestVolumeThreshold: 10, sleepWindowMs: 4000, fallback: () => ({ charged: 0, queued: true }) },
  );
  const recommendations = service.command(
    'recommendations',
    async () => {
      await sleep(20 + Math.random() * 110);
      return ['tea', 'scarf'];
    },
    { timeoutMs: 100, fallback: () => [] },
  );
  const greeter = service.client('greeter');

  // A rejected override, so the history shows one next to the applied changes.
  service.onInitialize(() => {
    try {
      config.setOverride('storefront.maxCartItems', 1000);
    } catch (error) {
      if (!isKaryonError(error, 'ERR_INVALID_CONFIG')) throw error;
    }
  }, { name: 'load catalog' });

  await service.start();
  config.setOverride('storefront.banner', 'Free shipping this week');

  // Traffic: about twenty calls a second; the payments processor has bad spells of eight seconds every thirty.
  const traffic = new AbortController();
  const ignore = (): void => undefined;
  const loop = (async () => {
    let tick = 0;
    while (!traffic.signal.aborted) {
      tick++;
      paymentsFailing = tick % 300 < 80;
      void inventory(`sku-${tick % 50}`).catch(ignore);
      void payments(1999).catch(ignore);
      if (tick % 2 === 0) void recommendations().catch(ignore);
      void greeter.request({ path: '/hello' }).then((res) => res.body.dump(), ignore);
      service.metrics.counter('storefront.page.views').increment();
      await sleep(100, traffic.signal).catch(ignore);
    }
  })();

  return {
    service,
    async stop() {
      traffic.abort();
      await loop;
      loopDelay.disable();
      try {
        await service.stop();
      } finally {
        await rm(configDir, { recursive: true, force: true });
      }
    },
  };
}
