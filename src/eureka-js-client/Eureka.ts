import { EventEmitter } from 'node:events';
import { Agent } from 'undici';
import type { Dispatcher } from 'undici';
import { KaryonError } from '../common/KaryonError.js';
import type { Logger } from '../common/Logger.js';
import { errorMessage } from '../internal/async.js';
import { EurekaRegistry } from '../registry/eureka/EurekaRegistry.js';
import type { RegistrationEvent, RegistrationOperation } from '../registry/eureka/EurekaRegistryEvents.js';
import { encodeInstance } from '../registry/eureka/wire.js';
import type { WireInstance, WirePort } from '../registry/eureka/wire.js';
import type { RegistryInstance } from '../registry/types.js';
import { resolveEurekaClientConfig } from './EurekaClientConfig.js';
import type { EurekaClientConfig, EurekaClientLogger, EurekaClientRequestOptions, ResolvedEurekaClientConfig } from './EurekaClientConfig.js';

/**
 * A port on the wire as the client hands it out: `{ $: 8080, '@enabled': 'true' }` (Eureka's {@link WirePort},
 * written with a number and a string flag).
 */
export interface EurekaClientWirePort extends WirePort {
  /** The port number. */
  readonly $: number;
  /** `'true'` or `'false'`. */
  readonly '@enabled': string;
}

/**
 * An instance as eureka-js-client returns it: Eureka's wire form ({@link WireInstance}), as the client encodes
 * it.
 */
export interface EurekaClientInstance extends Omit<WireInstance, 'port' | 'securePort'> {
  /** Plain HTTP port. */
  readonly port: EurekaClientWirePort;
  /** HTTPS port. */
  readonly securePort: EurekaClientWirePort;
}

/** A node-style callback, as eureka-js-client's `start()` and `stop()` take. */
export type EurekaClientCallback = (error: Error | null) => void;

/** The events of {@link Eureka}, as eureka-js-client emits them (no payloads). */
export interface EurekaClientEvents {
  /** `start()` finished: registered and, when fetching, the first registry fetched. */
  started: [];
  /** A registration was accepted (the first, and each re-registration after a heartbeat's 404). */
  registered: [];
  /** The lease was cancelled. */
  deregistered: [];
  /** A heartbeat renewed the lease. */
  heartbeat: [];
  /** A registry fetch (full or delta) was applied. */
  registryUpdated: [];
}

const noop = (): void => undefined;

const levels = { debug: 10, info: 20, warn: 30, error: 40 } as const;
type LevelName = keyof typeof levels;

/**
 * eureka-js-client's default logger: lines at or above its level (`info` at first) on stderr; `level('debug')`
 * changes the level, `level()` reads it.
 */
export class EurekaClientDefaultLogger implements EurekaClientLogger {
  #level: LevelName = 'info';

  /** Sets the level when given one, and returns the level in force. */
  level(name?: string): string {
    if (name !== undefined) {
      if (!(name in levels)) throw new KaryonError('ERR_INVALID_OPTION', `logger level must be one of debug, info, warn, error (got ${JSON.stringify(name)})`);
      this.#level = name as LevelName;
    }
    return this.#level;
  }

  /** Writes a debug line. */
  debug(...args: unknown[]): void {
    this.#write('debug', args);
  }

  /** Writes an info line. */
  info(...args: unknown[]): void {
    this.#write('info', args);
  }

  /** Writes a warning line. */
  warn(...args: unknown[]): void {
    this.#write('warn', args);
  }

  /** Writes an error line. */
  error(...args: unknown[]): void {
    this.#write('error', args);
  }

