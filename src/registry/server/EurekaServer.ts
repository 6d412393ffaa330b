// Just over 500 lines: the development Eureka server's whole REST surface (register, renew, status, cancel,
// apps, deltas, VIPs) is one routing table over the lease registry, which lives in its own file.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { KaryonError, isKaryonError } from '../../common/KaryonError.js';
import { ServerTracker, listen } from '../../inbound/ServerTracker.js';
import { systemClock } from '../../common/Clock.js';
import { HttpError, Router, readJson, requestUrl, sendText } from '../../internal/http.js';
import type { RouteParams } from '../../internal/http.js';
import { RepeatingTask } from '../../internal/RepeatingTask.js';
import { appsHashcode } from '../eureka/wire.js';
import { vipsOf } from '../InstanceCache.js';
import { InstanceStatus } from '../types.js';
import type { RegistryInstance } from '../types.js';
import type { EurekaLease } from './EurekaLease.js';
import { encodeLease } from './encodeLease.js';
import { resolveEurekaServerOptions } from './EurekaServerOptions.js';
import type { EurekaServerOptions, ResolvedEurekaServerOptions } from './EurekaServerOptions.js';
import { LeaseRegistry } from './LeaseRegistry.js';
import type { DeltaEntry } from './LeaseRegistry.js';
import { applicationJson, applicationsJson, splitAtRenewal, wholeJson } from './applicationsJson.js';
import type { InstanceJson } from './applicationsJson.js';
import { parseRegistration } from './parseRegistration.js';
import { Payload, ResponseCache } from './ResponseCache.js';
import type { Allocate } from './ResponseCache.js';

/** The first path segments after `/eureka` that name a resource; anything else is a version segment (`v2`). */
const resources = new Set(['apps', 'instances', 'vips', 'svips']);
const statusNames: readonly string[] = Object.values(InstanceStatus);
const isStatus = (value: string): value is InstanceStatus => statusNames.includes(value);

type Handler = (req: IncomingMessage, res: ServerResponse, params: RouteParams, url: URL) => unknown;
/** What a route does to the registry: reads it, or writes the application named in its path. */
type Access = 'read' | 'write';

/**
 * A development Eureka server: in memory, speaking the Eureka REST JSON protocol under `/eureka/apps/...` and
 * `/eureka/v2/apps/...` as Netflix and Spring Cloud servers do, with their status rules, leases, eviction,
 * deltas and `apps__hashcode`, so real Eureka clients (ours, eureka-js-client, the Java client) can be run
 * against it. Not a production registry: no replication, no self-preservation, no XML. With `ownerTokens`, only
 * an application's owner may write its instances (and with `readToken`, reads need a token too).
 *
 * @example
 * ```ts
 * import { EurekaServer } from 'karyon-ts/testing';
 *
 * await using eureka = new EurekaServer({ port: 0, leaseDurationMs: 5_000 });
 * await eureka.listen();
 * const service = createService({ name: 'greeter', registry: { eureka: { serviceUrls: [eureka.url] } } });
 * ```
 */
export class EurekaServer {
  /**
   * The options in force, defaults filled (read by the `karyon registry` command).
   * @internal
   */
  readonly options: ResolvedEurekaServerOptions;
  readonly #registry: LeaseRegistry;
  readonly #cache: ResponseCache;
  readonly #router = new Router<void>();
  readonly #server: Server;
  /**
   * Requests in flight, drained by close(). On the real clock, not the injected one: the drain bounds network
   * I/O, and a test's manual clock that nobody advances must not hold close() forever.
   */
  readonly #tracker: ServerTracker;
  readonly #leaseJsonCache = new WeakMap<RegistryInstance, LeaseJson>();
  readonly #changeJsonCache = new WeakMap<DeltaEntry, InstanceJson>();
  #eviction: RepeatingTask | undefined;
  #listening: Promise<number> | undefined;
  #closing: Promise<void> | undefined;
  /** Called when the last request in flight finishes while closing. */
  #port: number | undefined;
  /** Until when (clock ms) registry reads are refused after a start with an empty registry. */
  #readsRefusedUntil = 0;

