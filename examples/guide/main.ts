// The whole service of docs/guide.md, from the pieces: an Express app (greeter) calling a Fastify app (quotes)
// through a balanced client, with configuration, metrics, a command, health checks and signals.
// Run with `npx tsx examples/guide/main.ts` (add --keep-running to keep it up; Ctrl-C stops it gracefully).
import { createServer } from 'node:http';
import express from 'express';
import Fastify from 'fastify';
import { createService, defineConfig, expressOutOfServiceGuard, installSignalHandlers, karyonLiveSettingsSchema } from 'karyon-ts';
import { InMemoryRegistry } from 'karyon-ts/testing';

// One registry for both services of this process; in production, `registry: { eureka: { serviceUrls } }` (or
// loadSettings() + serviceOptionsFromSettings() with KARYON_EUREKA_URLS).
const registry = new InMemoryRegistry();

// ---- quotes: a Fastify app -------------------------------------------------------------------------------
const quotesApp = Fastify();
quotesApp.get('/quote', async () => ({ quote: 'Simplicity is prerequisite for reliability.' }));
await quotesApp.ready(); // routes and hooks are in place; the service makes its server listen
const quotes = createService({
  name: 'quotes',
  server: quotesApp.server, // Fastify's own node:http server: tracked, drained by stop()
  port: 0,
  host: '127.0.0.1', // this example stays on this machine: bound to loopback, and published as such
  hostName: '127.0.0.1',
  ipAddr: '127.0.0.1',
  registry,
  admin: false,
  lifecycle: { deregistrationDelayMs: 0 },
  logger: false,
});

// ---- greeter: an Express app -----------------------------------------------------------------------------
// The configuration: the library's live keys (log level, balancer rule, retry budget, breaker defaults) and the
// application's own, each from its defaults, the environment or `PUT /config/{key}` on the admin port.
const config = defineConfig({
  schema: {
    ...karyonLiveSettingsSchema,
    greeting: { doc: 'the word the service greets with', format: String, default: 'hello', env: 'GREETING' },
  },
  env: process.env,
});

const app = express();
const server = createServer(app); // not app.listen(): the service must hold the server before it listens
const greeter = createService({
  name: 'greeter',
  server,
  port: 0,
  host: '127.0.0.1',
  registry,
  admin: { port: 0 }, // 127.0.0.1 unless a token is set: /healthcheck, /config, /metrics, /breakers, ...
  config, // GET /config, PUT /config/{key}; log.level, balancer.rule, retry.* and breaker.* apply live
  metrics: { prometheus: true }, // GET /metrics; add { host, port } for statsd
  lifecycle: { deregistrationDelayMs: 0 },
});
app.use(expressOutOfServiceGuard(() => greeter.status)); // 503 + "try elsewhere" while not UP
const quotesClient = greeter.client('quotes'); // balanced over UP instances, retried within a budget, broken
const greetingsServed = greeter.metrics.counter('greetings_served');
// A command: breaker, bulkhead, timeout and fallback around any call (here, a slow-to-compute dependency).
const shout = greeter.command('shout', async (text: string) => text.toUpperCase(), { timeoutMs: 200, fallback: (text) => text });

app.get('/hello', async (_req, res, next) => {
  try {
    const answer = await quotesClient.request({ path: '/quote' });
    const { quote } = (await answer.body.json()) as { quote: string };
    greetingsServed.increment();
    res.json({ message: await shout(config.get('greeting')), quote });
  } catch (error) {
    next(error);
  }
});

let quotesReachable = true;
greeter.onInitialize(async (signal) => {
  // The instance stays STARTING until this resolves: here, wait until the dependency answers once.
  const answer = await quotesClient.request({ path: '/quote', signal });
  await answer.body.dump();
});
greeter.addHealthCheck('quotes', async () => {
  try {
    const answer = await quotesClient.request({ path: '/quote' });
    await answer.body.dump();
    quotesReachable = answer.statusCode === 200;
  } catch {
    quotesReachable = false;
  }
  return { status: quotesReachable ? 'UP' : 'DOWN' };
}, { intervalMs: 1000, failuresBeforeCritical: 3 });

// Signals first: a SIGTERM while starting stops gracefully too. Stop the caller before what it calls.
installSignalHandlers({ stop: async () => { await greeter.stop(); await quotes.stop(); } });
await quotes.start();
await greeter.start();

const origin = `http://127.0.0.1:${greeter.instance!.port}`;
console.log(`greeter ${origin}/hello  admin ${greeter.adminUrl}/  (quotes on port ${quotes.instance!.port})`);
const hello = await fetch(`${origin}/hello`);
console.log(`GET /hello -> ${hello.status} ${await hello.text()}`);
const health = (await (await fetch(`${greeter.adminUrl}/healthcheck`)).json()) as { status: string };
console.log(`GET /healthcheck -> ${health.status}`);
const metricsText = await (await fetch(`${greeter.adminUrl}/metrics`)).text();
console.log(`GET /metrics -> ${metricsText.split('\n').find((line) => line.startsWith('greetings_served')) ?? 'no greetings_served'}`);
const put = await fetch(`${greeter.adminUrl}/config/greeting`, { method: 'PUT', body: JSON.stringify({ value: 'bonjour' }) });
console.log(`PUT /config/greeting -> ${put.status}; GET /hello -> ${await (await fetch(`${origin}/hello`)).text()}`);

if (!process.argv.includes('--keep-running')) {
  await greeter.stop();
  await quotes.stop();
  console.log('stopped: greeter, then quotes');
}
