import type { ServiceClientOptions } from '../http/ServiceClientOptions.js';
import type { ServiceOptions } from '../lifecycle/Service.js';

/**
 * Options of {@link KaryonModule.forRoot}: the options of the service (as `createService()` takes them, less
 * `server`: the module drains Nest's own HTTP server), the clients to make injectable, and how long Nest's
 * bootstrap may take.
 */
export interface KaryonModuleOptions extends Omit<ServiceOptions, 'server' | 'port'> {
  /**
   * The port the application listens on (what it passes to `app.listen()`): the instance registers STARTING
   * with it when the module initialises, before Nest listens. Once Nest listens, a different port fails the
   * start with `ERR_INVALID_OPTION`.
   */
  readonly port: number;
  /**
   * Service clients to make injectable with `@InjectServiceClient(vip)`: a list of VIP addresses, or the
   * options of each client by VIP address (as `service.client(vip, options)` takes them).
   * @default none
   */
  readonly clients?: readonly string[] | Readonly<Record<string, ServiceClientOptions>>;
  /**
   * How long, in ms, the instance waits for Nest's bootstrap (every module's `onApplicationBootstrap`, then
   * `app.listen()`) before the start fails and the instance leaves the registry.
   * @default 60000
   */
  readonly bootstrapTimeoutMs?: number;
  /**
   * Makes the module global, so that every module can inject the service, its clients, metrics and
   * configuration without importing it.
   * @default true
   */
  readonly global?: boolean;
}

/** Options of {@link KaryonModule.forRootAsync}: the module's options made by a factory with Nest's injection. */
export interface KaryonModuleAsyncOptions {
  /** Modules whose providers the factory injects. */
  readonly imports?: readonly unknown[];
  /** The tokens (classes or strings) whose providers are passed to `useFactory`, in order. */
  readonly inject?: readonly unknown[];
  /** Makes the module's options; may be async. */
  readonly useFactory: (...args: never[]) => Omit<KaryonModuleOptions, 'clients' | 'global'> | Promise<Omit<KaryonModuleOptions, 'clients' | 'global'>>;
  /**
   * Clients to make injectable with `@InjectServiceClient(vip)`, known before the factory runs (Nest needs its
   * providers up front).
   * @default none
   */
  readonly clients?: KaryonModuleOptions['clients'];
  /**
   * Makes the module global.
   * @default true
   */
  readonly global?: boolean;
}
