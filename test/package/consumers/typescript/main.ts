// A TypeScript application using the installed package, compiled with tsc and then run by Node: once with
// tsconfig.nodenext.json (module and moduleResolution nodenext) and once with tsconfig.bundler.json
// (moduleResolution bundler), each on the oldest and the newest TypeScript the package supports
// (scripts/check-package.sh). It uses what the docs promise a TypeScript user: `await using`, the standard
// decorators, typed configuration and the types of every entry point, without a cast.
import { createServer } from 'node:http';
import { createService, defineConfig, healthCheck, initialize, KaryonError, onShutdown } from 'karyon-ts';
import type { HealthResult, LifecycleState, Service } from 'karyon-ts';
import { Eureka } from 'karyon-ts/eureka-js-client';
import { createRule } from 'karyon-ts/extend';
import { sidecarConfigKeys } from 'karyon-ts/sidecar';
import type { SidecarConfigKey } from 'karyon-ts/sidecar';
import { EurekaServer } from 'karyon-ts/testing';

class Greetings {
  loaded = false;
  released = false;

  @initialize({ timeoutMs: 5000 })
  async load(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    this.loaded = true;
  }

  @healthCheck('greetings')
  check(): HealthResult {
    return { status: this.loaded ? 'UP' : 'DOWN' };
  }

  @onShutdown()
  release(): void {
    this.released = true;
  }
}

const config = defineConfig({ schema: { greeting: { doc: 'what to say', format: String, default: 'hello' } } });
const greeting = config.property('greeting'); // read once the service has started the configuration

await using eureka = new EurekaServer({ port: 0, host: '127.0.0.1', responseCacheMs: 0 });
await eureka.listen();
const greetings = new Greetings();
const service: Service = createService({
  name: 'consumer-typescript',
  server: createServer((_req, res) => res.end(greeting.get())),
  port: 0,
  host: '127.0.0.1',
  admin: false,
  logger: false,
  config,
  lifecycle: { deregistrationDelayMs: 0 },
  registry: { eureka: { serviceUrls: [`${eureka.url}/v2`] } },
}).register(greetings);
{
  await using running = service;
  await running.start();
  const state: LifecycleState = running.status;
  const response = await fetch(`${eureka.url}/v2/apps/CONSUMER-TYPESCRIPT`, { headers: { accept: 'application/json' } });
  const body = (await response.json()) as { application: { instance: Array<{ status: string }> } };
  const status = body.application.instance[0]?.status;
  const text: string = greeting.get();
  if (state !== 'UP' || status !== 'UP' || !greetings.loaded || text !== 'hello') throw new Error(`the service is ${state}, registered as ${status}`);
}
if (!greetings.released) throw new Error('the shutdown hook did not run at stop');
if (typeof Eureka !== 'function' || !(new KaryonError('ERR_INVALID_CONFIG', 'x') instanceof Error)) {
  throw new Error('karyon-ts/eureka-js-client or KaryonError is not what it should be');
}
const portKey: SidecarConfigKey | undefined = sidecarConfigKeys.find((entry) => entry.key === 'app.port');
if (createRule('round-robin').name !== 'round-robin' || portKey === undefined) {
  throw new Error('karyon-ts/extend or karyon-ts/sidecar is not what it should be');
}
console.log(`typescript: ${service.instanceId} registered UP, stopped by await using`);
