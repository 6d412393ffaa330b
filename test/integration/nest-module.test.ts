import 'reflect-metadata';
import { Controller, Get, Inject, Injectable, Module, Scope } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { KaryonError, Service, defineConfig, healthCheck, onShutdown } from 'karyon-ts';
import { ServiceClient } from '../../src/http/ServiceClient.js';
import { InjectServiceClient, KARYON_CONFIG, KARYON_METRICS, KaryonModule, serviceClientToken } from 'karyon-ts/nest';
import { InMemoryRegistry } from 'karyon-ts/testing';
import { freePort } from '../support/processes.js';

// KaryonModule in this process, its Nest classes decorated by hand (this file compiles with standard
// decorators; test/integration/nest.test.ts compiles a Nest project as Nest projects compile): the async
// options, the injected values, and what it refuses.

const apps: INestApplication[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
});

/** A root module importing `imports`, with `providers`. */
function rootModule(imports: unknown[], providers: unknown[] = []): new () => object {
  class AppModule {}
  Module({ imports: imports as never[], providers: providers as never[] })(AppModule);
  return AppModule;
}

async function create(module: new () => object): Promise<INestApplication> {
  const app = await NestFactory.create(module, { logger: false, abortOnError: false });
  apps.push(app);
  return app;
}

describe('KaryonModule', () => {
  it('forRootAsync: options from a factory that injects another provider; the service, clients, metrics and config injected', async () => {
    const port = await freePort();
    const registry = new InMemoryRegistry();
    const config = defineConfig({ schema: { greeting: { doc: 'the greeting', format: String, default: 'hello' } } });
    class Settings {
      readonly port = port;
    }
    Injectable()(Settings);
    class SettingsModule {}
    Module({ providers: [Settings], exports: [Settings] })(SettingsModule);

    class Consumer {
      readonly service: Service;
      readonly client: ServiceClient;
      readonly metrics: unknown;
      readonly config: unknown;
      constructor(service: Service, client: ServiceClient, metrics: unknown, config: unknown) {
        this.service = service;
        this.client = client;
        this.metrics = metrics;
        this.config = config;
      }
    }
    Injectable()(Consumer);
    Inject(Service)(Consumer, undefined, 0);
    InjectServiceClient('pricing')(Consumer, undefined, 1);
    Inject(KARYON_METRICS)(Consumer, undefined, 2);
    Inject(KARYON_CONFIG)(Consumer, undefined, 3);

    const app = await create(
      rootModule(
        [
          KaryonModule.forRootAsync({
            imports: [SettingsModule],
            inject: [Settings],
            useFactory: (settings: Settings) => ({ name: 'async', port: settings.port, host: '127.0.0.1', registry, admin: false, logger: false, config }),
            clients: { pricing: { balancer: 'round-robin' } },
          }),
        ],
        [Consumer],
      ),
    );
    await app.listen(port, '127.0.0.1');
    const consumer = app.get(Consumer);
    await consumer.service.start();
    expect(consumer.service.status).toBe('UP');
    expect(registry.instances().map((i) => [i.instanceId, i.status])).toEqual([[consumer.service.instanceId, 'UP']]);
    expect(consumer.service.instance?.port).toBe(port);
    expect(consumer.client).toBeInstanceOf(ServiceClient);
    expect(consumer.client.vip).toBe('pricing');
    expect(app.get(serviceClientToken('pricing'))).toBe(consumer.client);
    expect(consumer.metrics).toBe(consumer.service.metrics);
    expect(consumer.config).toBe(config);
    await app.close();
    expect(consumer.service.status).toBe('STOPPED');
    expect(registry.instances()).toEqual([]);
  });

  it('app.close() with a request in flight: DOWN, then the request finishes on the drained server, then the shutdown hooks, then deregistered', async () => {
    const port = await freePort();
    const registry = new InMemoryRegistry();
    const events: string[] = [];
    class Slow {
      async slow(): Promise<string> {
        events.push(`request in flight, registry ${registry.instances()[0]?.status}`);
        await new Promise((resolve) => setTimeout(resolve, 300));
        events.push('request answered');
        return 'done';
      }
      release(): void {
        events.push(`shutdown hook, registry ${registry.instances()[0]?.status}`);
      }
    }
    Controller()(Slow);
    Get('slow')(Slow.prototype, 'slow', Object.getOwnPropertyDescriptor(Slow.prototype, 'slow')!);
    onShutdown()(Slow.prototype, 'release', Object.getOwnPropertyDescriptor(Slow.prototype, 'release')!);
    class AppModule {}
    Module({ imports: [KaryonModule.forRoot({ name: 'drained', port, host: '127.0.0.1', registry, admin: false, logger: false, lifecycle: { deregistrationDelayMs: 0 } })], controllers: [Slow] })(AppModule);
    const app = await NestFactory.create(AppModule, { logger: false });
    await app.listen(port, '127.0.0.1');
    const service = app.get(Service);
    await service.start();
    service.on('stateChange', ({ to }) => events.push(to));
    const pending = request(`http://127.0.0.1:${port}/slow`).then(async (res) => `${res.statusCode} ${await res.body.text()}`);
    while (!events.some((e) => e.startsWith('request in flight'))) await new Promise((resolve) => setTimeout(resolve, 5));
    await app.close();
    expect(await pending).toBe('200 done');
    expect(events).toEqual(['request in flight, registry UP', 'SHUTTING_DOWN', 'request answered', 'shutdown hook, registry DOWN', 'STOPPED']);
    expect(registry.instances()).toEqual([]);
  });

  it('an application context (no HTTP server): UP once the bootstrap hooks have run, stopped by close()', async () => {
    const registry = new InMemoryRegistry();
    const events: string[] = [];
    class Worker {
      onApplicationBootstrap(): void {
        events.push(`bootstrap hook, registry ${registry.instances()[0]?.status}`);
      }
    }
    Injectable()(Worker);
    class AppModule {}
    Module({ imports: [KaryonModule.forRoot({ name: 'worker', port: 9, registry, admin: false, logger: false })], providers: [Worker] })(AppModule);
    const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
    const service = app.get(Service);
    await service.start();
    expect(events).toEqual(['bootstrap hook, registry STARTING']);
    expect(registry.instances().map((i) => [i.port, i.status])).toEqual([[9, 'UP']]);
    await app.close();
    expect(service.status).toBe('STOPPED');
    expect(registry.instances()).toEqual([]);
  });

  it('listening on another port than the one registered fails the start and leaves the registry', async () => {
    const [registered, actual] = [await freePort(), await freePort()];
    const registry = new InMemoryRegistry();
    const app = await create(rootModule([KaryonModule.forRoot({ name: 'wrong-port', port: registered, host: '127.0.0.1', registry, admin: false, logger: false })]));
    await app.listen(actual, '127.0.0.1');
    const error = await app.get(Service).start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(KaryonError);
    expect((error as KaryonError).code).toBe('ERR_HOOK_FAILED');
    expect(String(((error as KaryonError).cause as Error).message)).toContain(`registered port ${registered}, but Nest listens on ${actual}`);
    expect(app.get(Service).status).toBe('FAILED');
    expect(registry.instances()).toEqual([]);
  });

  it('refuses a port that is not one, a bad clients option, and a request-scoped provider with decorators', async () => {
    expect(() => KaryonModule.forRoot({ name: 'x', port: 1, clients: [''] })).toThrow(/clients must name VIP addresses/);
    expect(() => KaryonModule.forRootAsync({ useFactory: 'no' as never })).toThrow(/useFactory must be a function/);
    await expect(create(rootModule([KaryonModule.forRoot({ name: 'x', port: 0, admin: false, logger: false })]))).rejects.toThrow(/port must be the port the application listens on/);

    class PerRequest {
      check(): { status: string } {
        return { status: 'UP' };
      }
    }
    const descriptor = Object.getOwnPropertyDescriptor(PerRequest.prototype, 'check')!;
    healthCheck('per-request')(PerRequest.prototype, 'check', descriptor);
    Injectable({ scope: Scope.REQUEST })(PerRequest);
    const port = await freePort();
    const app = await create(rootModule([KaryonModule.forRoot({ name: 'scoped', port, registry: new InMemoryRegistry(), admin: false, logger: false })], [PerRequest]));
    await expect(app.listen(port, '127.0.0.1')).rejects.toThrow(/PerRequest has lifecycle decorators but is request-scoped or transient/);
  });
});