  #write(level: LevelName, args: unknown[]): void {
    if (levels[level] < levels[this.#level]) return;
    const text = args.map((arg) => (typeof arg === 'string' ? arg : arg instanceof Error ? arg.message : JSON.stringify(arg))).join(' ');
    process.stderr.write(`eureka ${level}: ${text}\n`);
  }
}

/**
 * A drop-in for eureka-js-client 4.5's `Eureka` class on this package's Eureka client: the same constructor
 * configuration, methods and events, so an app moves by changing its import. Underneath: registration retried
 * with backoff until it succeeds (eureka-js-client gives up), deltas checked against the server's hash (with a
 * full fetch when they disagree), every status kept (`filterUpInstances: false` shows them),
 * `instance.status: 'STARTING'` registered as given (eureka-js-client forces UP), and {@link Eureka.setStatus}
 * to report a status later. Options it cannot honour are refused with an error naming them.
 *
 * @example
 * ```ts
 * import { Eureka } from 'karyon-ts/eureka-js-client';
 * const client = new Eureka({
 *   instance: { app: 'jqservice', hostName: 'localhost', ipAddr: '127.0.0.1', port: 8080, vipAddress: 'jq.test.something.com',
 *     dataCenterInfo: { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' } },
 *   eureka: { host: 'eureka', port: 8761, servicePath: '/eureka/apps/' },
 * });
 * client.start((error) => console.log(error ?? 'registered'));
 * ```
 */
export class Eureka extends EventEmitter<EurekaClientEvents> {
  readonly #config: ResolvedEurekaClientConfig;
  readonly #logger: Logger;
  /** The logger: the one configured, else eureka-js-client's default (`client.logger.level('debug')`). */
  readonly logger: EurekaClientLogger;
  #registry: EurekaRegistry | undefined;
  #dispatcher: Dispatcher | undefined;
  #starting: Promise<void> | undefined;
  #stopped = false;
  /** Holds the process open from `start()` to `stop()`, as eureka-js-client's heartbeat interval does. */
  #keepAlive: NodeJS.Timeout | undefined;
  readonly #converted = new WeakMap<readonly RegistryInstance[], EurekaClientInstance[]>();
  readonly #wire = new WeakMap<RegistryInstance, EurekaClientInstance>();

  /**
   * Checks the configuration; sends nothing until `start()`.
   * @throws KaryonError `ERR_INVALID_OPTION` naming an option refused or wrong; `ERR_INVALID_CONFIG` when an
   * `eureka-client.yml` sits where eureka-js-client would read it
   */
  constructor(config: EurekaClientConfig = {}) {
    super();
    this.#config = resolveEurekaClientConfig(config);
    this.logger = this.#config.logger ?? new EurekaClientDefaultLogger();
    this.#logger = toLogger(this.logger);
  }

  /** The instance id: `instance.instanceId`, else `instance.hostName` (undefined when not registering). */
  get instanceId(): string | undefined {
    return this.#config.instance?.instanceId;
  }

