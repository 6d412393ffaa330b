// A CommonJS application using require() on the installed ES module package (Node >= 20.19 loads ES modules
// with require() unflagged): every entry point loads, and a service registers UP with a development Eureka
// server over loopback, then leaves it. Run by scripts/check-package.sh.
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS application is what this file checks */
'use strict';
const { createServer } = require('node:http');
const { createService, KaryonError } = require('karyon-ts');
const { Eureka } = require('karyon-ts/eureka-js-client');
const { createRule } = require('karyon-ts/extend');
const { sidecarConfigKeys } = require('karyon-ts/sidecar');
const { EurekaServer } = require('karyon-ts/testing');

async function main() {
  const eureka = new EurekaServer({ port: 0, host: '127.0.0.1', responseCacheMs: 0 });
  await eureka.listen();
  const service = createService({
    name: 'consumer-cjs',
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
    const response = await fetch(`${eureka.url}/v2/apps/CONSUMER-CJS`, { headers: { accept: 'application/json' } });
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
  console.log(`cjs: ${service.instanceId} registered UP, then stopped`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
