// The admin web UI example: a development Eureka server, a few backend instances in different states, and a
// storefront service with every feature of the admin console switched on and traffic flowing. Open the
// printed address in a browser and type the printed token to use the actions.
//
//   npx tsx examples/admin-ui/main.ts [--admin-port 8077] [--token <admin token>] [--read-token <token>]
//
// --token is the operate token (status, breakers, config overrides); with --read-token, reads need a token too
// and that one may only read.
// Ctrl-C (or SIGTERM) stops everything gracefully.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { installSignalHandlers } from 'karyon-ts';
import type { Logger, Service } from 'karyon-ts';
import { EurekaServer } from 'karyon-ts/testing';
import { createBackend } from './backends.js';
import { startStorefront } from './storefront.js';
import type { Storefront } from './storefront.js';

const { values } = parseArgs({
  options: {
    'admin-port': { type: 'string', default: process.env.KARYON_ADMIN_PORT ?? '8077' },
    token: { type: 'string', default: process.env.KARYON_ADMIN_TOKEN },
    'read-token': { type: 'string' },
  },
});
const adminPort = Number(values['admin-port']);
if (!Number.isInteger(adminPort) || adminPort < 0 || adminPort > 65535) {
  console.error(`--admin-port must be a port number from 0 to 65535 (got ${JSON.stringify(values['admin-port'])})`);
  process.exit(2);
}
const token = values.token ?? randomBytes(12).toString('base64url');

const log: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (message) => console.log(`WARN  ${message}`),
  error: (message) => console.error(`ERROR ${message}`),
};

// Short intervals so changes show within a second or two; production Eureka defaults are 30 s.
const INTERVAL_MS = 1000;

const eureka = new EurekaServer({ port: 0, host: '127.0.0.1' });
await eureka.listen();

const backends: Service[] = [
  createBackend({ name: 'greeter', instanceId: 'greeter-1', zone: 'us-east-1a', eurekaUrl: eureka.url, intervalMs: INTERVAL_MS, latencyMs: 4 }),
  createBackend({ name: 'greeter', instanceId: 'greeter-2', zone: 'us-east-1a', eurekaUrl: eureka.url, intervalMs: INTERVAL_MS, latencyMs: 12, errorRate: 0.3 }),
  createBackend({ name: 'greeter', instanceId: 'greeter-3', zone: 'us-east-1b', eurekaUrl: eureka.url, intervalMs: INTERVAL_MS, latencyMs: 6 }),
  createBackend({ name: 'billing', instanceId: 'billing-1', zone: 'us-east-1b', eurekaUrl: eureka.url, intervalMs: INTERVAL_MS, healthy: false }),
];
let storefront: Storefront;
try {
  await Promise.all(backends.map((backend) => backend.start()));
  // Its operator took greeter-3 out of service (Eureka keeps it as an override).
  await backends[2]!.markOutOfService();
  storefront = await startStorefront({ eurekaUrl: eureka.url, adminPort, token, readToken: values['read-token'], intervalMs: INTERVAL_MS, logger: log });
} catch (error) {
  console.error(`could not start: ${(error as Error).message}`);
  await Promise.allSettled(backends.map((backend) => backend.stop()));
  await eureka.close();
  process.exit(1);
}

console.log('karyon-ts admin web UI example');
console.log(`  development Eureka: ${eureka.url}/apps`);
console.log(`  admin web UI:       ${storefront.service.adminUrl}/`);
console.log(`  admin token:        ${token}`);
if (values['read-token'] !== undefined) console.log(`  read-only token:    ${values['read-token']} (reads need a token)`);
console.log('Ctrl-C stops everything gracefully.');

let stopping: Promise<void> | undefined;
installSignalHandlers({
  stop: () =>
    (stopping ??= (async () => {
      await storefront.stop();
      await Promise.allSettled(backends.map((backend) => backend.stop()));
      await eureka.close();
      console.log('stopped');
    })()),
});
