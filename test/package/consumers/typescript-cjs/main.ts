// A CommonJS TypeScript application (module nodenext in a package without "type": "module"): tsc compiles
// its imports to require() calls of the ES module package, which TypeScript 5.8 and newer accept and Node >=
// 20.19 runs. Compiled with the newest TypeScript we support and run by scripts/check-package.sh.
import { createServer } from 'node:http';
import { createService } from 'karyon-ts';
import type { Service } from 'karyon-ts';
import { EurekaServer } from 'karyon-ts/testing';

async function main(): Promise<void> {
  const eureka = new EurekaServer({ port: 0, host: '127.0.0.1', responseCacheMs: 0 });
  await eureka.listen();
  const service: Service = createService({
    name: 'consumer-typescript-cjs',
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
    const response = await fetch(`${eureka.url}/v2/apps/CONSUMER-TYPESCRIPT-CJS`, { headers: { accept: 'application/json' } });
    const body = (await response.json()) as { application: { instance: Array<{ status: string }> } };
    const status = body.application.instance[0]?.status;
    if (status !== 'UP') throw new Error(`registered as ${status}, not UP`);
  } finally {
    await service.stop();
    await eureka.close();
  }
  console.log(`typescript-cjs: ${service.instanceId} registered UP, then stopped`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