  /**
   * Registers the instance, starts heartbeats and registry fetches, and fetches the registry once; then
   * emits `started` and calls `callback(null)`. When registration or the first fetch still fails after
   * `maxRetries` retries, calls `callback(error)`, and keeps retrying in the background (eureka-js-client
   * stops there).
   */
  start(callback: EurekaClientCallback = noop): void {
    if (this.#starting !== undefined || this.#stopped) {
      callback(new KaryonError('ERR_INVALID_STATE', this.#stopped ? 'this Eureka client was stopped; make a new one' : 'this Eureka client is already started'));
      return;
    }
    this.#keepAlive = setInterval(noop, 1 << 30);
    this.#starting = this.#start();
    this.#starting.then(
      () => {
        this.emit('started');
        callback(null);
      },
      (error: unknown) => {
        this.#logger.warn(`Error starting the Eureka Client: ${errorMessage(error)}`);
        callback(error instanceof Error ? error : new Error(String(error)));
      },
    );
  }

  /**
   * Cancels the lease (when registered), stops heartbeats and fetches and closes connections; then calls
   * `callback(null)`, or `callback(error)` when the cancel still failed after `maxRetries` retries.
   */
  stop(callback: EurekaClientCallback = noop): void {
    this.#stop().then(
      () => callback(null),
      (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
    );
  }

  /**
   * The instances of an application (UP only unless `filterUpInstances` is false), in eureka-js-client's
   * shape. Case-insensitive.
   * @throws KaryonError `ERR_INVALID_OPTION` without an app id
   */
  getInstancesByAppId(appId: string): EurekaClientInstance[] {
    if (typeof appId !== 'string' || appId === '') throw new KaryonError('ERR_INVALID_OPTION', 'getInstancesByAppId() needs an app id');
    const registry = this.#registry;
    if (registry === undefined) return [];
    return this.#convert(registry.instancesByApp(appId));
  }

  /**
   * The instances serving a VIP address (UP only unless `filterUpInstances` is false), in eureka-js-client's
   * shape. Case-insensitive.
   * @throws KaryonError `ERR_INVALID_OPTION` without a VIP address
   */
  getInstancesByVipAddress(vipAddress: string): EurekaClientInstance[] {
    if (typeof vipAddress !== 'string' || vipAddress === '') throw new KaryonError('ERR_INVALID_OPTION', 'getInstancesByVipAddress() needs a VIP address');
    const registry = this.#registry;
    if (registry === undefined) return [];
    return this.#convert(this.#config.filterUpInstances ? registry.upInstancesByVip(vipAddress) : registry.instancesByVip(vipAddress));
  }

  /** Fetches the registry now (eureka-js-client's `fetchRegistry(cb)`). */
  fetchRegistry(callback: EurekaClientCallback = noop): void {
    const registry = this.#registry;
    if (registry === undefined) {
      callback(new KaryonError('ERR_INVALID_STATE', 'fetchRegistry() before start()'));
      return;
    }
    registry.refresh().then(
      () => callback(null),
      (error: unknown) => callback(error as Error),
    );
  }

  /**
   * Reports the instance's status to Eureka (not in eureka-js-client): `UP`, `DOWN` and `STARTING` by
   * re-registering, `OUT_OF_SERVICE` through the server's override. Retried until it succeeds; resolves after
   * the first attempt.
   * @throws KaryonError `ERR_INVALID_STATE` before `start()` or when not registering; `ERR_INVALID_OPTION` for
   * another status
   */
  async setStatus(status: 'UP' | 'DOWN' | 'STARTING' | 'OUT_OF_SERVICE'): Promise<void> {
    const registry = this.#registry;
    const instance = this.#config.instance;
    if (registry === undefined || instance === undefined) {
      throw new KaryonError('ERR_INVALID_STATE', 'setStatus() needs a started client that registers (registerWithEureka)');
    }
    if (!['UP', 'DOWN', 'STARTING', 'OUT_OF_SERVICE'].includes(status)) {
      throw new KaryonError('ERR_INVALID_OPTION', `setStatus() takes UP, DOWN, STARTING or OUT_OF_SERVICE (got ${JSON.stringify(status)})`);
    }
    await registry.setStatus(instance.instanceId, status);
  }

  /** The Eureka client underneath, for its events (`fetch`, `heartbeat`, `registration`) and reads. */
  get registry(): EurekaRegistry | undefined {
    return this.#registry;
  }

  async #start(): Promise<void> {
    const config = this.#config;
    if (config.requestMiddleware !== undefined) this.#dispatcher = middlewareDispatcher(config, this.#logger);
    const registry = new EurekaRegistry({
      serviceUrls: config.serviceUrls,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      registryFetchIntervalMs: config.registryFetchIntervalMs,
      fetchRegistry: config.fetchRegistry,
      fetchDeltas: config.fetchDeltas,
      retryInitialDelayMs: config.retryDelayMs,
      retryMaxDelayMs: Math.max(config.retryDelayMs, 30_000),
      logger: this.#logger,
      ...(this.#dispatcher === undefined ? {} : { dispatcher: this.#dispatcher }),
    });
    this.#registry = registry;
    registry.on('registration', (event) => {
      if (!event.ok) return;
      if (event.operation === 'register') this.#tell('registered');
      else if (event.operation === 'cancel') this.#tell('deregistered');
    });
    registry.on('heartbeat', (event) => {
      if (event.ok) this.#tell('heartbeat');
      else this.#logger.warn(`eureka heartbeat FAILED${event.reregister ? ', re-registering' : ', will retry'}: ${event.error ?? event.statusCode}`);
    });
    registry.on('fetch', (event) => {
      if (event.ok) this.#tell('registryUpdated');
    });

    const instance = config.instance;
    if (instance !== undefined) {
      const accepted = this.#outcome(instance.instanceId, 'register');
      await registry.register(instance, config.status);
      await accepted;
      this.#logger.info(`registered with eureka: ${instance.app}/${instance.instanceId}`);
    }
    if (config.fetchRegistry) {
      await this.#firstFetch(registry);
      if (config.waitForRegistry && instance !== undefined) await this.#waitForOwnVip(registry, instance.vipAddress);
    }
  }

  async #stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#keepAlive);
    await this.#starting?.catch(noop);
    const registry = this.#registry;
    if (registry === undefined) return;
    try {
      const instance = this.#config.instance;
      if (instance !== undefined && registry.registeredInstanceIds.includes(instance.instanceId)) {
        const cancelled = this.#outcome(instance.instanceId, 'cancel');
        await registry.deregister(instance.instanceId);
        await cancelled;
        this.#logger.info(`de-registered with eureka: ${instance.app}/${instance.instanceId}`);
      }
    } finally {
      await registry.close();
      await this.#dispatcher?.destroy().catch(noop);
    }
  }

