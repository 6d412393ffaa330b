// An ES module application using the installed package: every entry point imports, and a service registers
// UP with a development Eureka server over loopback, then leaves it. Run by scripts/check-package.sh.
import { createServer } from 'node:http';
import { createService, KaryonError } from 'karyon-ts';
import { Eureka } from 'karyon-ts/eureka-js-client';
import { createRule } from 'karyon-ts/extend';
import { sidecarConfigKeys } from 'karyon-ts/sidecar';
import { EurekaServer } from 'karyon-ts/testing';

const eureka = new EurekaServer({ port: 0, host: '127.0.0.1', responseCacheMs: 0 });
await eureka.listen();
const service = createService({
  name: 'consumer-esm',
  server: createServer((_req, res) => res.end('ok')),
  port: 0,
  host: '127.0.0.1',
  admin: false,
  logger: false,
  lifecycle: { deregistrationDelayMs: 0 },
  registry: { eureka: { serviceUrls: [`${eureka.url}/v2`] } },
});
try {
  await service.start();
  const response = await fetch(`${eureka.url}/v2/apps/CONSUMER-ESM`, { headers: { accept: 'application/json' } });
  const body = await response.json();
  const status = body.application.instance[0].status;
  if (status !== 'UP') throw new Error(`registered as ${status}, not UP`);
  if (typeof Eureka !== 'function' || !(new KaryonError('ERR_INVALID_CONFIG', 'x') instanceof Error)) {
    throw new Error('karyon-ts/eureka-js-client or KaryonError is not what it should be');
  }
  if (createRule('round-robin').name !== 'round-robin' || !sidecarConfigKeys.some((entry) => entry.key === 'app.port')) {
    throw new Error('karyon-ts/extend or karyon-ts/sidecar is not what it should be');
  }
} finally {
  await service.stop();
  await eureka.close();
}
console.log(`esm: ${service.instanceId} registered UP, then stopped`);
