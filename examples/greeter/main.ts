// The README's main example, run by `npm run greeter`: one instance configured by the environment.
import { createServer } from 'node:http';
import { createService, installSignalHandlers, loadSettings, serviceOptionsFromSettings } from 'karyon-ts';

// createService() reads no environment variable: only the options it is given. loadSettings() reads PORT and
// every KARYON_* variable (KARYON_EUREKA_URLS, KARYON_ADMIN_PORT, ...), validates them (a bad value throws,
// naming the variable), and serviceOptionsFromSettings() turns them into those options.
const settings = loadSettings({ env: process.env, argv: process.argv.slice(2), values: { app: { name: 'greeter' } } });

let greetings = new Map<string, string>();
const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const greeting = url.pathname === '/hello' ? greetings.get(url.searchParams.get('lang') ?? 'en') : undefined;
  if (greeting === undefined) return void res.writeHead(404).end();
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ message: greeting, from: service.instanceId }));
});

const service = createService({
  ...serviceOptionsFromSettings(settings), // name, port, zone, Eureka, admin port/host/token, statsd: the variables
  server, // options you pass yourself: the server is tracked, and stop() drains its requests
});
service.onInitialize(async (signal) => {
  // Stands in for loading from a database: the instance stays STARTING until this resolves.
  await new Promise((resolve) => setTimeout(resolve, 100));
  signal.throwIfAborted();
  greetings = new Map([['en', 'hello'], ['fr', 'bonjour']]);
});
service.addHealthCheck('greetings', () => greetings.size > 0, {
  failuresBeforeCritical: 3, // once UP, DOWN after 3 failures in a row, UP again after 1 success
});

installSignalHandlers(service); // first: a SIGTERM while starting stops gracefully too (DOWN, drain, deregister)
await service.start(); // STARTING -> UP; the service logs each step to stderr