  /**
   * @param options - port, host, lease and eviction timings, delta retention, response cache, owner and read
   *   tokens, clock, logger
   * @throws KaryonError `ERR_INVALID_OPTION` when an option is invalid.
   */
  constructor(options: EurekaServerOptions = {}) {
    this.options = resolveEurekaServerOptions(options);
    const { clock, logger, leaseDurationMs, deltaRetentionMs, responseCacheMs } = this.options;
    this.#registry = new LeaseRegistry({ clock, logger, leaseDurationMs, deltaRetentionMs });
    this.#cache = new ResponseCache({
      clock,
      refreshMs: responseCacheMs,
      version: () => this.#registry.version,
      build: (key, allocate) => this.#buildPayload(key, allocate),
    });
    this.#server = createServer({ keepAliveTimeout: 30_000 }, (req, res) => this.#dispatch(req, res));
    this.#tracker = new ServerTracker(this.#server, systemClock);
    this.#addRoutes();
  }

  /** The port listened on, once listening. */
  get port(): number | undefined {
    return this.#port;
  }

  /**
   * The service URL to give clients, e.g. `http://127.0.0.1:8761/eureka` (clients append `/apps/...`;
   * `${url}/v2` works too).
   * @throws KaryonError `ERR_INVALID_STATE` before `listen()` has resolved.
   */
  get url(): string {
    if (this.#port === undefined) throw new KaryonError('ERR_INVALID_STATE', 'the Eureka server is not listening yet: await listen() first');
    const { host } = this.options;
    const shown = host === undefined || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    return `http://${shown.includes(':') ? `[${shown}]` : shown}:${this.#port}/eureka`;
  }

  /**
   * Starts listening and the eviction (and response cache) timers; resolves with the port.
   * @throws KaryonError `ERR_LISTEN` when the port cannot be bound, `ERR_INVALID_STATE` after `close()`.
   */
  listen(): Promise<number> {
    if (this.#closing !== undefined) return Promise.reject(new KaryonError('ERR_INVALID_STATE', 'the Eureka server is closed'));
    this.#listening ??= this.#listen();
    return this.#listening;
  }

  /** Every lease held, app by app (a snapshot). */
  instances(): EurekaLease[] {
    return [...this.#registry.all()];
  }

  /** The lease of one instance, by app name (any case) and instance id. */
  instance(app: string, instanceId: string): EurekaLease | undefined {
    return this.#registry.get(app, instanceId);
  }

  /** Evicts expired leases now rather than at the next eviction tick; returns the evicted leases. */
  evictExpired(): EurekaLease[] {
    return this.#registry.evictExpired();
  }

  /**
   * Drops every lease, override and queued change, as a restart of a real server that loses its registry
   * would: clients get 404 on their next heartbeat and register again. Returns how many leases were dropped.
   */
  reset(): number {
    const dropped = this.#registry.clear();
    this.#cache.clear();
    this.#startEmpty();
    return dropped;
  }

  /**
   * Stops listening and the timers, lets requests in flight finish for up to `closeTimeoutMs`, then closes
   * every connection. Idempotent; safe while `listen()` is pending.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** Same as {@link EurekaServer.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #listen(): Promise<number> {
    const { port, host, logger } = this.options;
    try {
      // Once listening the server keeps an 'error' listener that logs: an accept failing (EMFILE) must not crash.
      this.#port = await listen(this.#server, port, host, { name: 'Eureka server', logger });
    } catch (error) {
      throw new KaryonError('ERR_LISTEN', `Eureka server could not listen on port ${port}: ${(error as Error).message}`, { cause: error });
    }
    const { clock, evictionIntervalMs } = this.options;
    this.#eviction = new RepeatingTask({
      clock,
      initialDelayMs: evictionIntervalMs,
      run: () => {
        this.#registry.evictExpired();
        return Promise.resolve(evictionIntervalMs);
      },
    });
    this.#cache.start();
    this.#startEmpty();
    return this.#port;
  }

  /** Starts the wait during which reads are refused, when the registry is empty and a wait is configured. */
  #startEmpty(): void {
    const { waitWhenEmptyMs, clock } = this.options;
    if (waitWhenEmptyMs <= 0 || this.#registry.size > 0) return;
    this.#readsRefusedUntil = clock.now() + waitWhenEmptyMs;
  }

  /** Refuses a registry read during the wait after an empty start (a Netflix server answers 403 too). */
  #refuseReadsWhileEmptyStart(): void {
    if (this.#readsRefusedUntil === 0) return;
    const remaining = this.#readsRefusedUntil - this.options.clock.now();
    if (remaining <= 0) {
      this.#readsRefusedUntil = 0;
      return;
    }
    throw new HttpError(
      403,
      `registry reads are refused for another ${Math.ceil(remaining)} ms: this server started with an empty registry, and clients keep their views while instances register again`,
    );
  }

  async #close(): Promise<void> {
    await this.#listening?.catch(() => undefined);
    await Promise.all([this.#eviction?.close(), this.#cache.close()]);
    if (!this.#server.listening) return;
    await this.#tracker.drain(this.options.closeTimeoutMs);
  }

  /** Routes a request; every handler but register's answers synchronously, so most requests cost no promise. */
  #dispatch(req: IncomingMessage, res: ServerResponse): void {
    try {
      const url = requestUrl(req, 'http://eureka.invalid');
      const path = resourcePath(url.pathname);
      if (path === undefined) throw new HttpError(404, `no Eureka endpoint at ${url.pathname}: paths start with /eureka/apps or /eureka/v2/apps`);
      const match = this.#router.match(req.method ?? 'GET', path);
      if (match.kind === 'not-found') throw new HttpError(404, `no Eureka endpoint at ${url.pathname}`);
      if (match.kind === 'method-not-allowed') {
        throw new HttpError(405, `${req.method ?? ''} is not allowed on ${url.pathname}`, { allow: match.allowed.join(', ') });
      }
      const result = match.handler(req, res, match.params, url);
      if (result instanceof Promise) result.catch((error: unknown) => this.#fail(req, res, error));
    } catch (error) {
      this.#fail(req, res, error);
    }
  }

  #fail(req: IncomingMessage, res: ServerResponse, error: unknown): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (error instanceof HttpError) {
      sendText(res, error.status, error.message, { ...error.headers });
    } else if (isKaryonError(error, 'ERR_EUREKA_PROTOCOL')) {
      sendText(res, 400, error.message);
    } else {
      this.options.logger.error(`Eureka server failed on ${req.method ?? ''} ${req.url ?? ''}: ${(error as Error).message}`, {
        method: req.method,
        url: req.url,
      });
      sendText(res, 500, 'internal error');
    }
  }

  #addRoutes(): void {
    const { access } = this.options;
    const route = (method: string, pattern: string, kind: Access, handler: Handler): void => {
      // Without tokens the handler is added bare: the open server pays nothing for the doors.
      const checked = kind === 'read' ? access.checksReads : access.checksWrites;
      this.#router.add(method, pattern, checked ? (req, res, params, url) => this.#guarded(req, res, params, url, kind, handler) : handler);
    };
    route('GET', '/', 'read', (req, res) => this.#summary(req, res));
    // Before /apps/:app, so an app cannot shadow the delta (Netflix's routing has the same precedence).
    route('GET', '/apps/delta', 'read', (req, res) => {
      this.#refuseReadsWhileEmptyStart();
      this.#sendCached(req, res, 'delta', true);
    });
    route('GET', '/apps', 'read', (req, res) => {
      this.#refuseReadsWhileEmptyStart();
      this.#sendCached(req, res, 'apps', true);
    });
    route('GET', '/apps/:app', 'read', (req, res, { app }) => {
      this.#refuseReadsWhileEmptyStart();
      const name = appOf(app);
      if (!this.#sendCached(req, res, `app:${name}`, false)) throw new HttpError(404, `no application ${name}`);
    });
    route('POST', '/apps/:app', 'write', async (req, res, { app }) => {
      if (!isJsonContent(req)) throw new HttpError(415, 'this development server reads JSON only: send Content-Type: application/json');
      const body = await readJson(req, this.options.maxBodyBytes);
      this.#registry.register(parseRegistration(body, appOf(app), this.options.clock.now()));
      res.writeHead(204).end();
    });
    route('GET', '/apps/:app/:id', 'read', (req, res, { app, id }) => {
      const lease = this.#registry.get(appOf(app), id ?? '');
      if (lease === undefined) throw new HttpError(404, `no instance ${appOf(app)}/${id ?? ''}`);
      this.#sendDocument(req, res, { instance: encodeLease(lease) });
    });
    route('PUT', '/apps/:app/:id', 'write', (_req, res, { app, id }, url) => {
      const outcome = this.#registry.renew(appOf(app), id ?? '', timestampParam(url));
      if (outcome === 'renewed') res.writeHead(200).end();
      else sendText(res, 404, renewRefusals[outcome]);
    });
    route('DELETE', '/apps/:app/:id', 'write', (_req, res, { app, id }) => {
      if (!this.#registry.cancel(appOf(app), id ?? '')) throw new HttpError(404, `no instance ${appOf(app)}/${id ?? ''}`);
      res.writeHead(200).end();
    });
    route('PUT', '/apps/:app/:id/status', 'write', (_req, res, { app, id }, url) => {
      this.#requireInstance(app, id);
      const value = url.searchParams.get('value');
      if (value === null || value === '') throw new HttpError(400, `missing query parameter value: expected one of ${statusNames.join(', ')}`);
      const lastDirty = timestampParam(url);
      this.#registry.setOverride(appOf(app), id ?? '', statusParam(value), lastDirty);
      res.writeHead(200).end();
    });
    route('DELETE', '/apps/:app/:id/status', 'write', (_req, res, { app, id }, url) => {
      this.#requireInstance(app, id);
      const value = url.searchParams.get('value');
      const status = value === null || value === '' ? undefined : statusParam(value);
      this.#registry.removeOverride(appOf(app), id ?? '', status, timestampParam(url));
      res.writeHead(200).end();
    });
    route('PUT', '/apps/:app/:id/metadata', 'write', (_req, res, { app, id }, url) => {
      this.#requireInstance(app, id);
      // A Map, not a plain object: `toString`, `constructor` or `__proto__` are metadata keys like any other.
      const entries = new Map<string, string>();
      for (const [key, value] of url.searchParams) {
        // The first value of a repeated key wins, as on Netflix; `@class` is a Jackson marker, not metadata.
        if (key !== '@class' && !entries.has(key)) entries.set(key, value);
      }
      this.#registry.updateMetadata(appOf(app), id ?? '', Object.fromEntries(entries));
      res.writeHead(200).end();
    });
    route('GET', '/instances/:id', 'read', (req, res, { id }) => {
      const lease = this.#registry.findById(id ?? '');
      if (lease === undefined) throw new HttpError(404, `no instance with id ${id ?? ''}`);
      this.#sendDocument(req, res, { instance: encodeLease(lease) });
    });
    route('GET', '/vips/:vip', 'read', (req, res, { vip }) => this.#sendVip(req, res, vip ?? '', false));
    route('GET', '/svips/:svip', 'read', (req, res, { svip }) => this.#sendVip(req, res, svip ?? '', true));
  }

  /**
   * Runs a handler once the request's token allows it. A refusal is answered before the body is read or
   * anything is looked up, so a refused request changes nothing and learns nothing of the registry.
   */
  #guarded(req: IncomingMessage, res: ServerResponse, params: RouteParams, url: URL, kind: Access, handler: Handler): unknown {
    const { access, logger } = this.options;
    try {
      if (kind === 'write') access.authorizeWrite(req.headers, appOf(params.app));
      else access.authorizeRead(req.headers);
    } catch (error) {
      if (error instanceof HttpError) {
        // The request's body is left unread: drain it so the connection can be reused.
        req.resume();
        logger.warn(`refused ${req.method ?? ''} ${url.pathname} from ${req.socket.remoteAddress ?? 'unknown'} (${error.status}): ${error.message}`, {
          method: req.method,
          path: url.pathname,
          status: error.status,
        });
      }
      throw error;
    }
    return handler(req, res, params, url);
  }

  #requireInstance(app: string | undefined, id: string | undefined): void {
    if (this.#registry.get(appOf(app), id ?? '') === undefined) throw new HttpError(404, `no instance ${appOf(app)}/${id ?? ''}`);
  }

  #buildPayload(key: string, allocate: Allocate): Payload | undefined {
    const registry = this.#registry;
    if (key === 'apps') {
      const instances: InstanceJson[] = [];
      for (const lease of registry.all()) instances.push(this.#leaseJson(lease));
      return new Payload(applicationsJson(instances, registry.version, registry.hashcode(), allocate));
    }
    if (key === 'delta') {
      const { changes, validUntil } = registry.delta();
      const instances = changes.map((change) => this.#changeJson(change));
      return new Payload(applicationsJson(instances, registry.version, registry.hashcode(), allocate), validUntil);
    }
    const name = key.slice('app:'.length);
    const leases = registry.app(name);
    if (leases.length === 0) return undefined;
    return new Payload(applicationJson(name, leases.map((lease) => this.#leaseJson(lease)), allocate));
  }

  /**
   * A lease's JSON as bytes, encoded once per instance record. A renewal replaces the lease but keeps its
   * record, and changes nothing but `lastRenewalTimestamp`: the bytes are kept without that field, which is
   * written in as a payload is assembled, so a full registry rebuilt after a change re-encodes only the
   * instances that changed, not every instance that sent a heartbeat since (on a heartbeating fleet, all of them).
   */
  #leaseJson(lease: EurekaLease): InstanceJson {
    let cached = this.#leaseJsonCache.get(lease.instance);
    if (cached === undefined || !sameButRenewal(cached.lease, lease)) {
      // The placeholder is a negative number no timestamp has; string fields cannot hold it unescaped.
      const split = splitAtRenewal(JSON.stringify(encodeLease({ ...lease, lastRenewalTimestamp: renewalPlaceholder })), renewalPlaceholder);
      const { app } = lease.instance;
      cached = { lease, json: split === undefined ? undefined : { app, head: split.head, tail: split.tail, renewal: undefined } };
      this.#leaseJsonCache.set(lease.instance, cached);
    }
    const { json } = cached;
    if (json === undefined) return wholeJson(lease.instance.app, JSON.stringify(encodeLease(lease)));
    // Set in place: the payload being assembled reads it before anything else runs.
    json.renewal = lease.lastRenewalTimestamp;
    return json;
  }

  /** A delta entry's JSON (with its actionType), encoded once: the same change is served for minutes. */
  #changeJson(change: DeltaEntry): InstanceJson {
    let json = this.#changeJsonCache.get(change);
    if (json === undefined) {
      json = wholeJson(change.lease.instance.app, JSON.stringify(encodeLease(change.lease, change.actionType)));
      this.#changeJsonCache.set(change, json);
    }
    return json;
  }

  /** Answers from the response cache; false when the key has no payload (the caller sends its 404). */
  #sendCached(req: IncomingMessage, res: ServerResponse, key: string, gzipAllowed: boolean): boolean {
    negotiateJson(req);
    const payload = this.#cache.get(key);
    if (payload === undefined) return false;
    if (gzipAllowed && acceptsGzip(req)) {
      void payload.gzipped().then(
        (bytes) => sendBytes(res, bytes, { 'content-encoding': 'gzip', vary: 'Accept-Encoding' }),
        (error: unknown) => this.#fail(req, res, error),
      );
    } else {
      // The body's memory is reused by a later payload of this key only once this response is done with it.
      const release = payload.use();
      res.once('close', release);
      sendBytes(res, payload.body, gzipAllowed ? { vary: 'Accept-Encoding' } : {});
    }
    return true;
  }

  #sendDocument(req: IncomingMessage, res: ServerResponse, document: unknown): void {
    negotiateJson(req);
    sendBytes(res, Buffer.from(JSON.stringify(document)), {});
  }

  #sendVip(req: IncomingMessage, res: ServerResponse, vip: string, secure: boolean): void {
    this.#refuseReadsWhileEmptyStart();
    const wanted = vip.toLowerCase();
    const matching: EurekaLease[] = [];
    for (const lease of this.#registry.all()) {
      const address = secure ? lease.instance.secureVipAddress : lease.instance.vipAddress;
      if (vipsOf({ vipAddress: address }).includes(wanted)) matching.push(lease);
    }
    // As the real server answers: 200 with no application for a VIP nobody serves; the hash of the VIP's own
    // instances; versions__delta -1 (a VIP document is no version of the whole registry).
    const hash = appsHashcode(matching.map((lease) => lease.instance.status));
    // The same bytes as encodeApplications would write, from each lease's JSON encoded once.
    const instances = matching.map((lease) => this.#leaseJson(lease));
    negotiateJson(req);
    sendBytes(res, applicationsJson(instances, -1, hash), {});
  }

  /** `GET /eureka`: a short plain-text view of the registry, for a developer's browser. */
  #summary(_req: IncomingMessage, res: ServerResponse): void {
    const leases = [...this.#registry.all()];
    const apps = new Set(leases.map((lease) => lease.instance.app));
    const lines = [
      'karyon development Eureka server',
      `${leases.length} instance(s) in ${apps.size} application(s); versions__delta ${this.#registry.version}; apps__hashcode "${this.#registry.hashcode()}"`,
      '',
      ...leases.map((lease) => {
        const i = lease.instance;
        const override = i.overriddenStatus === 'UNKNOWN' ? '' : ` (override ${i.overriddenStatus})`;
        return `${i.app}/${i.instanceId}  ${i.status}${override}  ${i.ipAddr}:${i.port}  vip ${i.vipAddress || '-'}`;
      }),
    ];
    sendText(res, 200, `${lines.join('\n')}\n`);
  }
}

/** A lease's JSON around its `lastRenewalTimestamp`, and the lease it was encoded from. */
interface LeaseJson {
  readonly lease: EurekaLease;
  /** The pieces, the renewal set for each payload; undefined if the placeholder was not found once. */
  readonly json: InstanceJson | undefined;
}

const renewalPlaceholder = -987_654_321_012_345;

/** True when two leases differ at most in their renewal time (so they encode alike but for it). */
function sameButRenewal(a: EurekaLease, b: EurekaLease): boolean {
  return (
    a.instance === b.instance &&
    a.dataCenter === b.dataCenter &&
    a.extraFields === b.extraFields &&
    a.registrationTimestamp === b.registrationTimestamp &&
    a.serviceUpTimestamp === b.serviceUpTimestamp &&
    a.evictionTimestamp === b.evictionTimestamp
  );
}

const renewRefusals = {
  'not-registered': 'not registered: register again',
  'status-unknown': 'status is UNKNOWN (its override was removed without a value): register again',
  'newer-timestamp': "the sent lastDirtyTimestamp is newer than the server's record: register again",
} as const;

/** The path below `/eureka` with one optional version segment (`/eureka/v2/apps` -> `/apps`); undefined elsewhere. */
function resourcePath(pathname: string): string | undefined {
  const parts = pathname.split('/').filter((part) => part !== '');
  if (parts[0] !== 'eureka') return undefined;
  const rest = parts.slice(1);
  if (rest.length > 0 && !resources.has(rest[0] as string)) rest.shift();
  return `/${rest.join('/')}`;
}

function appOf(app: string | undefined): string {
  return (app ?? '').toUpperCase();
}

function statusParam(value: string): InstanceStatus {
  if (!isStatus(value)) {
    // Netflix answers 500 (InstanceStatus.valueOf throws); a 400 naming the values is the clearer answer.
    throw new HttpError(400, `unknown status ${JSON.stringify(value)}: expected one of ${statusNames.join(', ')}`);
  }
  return value;
}

function timestampParam(url: URL): number | undefined {
  const value = url.searchParams.get('lastDirtyTimestamp');
  if (value === null || value === '') return undefined;
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new HttpError(400, `invalid lastDirtyTimestamp ${JSON.stringify(value)}: expected epoch milliseconds`);
  }
  return Number(value);
}

/** Netflix answers XML unless the Accept header contains `json`; this server answers JSON or 406. */
function negotiateJson(req: IncomingMessage): void {
  const accept = (req.headers.accept ?? '').toLowerCase();
  if (accept.trim() === '' || accept.includes('json') || accept.includes('*/*') || accept.includes('application/*')) return;
  throw new HttpError(406, `this development server answers JSON only (got Accept: ${accept}): send Accept: application/json`);
}

function isJsonContent(req: IncomingMessage): boolean {
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  return type === '' || type.includes('json');
}

function acceptsGzip(req: IncomingMessage): boolean {
  const header = req.headers['accept-encoding'];
  if (typeof header !== 'string') return false;
  return header
    .toLowerCase()
    .split(',')
    .some((part) => {
      const [coding, ...params] = part.split(';').map((s) => s.trim());
      if (coding !== 'gzip' && coding !== '*') return false;
      const q = params.find((p) => p.startsWith('q='));
      return q === undefined || Number(q.slice(2)) > 0;
    });
}

function sendBytes(res: ServerResponse, body: Buffer, headers: Record<string, string>): void {
  if (res.destroyed) return;
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length, ...headers });
  res.end(body);
}
