// One instance of the example service, configured only by the environment, so it can be pointed at any
// Eureka server, real or development:
//
//   KARYON_APP_NAME=greeter PORT=8080 KARYON_EUREKA_URLS=http://localhost:8761/eureka npm run greeter
//
// Every variable of the configuration contract applies (KARYON_ZONE, KARYON_EUREKA_HEARTBEAT_MS,
// KARYON_EUREKA_FETCH_MS, KARYON_DEREGISTRATION_DELAY_MS, KARYON_ADMIN_PORT, KARYON_ADMIN_TOKEN,
// KARYON_STATSD_HOST...). Without KARYON_EUREKA_URLS it registers in memory only. SIGTERM or Ctrl-C stops it
// gracefully: DOWN in the registry, wait for clients to notice, drain, deregister.
import { createServer } from 'node:http';
import { createService, installSignalHandlers, isKaryonError, loadSettings, serviceOptionsFromSettings } from 'karyon-ts';
import type { Logger } from 'karyon-ts';

const log: Logger = {
  debug: () => undefined,
  info: (message) => console.log(`${new Date().toISOString()} ${message}`),
  warn: (message) => console.log(`${new Date().toISOString()} WARN ${message}`),
  error: (message) => console.error(`${new Date().toISOString()} ERROR ${message}`),
};

let settings;
try {
  settings = loadSettings({ env: { KARYON_APP_NAME: 'greeter', ...process.env } });
} catch (error) {
  console.error(isKaryonError(error) ? error.message : error);
  process.exit(2);
}

const server = createServer((req, res) => {
  if (req.url === '/hello') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ message: 'hello', from: service.instanceId }));
  } else {
    res.writeHead(404).end();
  }
});
const service = createService({ ...serviceOptionsFromSettings(settings), server, logger: log });
service.addHealthCheck('self', () => true);

try {
  await service.start();
} catch (error) {
  console.error(`could not start: ${(error as Error).message}`);
  process.exitCode = 1;
  await service.stop();
}
if (service.status !== 'FAILED') {
  installSignalHandlers(service, { onError: (error) => console.error(`stopped with errors: ${(error as Error).message}`) });
  const eureka = settings.eureka.serviceUrls.length > 0 ? settings.eureka.serviceUrls.join(', ') : 'in memory (set KARYON_EUREKA_URLS)';
  log.info(`${service.instanceId} serving http://localhost:${service.instance!.port}/hello; admin ${service.adminUrl}; registry ${eureka}`);
}