  /** Resolves on the first accepted `operation`, rejects after `maxRetries + 1` failed attempts. */
  #outcome(instanceId: string, operation: RegistrationOperation): Promise<void> {
    const registry = this.#registry as EurekaRegistry;
    const outcome = new Promise<void>((resolve, reject) => {
      const listener = (event: RegistrationEvent) => {
        if (event.instanceId !== instanceId || event.operation !== operation) return;
        if (event.ok) {
          registry.off('registration', listener);
          resolve();
        } else if (event.failures > this.#config.maxRetries || event.serviceUrl === undefined) {
          registry.off('registration', listener);
          reject(new KaryonError('ERR_REGISTRY_UNAVAILABLE', `eureka ${operation} FAILED after ${event.failures} attempts: ${event.error ?? `status ${event.statusCode}`}`, { instanceId }));
        }
      };
      registry.on('registration', listener);
    });
    // It may settle before the caller awaits it (the first attempt fails before `register()` resolves).
    outcome.catch(noop);
    return outcome;
  }

  async #firstFetch(registry: EurekaRegistry): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await registry.refresh();
        return;
      } catch (error) {
        if (attempt >= this.#config.maxRetries || this.#stopped) throw error;
        // eureka-js-client waits requestRetryDelay * (attempt + 1) between tries.
        await new Promise((resolve) => setTimeout(resolve, this.#config.retryDelayMs * (attempt + 1)));
      }
    }
  }

  #waitForOwnVip(registry: EurekaRegistry, vip: string): Promise<void> {
    if (this.getInstancesByVipAddress(vip).length > 0) return Promise.resolve();
    return new Promise((resolve) => {
      const off = registry.onChange(() => {
        if (this.getInstancesByVipAddress(vip).length > 0 || this.#stopped) {
          off();
          resolve();
        }
      });
    });
  }

  #convert(instances: readonly RegistryInstance[]): EurekaClientInstance[] {
    let converted = this.#converted.get(instances);
    if (converted === undefined) {
      const filter = this.#config.filterUpInstances;
      converted = [];
      for (const instance of instances) {
        if (filter && instance.status !== 'UP') continue;
        let wire = this.#wire.get(instance);
        if (wire === undefined) {
          wire = encodeInstance(instance, instance.status, instance.lastDirtyTimestamp, {
            overriddenStatus: instance.overriddenStatus,
            lastUpdatedTimestamp: instance.lastUpdatedTimestamp,
          }) as EurekaClientInstance;
          this.#wire.set(instance, wire);
        }
        converted.push(wire);
      }
      this.#converted.set(instances, converted);
    }
    // A copy, as each eureka-js-client call hands out its cache arrays: callers may sort or splice them.
    return converted.slice();
  }

  #tell(event: keyof EurekaClientEvents): void {
    try {
      this.emit(event);
    } catch (error) {
      this.#logger.error(`a '${event}' listener threw: ${errorMessage(error)}`);
    }
  }
}

