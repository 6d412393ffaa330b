// A fault-suite instance: an HTTP server on the given address that answers with its id, registered UP in Eureka
// with half-second heartbeats and a two-second lease. Prints `ready` once registered; stops on SIGTERM.
import { createServer } from 'node:http';
import { EurekaRegistry } from '../../../src/index.js';
import { descriptorFor } from '../support.js';

const [serviceUrl, ip, portText, app] = process.argv.slice(2) as [string, string, string, string];
const port = Number(portText);
const descriptor = descriptorFor(app, ip, port, { leaseRenewalIntervalMs: 500, leaseDurationMs: 2000 });
const server = createServer((req, res) => {
  req.resume();
  res.end(descriptor.instanceId);
});
await new Promise<void>((resolve) => server.listen(port, ip, resolve));
const registry = new EurekaRegistry({ serviceUrls: [serviceUrl], fetchRegistry: false, heartbeatIntervalMs: 500, connectTimeoutMs: 500, requestTimeoutMs: 1000 });
await registry.register(descriptor, 'UP');
process.stdout.write(`ready ${descriptor.instanceId}\n`);
// Bounded: a test that forgot this process does not leave it running.
const limit = setTimeout(() => process.exit(0), 180_000);
process.on('SIGTERM', () => {
  clearTimeout(limit);
  void registry.close().then(() => server.close(() => process.exit(0)));
});
