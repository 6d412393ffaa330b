// The quotes service (app.ts) as a Nest 11 application run by KaryonModule, beside a pricing service, both
// registered with a development Eureka server started here (set KARYON_EUREKA_URLS to use yours).
// Nest compiles with experimentalDecorators and emitDecoratorMetadata (tsconfig.json here); build and run with
//   npm run build && npx tsc -p examples/nest --noEmit false --outDir examples/nest/dist && node examples/nest/dist/main.js
// Add --keep-running to keep it up; Ctrl-C (SIGINT) or SIGTERM then stops it gracefully through Nest's
// shutdown hooks: DOWN, wait, drain, the @onShutdown() hooks, deregister.
import 'reflect-metadata';
import { createServer } from 'node:http';
import { NestFactory } from '@nestjs/core';
import { Service, createService } from 'karyon-ts';
import { EurekaServer } from 'karyon-ts/testing';
import { AppModule } from './app.js';

const keepRunning = process.argv.includes('--keep-running');
const port = Number(process.env['PORT'] ?? 3000);
const local = { host: '127.0.0.1', hostName: '127.0.0.1', ipAddr: '127.0.0.1' } as const;

let eureka: EurekaServer | undefined;
let serviceUrls = process.env['KARYON_EUREKA_URLS']?.split(',');
if (serviceUrls === undefined) {
  eureka = new EurekaServer({ port: 0, host: '127.0.0.1', responseCacheMs: 0 });
  await eureka.listen();
  serviceUrls = [`${eureka.url}/v2`];
}
const registry = { eureka: { serviceUrls, registryFetchIntervalMs: 1000, heartbeatIntervalMs: 5000 } };

// pricing: a plain node:http service, run by createService() as any other.
const pricing = createService({
  name: 'pricing',
  server: createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ price: req.url === '/price/apple' ? 3 : 5 }));
  }),
  port: 0,
  ...local,
  registry,
  admin: false,
  lifecycle: { deregistrationDelayMs: 0 },
  logger: false,
});
await pricing.start();

// quotes: the Nest application. Its instance registers STARTING as the module initialises, and UP once the
// catalog has loaded and Nest listens.
const app = await NestFactory.create(
  AppModule.with({
    name: 'quotes',
    port,
    ...local,
    registry,
    admin: { port: 0 }, // the admin API on its own port: GET /healthcheck, POST /status/OUT_OF_SERVICE, ...
    lifecycle: { deregistrationDelayMs: keepRunning ? 5000 : 0 },
  }),
  { logger: ['error', 'warn'] },
);
app.enableShutdownHooks();
await app.listen(port, '127.0.0.1');
const service = app.get(Service);
await service.start(); // the start KaryonModule began: resolves once UP
console.log(`quotes is ${service.status} on port ${port}, admin ${service.adminUrl ?? 'off'}`);

// A client of quotes (pricing's, for the example): once both registry caches have caught up, a quote.
const quotes = pricing.client('quotes');
for (let i = 0; ; i++) {
  try {
    const res = await quotes.request({ path: '/quote/apple' });
    const body = (await res.body.json()) as { price: number | null };
    if (body.price !== null || i >= 50) {
      console.log(`GET /quote/apple -> ${res.statusCode} ${JSON.stringify(body)}`);
      break;
    }
  } catch (error) {
    if (i >= 50) throw error;
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
}
const health = await fetch(`${service.adminUrl}/healthcheck`);
console.log(`GET /healthcheck -> ${health.status} ${((await health.json()) as { status: string }).status}`);

if (!keepRunning) {
  await app.close(); // what a signal does with enableShutdownHooks(): the service stops with the app
  console.log(`quotes is ${service.status}`);
  await pricing.stop();
  await eureka?.close();
}