function toLogger(logger: EurekaClientLogger): Logger {
  return {
    debug: (message, fields) => logger.debug(message, ...(fields === undefined ? [] : [fields])),
    info: (message, fields) => logger.info(message, ...(fields === undefined ? [] : [fields])),
    warn: (message, fields) => logger.warn(message, ...(fields === undefined ? [] : [fields])),
    error: (message, fields) => logger.error(message, ...(fields === undefined ? [] : [fields])),
  };
}

interface LegacyHandler {
  onError?(error: Error): void;
  onResponseError?(controller: unknown, error: Error): void;
}

/**
 * An undici agent that hands each request to eureka-js-client's `requestMiddleware` first, with the request
 * options eureka-js-client would have given it, and sends it with the headers (and `auth`) the middleware
 * hands back. A middleware that changes anything else fails the request with an error naming the field.
 */
function middlewareDispatcher(config: ResolvedEurekaClientConfig, logger: Logger): Dispatcher {
  const middleware = config.requestMiddleware as NonNullable<ResolvedEurekaClientConfig['requestMiddleware']>;
  const agent = new Agent();
  const bases = config.serviceUrls.map((url) => new URL(url));
  const intercept =
    (dispatch: Dispatcher['dispatch']): Dispatcher['dispatch'] =>
    (opts, handler) => {
      const fail = (error: Error) => {
        const h = handler as LegacyHandler;
        if (typeof h.onResponseError === 'function') h.onResponseError(null, error);
        else h.onError?.(error);
      };
      const origin = String(opts.origin ?? '');
      const [pathname = '', query = ''] = opts.path.split('?');
      const base = bases.find((b) => b.origin === origin.replace(/\/+$/, '') && pathname.startsWith(`${b.pathname.replace(/\/+$/, '')}/apps`));
      const basePath = `${(base?.pathname ?? '').replace(/\/+$/, '')}/apps`;
      const headers: Record<string, string> = {};
      const given = opts.headers;
      if (Array.isArray(given)) for (let i = 0; i + 1 < given.length; i += 2) headers[String(given[i])] = String(given[i + 1]);
      else if (given !== null && typeof given === 'object') for (const [k, v] of Object.entries(given as Record<string, unknown>)) if (typeof v === 'string' || typeof v === 'number') headers[k] = String(v);
      const request: EurekaClientRequestOptions = {
        method: opts.method,
        uri: decodeURIComponent(pathname.slice(basePath.length).replace(/^\/+/, '')),
        baseUrl: `${origin}${basePath}/`,
        qs: Object.fromEntries(new URLSearchParams(query)),
        headers: { ...headers },
      };
      try {
        middleware(request, (changed) => {
          if (typeof changed !== 'object' || changed === null) {
            fail(new KaryonError('ERR_INVALID_OPTION', 'requestMiddleware did not return an object'));
            return;
          }
          for (const field of ['method', 'uri', 'baseUrl'] as const) {
            if (changed[field] !== request[field]) {
              fail(new KaryonError('ERR_INVALID_OPTION', `requestMiddleware changed '${field}': only headers and auth may be changed here`));
              return;
            }
          }
          const next: Record<string, string> = { ...changed.headers };
          const auth = changed.auth;
          if (auth !== undefined) {
            const user = auth.user ?? auth.username ?? '';
            const pass = auth.pass ?? auth.password ?? '';
            next.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
          }
          dispatch({ ...opts, headers: next }, handler);
        });
      } catch (error) {
        logger.warn(`requestMiddleware threw: ${errorMessage(error)}`);
        fail(error instanceof Error ? error : new Error(String(error)));
      }
      return true;
    };
  return agent.compose(intercept);
}

