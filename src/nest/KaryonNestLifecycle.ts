import type { Server as HttpServer } from 'node:http';
import type { OnApplicationBootstrap, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { DiscoveryService, HttpAdapterHost } from '@nestjs/core';
import { KaryonError } from '../common/KaryonError.js';
import { componentCommands } from '../breaker/decorators.js';
import { ServerTracker } from '../inbound/ServerTracker.js';
import { componentMembers } from '../lifecycle/decorators.js';
import type { Service } from '../lifecycle/Service.js';

/** The default of `bootstrapTimeoutMs`. */
const DEFAULT_BOOTSTRAP_TIMEOUT_MS = 60_000;
/** The default of `lifecycle.drainTimeoutMs`, as the service has it. */
const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;

/** What the lifecycle needs of the module's options. */
export interface NestLifecycleSettings {
  readonly port: number;
  readonly bootstrapTimeoutMs?: number;
  readonly drainTimeoutMs?: number;
}

/**
 * Ties a `Service` to a Nest application's lifecycle (the provider `KaryonModule` adds): at module init
 * it registers the decorated providers and starts the service (STARTING in the registry); the service becomes
 * UP once the initialize hooks have run and Nest has bootstrapped and listens; at module destroy (`app.close()`,
 * or a signal with `enableShutdownHooks()`) it stops the service: DOWN, wait, drain Nest's HTTP server, the
 * shutdown hooks, deregister.
 */
export class KaryonNestLifecycle implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  readonly #service: Service;
  readonly #settings: NestLifecycleSettings;
  readonly #discovery: DiscoveryService;
  readonly #adapterHost: HttpAdapterHost;
  #bootstrapped: () => void = () => undefined;
  readonly #bootstrap: Promise<void>;
  #tracker: ServerTracker | undefined;
  #started: Promise<void> | undefined;

  constructor(service: Service, settings: NestLifecycleSettings, discovery: DiscoveryService, adapterHost: HttpAdapterHost) {
    this.#service = service;
    this.#settings = settings;
    this.#discovery = discovery;
    this.#adapterHost = adapterHost;
    this.#bootstrap = new Promise((resolve) => (this.#bootstrapped = resolve));
  }

  /** Registers the decorated providers and controllers, then starts the service (STARTING). */
  onModuleInit(): void {
    this.#registerComponents();
    const server = this.#httpServer();
    if (server !== undefined) this.#tracker = new ServerTracker(server);
    this.#service.onInitialize((signal) => this.#waitForBootstrap(server, signal), {
      name: 'Nest bootstrap',
      timeoutMs: this.#settings.bootstrapTimeoutMs ?? DEFAULT_BOOTSTRAP_TIMEOUT_MS,
    });
    const drainTimeoutMs = this.#settings.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
    // Added last, so it runs first among the shutdown hooks: Nest's server is drained before the application's
    // own @onShutdown() hooks release what requests need.
    if (this.#tracker !== undefined) {
      const tracker = this.#tracker;
      this.#service.onShutdown(() => this.#drain(tracker, drainTimeoutMs), { name: "draining Nest's HTTP server", timeoutMs: drainTimeoutMs + 1000 });
    }
    // The service logs a failed start itself; `app.get(Service).start()` returns the same promise to whoever
    // wants to await it.
    this.#started = this.#service.start();
    this.#started.catch(() => undefined);
  }

  /** Without an HTTP server (an application context), Nest's bootstrap ends with the modules' bootstrap hooks. */
  onApplicationBootstrap(): void {
    if (this.#httpServer() === undefined) setImmediate(this.#bootstrapped);
  }

  /** Stops the service: DOWN, wait, drain Nest's HTTP server, shutdown hooks, deregister. */
  async onModuleDestroy(): Promise<void> {
    // A failed stop is logged by the service (each failure), which is STOPPED anyway; Nest goes on closing.
    await this.#service.stop().catch(() => undefined);
  }

  #httpServer(): HttpServer | undefined {
    const adapter = this.#adapterHost.httpAdapter as { getHttpServer?: () => unknown } | undefined;
    const server = adapter?.getHttpServer?.();
    return server === undefined || server === null ? undefined : (server as HttpServer);
  }

  #registerComponents(): void {
    const seen = new Set<object>();
    for (const wrapper of [...this.#discovery.getProviders(), ...this.#discovery.getControllers()]) {
      const instance: unknown = wrapper.instance;
      if (typeof instance !== 'object' || instance === null || instance === this || instance === this.#service || seen.has(instance)) continue;
      seen.add(instance);
      if (componentMembers(instance).length === 0 && componentCommands(instance).length === 0) continue;
      if (!wrapper.isDependencyTreeStatic()) {
        throw new KaryonError(
          'ERR_INVALID_COMPONENT',
          `${instance.constructor.name} has lifecycle decorators but is request-scoped or transient: only singleton providers can carry them`,
          { service: this.#service.name },
        );
      }
      this.#service.register(instance);
    }
  }

  /** Resolves once Nest listens (after every bootstrap hook), on the port the instance registered. */
  async #waitForBootstrap(server: HttpServer | undefined, signal: AbortSignal): Promise<void> {
    if (server !== undefined && !server.listening) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          server.off('listening', onListening);
          reject(signal.reason as Error);
        };
        const onListening = (): void => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
        server.once('listening', onListening);
        signal.addEventListener('abort', onAbort, { once: true });
      });
    } else if (server === undefined) {
      await Promise.race([
        this.#bootstrap,
        new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true })),
      ]);
    }
    const address = server?.address();
    if (address !== null && typeof address === 'object' && address.port !== this.#settings.port) {
      throw new KaryonError(
        'ERR_INVALID_OPTION',
        `KaryonModule registered port ${this.#settings.port}, but Nest listens on ${address.port}: give forRoot() the port passed to app.listen()`,
        { service: this.#service.name },
      );
    }
  }

  async #drain(tracker: ServerTracker, deadlineMs: number): Promise<void> {
    const result = await tracker.drain(deadlineMs);
    if (result.forced > 0) {
      throw new KaryonError('ERR_SHUTDOWN', `${result.forced} request(s) still in flight after ${deadlineMs} ms were cut`, { service: this.#service.name });
    }
  }
}
