import type { DynamicModule, Provider } from '@nestjs/common';
import { DiscoveryModule, DiscoveryService, HttpAdapterHost } from '@nestjs/core';
import { KaryonError } from '../common/KaryonError.js';
import type { ServiceClientOptions } from '../http/ServiceClientOptions.js';
import { createService } from '../lifecycle/createService.js';
import { Service } from '../lifecycle/Service.js';
import { KaryonNestLifecycle } from './KaryonNestLifecycle.js';
import type { KaryonModuleAsyncOptions, KaryonModuleOptions } from './KaryonModuleOptions.js';
import { KARYON_CONFIG, KARYON_METRICS, KARYON_MODULE_OPTIONS, serviceClientToken } from './tokens.js';

type ModuleOptions = Omit<KaryonModuleOptions, 'clients' | 'global'>;

/**
 * A Nest module that runs the application as a karyon-ts {@link Service}: the instance registers STARTING when
 * the module initialises and becomes UP once the initialize hooks have run and Nest has bootstrapped and
 * listens; `app.close()` (or a signal, with `app.enableShutdownHooks()`) makes it DOWN, waits, drains Nest's
 * HTTP server (Express or Fastify), runs the shutdown hooks and deregisters. `@initialize()`,
 * `@healthCheck()`, `@command()` and `@onShutdown()` methods of providers and controllers are found through
 * Nest's discovery. Inject the `Service` class itself, `@InjectServiceClient(vip)`, `@InjectMetrics()` and
 * `@InjectConfig()`.
 *
 * @example
 * ```ts
 * @Module({
 *   imports: [KaryonModule.forRoot({ name: 'quotes', port: 3000, registry: { eureka: { serviceUrls: [url] } }, clients: ['pricing'] })],
 *   controllers: [QuotesController],
 * })
 * class AppModule {}
 * const app = await NestFactory.create(AppModule);
 * app.enableShutdownHooks();
 * await app.listen(3000);
 * ```
 */
export class KaryonModule {
  /**
   * The module with options given as they are.
   * @throws KaryonError ERR_INVALID_OPTION when `port` or `clients` is not what it should be (the service's
   * options are checked as `createService()` checks them).
   */
  static forRoot(options: KaryonModuleOptions): DynamicModule {
    const { clients, global, ...serviceOptions } = options;
    return KaryonModule.#module({ provide: KARYON_MODULE_OPTIONS, useValue: serviceOptions }, clients, global);
  }

  /**
   * The module with options made by a factory (which may inject other providers, e.g. a config service).
   * @throws KaryonError ERR_INVALID_OPTION when `useFactory` is not a function or `clients` is invalid.
   */
  static forRootAsync(options: KaryonModuleAsyncOptions): DynamicModule {
    if (typeof options.useFactory !== 'function') {
      throw new KaryonError('ERR_INVALID_OPTION', `KaryonModule.forRootAsync: useFactory must be a function (got ${typeof options.useFactory})`);
    }
    const provider = {
      provide: KARYON_MODULE_OPTIONS,
      useFactory: options.useFactory as (...args: unknown[]) => ModuleOptions | Promise<ModuleOptions>,
      inject: [...(options.inject ?? [])],
    } as Provider;
    const module = KaryonModule.#module(provider, options.clients, options.global);
    return { ...module, imports: [...(module.imports ?? []), ...((options.imports ?? []) as NonNullable<DynamicModule['imports']>)] };
  }

  static #module(optionsProvider: Provider, clients: KaryonModuleOptions['clients'], global: boolean | undefined): DynamicModule {
    const clientOptions = resolveClients(clients);
    const clientProviders: Provider[] = [...clientOptions].map(([vip, options]) => ({
      provide: serviceClientToken(vip),
      useFactory: (service: Service) => service.client(vip, options),
      inject: [Service],
    }));
    const providers: Provider[] = [
      optionsProvider,
      { provide: Service, useFactory: (options: ModuleOptions) => createService(serviceOptions(options)), inject: [KARYON_MODULE_OPTIONS] },
      { provide: KARYON_METRICS, useFactory: (service: Service) => service.metrics, inject: [Service] },
      { provide: KARYON_CONFIG, useFactory: (options: ModuleOptions) => options.config, inject: [KARYON_MODULE_OPTIONS] },
      {
        provide: KaryonNestLifecycle,
        useFactory: (service: Service, options: ModuleOptions, discovery: DiscoveryService, adapterHost: HttpAdapterHost) =>
          new KaryonNestLifecycle(
            service,
            {
              port: options.port,
              ...(options.bootstrapTimeoutMs === undefined ? {} : { bootstrapTimeoutMs: options.bootstrapTimeoutMs }),
              ...(options.lifecycle?.drainTimeoutMs === undefined ? {} : { drainTimeoutMs: options.lifecycle.drainTimeoutMs }),
            },
            discovery,
            adapterHost,
          ),
        inject: [Service, KARYON_MODULE_OPTIONS, DiscoveryService, HttpAdapterHost],
      },
      ...clientProviders,
    ];
    return {
      module: KaryonModule,
      global: global ?? true,
      imports: [DiscoveryModule],
      providers,
      exports: [Service, KARYON_METRICS, KARYON_CONFIG, ...clientProviders.map((p) => (p as { provide: string }).provide)],
    };
  }
}

/** The service's options: the module's, checked, less its own. */
function serviceOptions(options: ModuleOptions): Omit<ModuleOptions, 'bootstrapTimeoutMs'> {
  const { bootstrapTimeoutMs: _bootstrapTimeoutMs, ...rest } = options;
  const port: unknown = options.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new KaryonError(
      'ERR_INVALID_OPTION',
      `KaryonModule: port must be the port the application listens on, an integer from 1 to 65535 (got ${String(port)})`,
    );
  }
  return rest;
}

function resolveClients(clients: KaryonModuleOptions['clients']): Map<string, ServiceClientOptions> {
  const resolved = new Map<string, ServiceClientOptions>();
  if (clients === undefined) return resolved;
  if (Array.isArray(clients)) {
    for (const vip of clients as readonly unknown[]) {
      if (typeof vip !== 'string' || vip === '') throw new KaryonError('ERR_INVALID_OPTION', `KaryonModule: clients must name VIP addresses (got ${JSON.stringify(vip)})`);
      resolved.set(vip, {});
    }
    return resolved;
  }
  if (typeof clients !== 'object' || clients === null) {
    throw new KaryonError('ERR_INVALID_OPTION', `KaryonModule: clients must be a list of VIP addresses or options by VIP address (got ${typeof clients})`);
  }
  for (const [vip, options] of Object.entries(clients as Readonly<Record<string, ServiceClientOptions>>)) resolved.set(vip, options);
  return resolved;
}
