import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Clock } from '../common/Clock.js';
import { systemClock } from '../common/Clock.js';
import { KaryonError, isKaryonError } from '../common/KaryonError.js';
import type { Logger } from '../common/Logger.js';
import { silentLogger } from '../common/Logger.js';
import { ServerTracker, listen } from '../inbound/ServerTracker.js';
import { HttpError, Router, readJson, requestUrl, sendError, sendJson } from '../internal/http.js';
import { isLoopbackAddress } from '../internal/net.js';
import type { ResolvedAdminOptions } from './AdminOptions.js';
import type { AdminPrincipal, AdminRole } from './AdminTokens.js';
import { AuditLog } from './AuditLog.js';
import type { AuditChange, AuditMetrics, AuditOutcome, AuditRecorder } from './AuditLog.js';
import { RateLimiter } from './RateLimiter.js';
import type { AdminServiceView } from './types.js';

export { resolveAdminOptions } from './AdminOptions.js';
export type { AdminOptions, AdminRateLimitOptions, ResolvedAdminOptions, ResolvedAdminRateLimit } from './AdminOptions.js';

/** Context handed to admin route handlers. */
export interface AdminRequestContext {
  /** The service view. */
  readonly view: AdminServiceView;
  /** Reads the JSON body within the size limit (400/413 on bad input). */
  readJson(): Promise<unknown>;
  /** Who is calling: a token's name, `loopback` or `anonymous` (on routes that need no token). */
  readonly actor: string;
  /** The caller's role; undefined for `anonymous`. */
  readonly role: AdminRole | undefined;
  /** Records what a mutation changes (action, before, after) in the audit log; ignored on other routes. */
  readonly audit: AuditRecorder;
}

/** A handler of an admin route. */
export type AdminRouteHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  params: Readonly<Record<string, string>>,
  url: URL,
  context: AdminRequestContext,
) => unknown;

/**
 * Who may call a route: `public` (anyone, even when reads are protected: probes, the web UI's static files),
 * `read` (anyone while reads are open; else a token of any role) or `operate` (a token with the operate role, or
 * loopback when no token is configured).
 */
export type AdminAccess = 'public' | 'read' | 'operate';

/** Options of one admin route. */
export interface AdminRouteOptions {
  /**
   * True for a route that changes the service: it needs the `operate` role (or loopback when no token is
   * configured), is rate limited and is recorded in the audit log. Same as `access: 'operate'` on a method
   * other than GET.
   */
  readonly mutation?: boolean;
  /**
   * Who may call the route.
   * @default 'operate' when `mutation` is true, else 'read'
   */
  readonly access?: AdminAccess;
}

/** What the admin server needs besides its options. */
export interface AdminServerDeps {
  /** Receives request failures and one structured line per audit entry. */
  readonly logger?: Logger;
  /** Source of time for the rate limits, the audit log and draining. */
  readonly clock?: Clock;
  /** Counts every audit entry (`adminMetrics(metrics)` fits). */
  readonly auditMetrics?: AuditMetrics;
}

interface RouteInfo {
  readonly handler: AdminRouteHandler;
  readonly access: AdminAccess;
  /** Mutations are limited and audited. */
  readonly mutation: boolean;
  /** The audit action when the handler names none: `PUT /config/:key`. */
  readonly action: string;
}

/** The outcome of authorizing a request: who it is, and why it is refused when it is. */
interface Authorization {
  readonly principal: AdminPrincipal;
  readonly denial: HttpError | undefined;
}

const anonymous: AdminPrincipal = Object.freeze({ actor: 'anonymous', role: undefined });
const loopback: AdminPrincipal = Object.freeze({ actor: 'loopback', role: 'operate' });
const ignoreRecord: AuditRecorder = Object.freeze({ record: () => undefined });
const bearerChallenge = 'Bearer realm="karyon-admin"';

/**
 * The admin HTTP server: health, status and the operator's controls on one port, as Karyon's admin console.
 * Access follows roles: reads open (or `read` tokens when protected), mutations need an `operate` token, or
 * loopback when no token is configured. Mutations are rate limited and recorded in the audit log (`GET /audit`).
 * Never crashes on bad input: malformed requests get a 4xx with a reason.
 *
 * @example
 * ```ts
 * const admin = new AdminServer(view, resolveAdminOptions({ port: 8077, tokens: loadAdminTokens({ env: process.env }) }));
 * admin.route('PUT', '/cache/flush', (_req, res, _params, _url, { audit }) => {
 *   audit.record({ action: 'cache.flush', before: { entries: cache.size } });
 *   cache.clear();
 *   res.writeHead(204).end();
 * }, { mutation: true });
 * await admin.listen();
 * ```
 */
export class AdminServer implements AsyncDisposable {
  readonly #view: AdminServiceView;
  readonly #options: ResolvedAdminOptions;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #router = new Router<void>();
  /** `METHOD /path/:` of every route added, parameters unnamed, to refuse a second one for the same requests. */
  readonly #routeKeys = new Set<string>();
  readonly #server: Server;
  readonly #tracker: ServerTracker;
  readonly #audit: AuditLog;
  readonly #mutationLimiter: RateLimiter | undefined;
  readonly #authFailureLimiter: RateLimiter | undefined;
  #port: number | undefined;
  #closing: Promise<void> | undefined;

  /**
   * @param view - the service, as the admin routes see it
   * @param options - from {@link resolveAdminOptions}
   * @param deps - logger, clock and the audit metrics
   */
  constructor(view: AdminServiceView, options: ResolvedAdminOptions, deps: AdminServerDeps = {}) {
    this.#view = view;
    this.#options = options;
    this.#logger = deps.logger ?? silentLogger;
    this.#clock = deps.clock ?? systemClock;
    this.#audit = new AuditLog(options.audit, { logger: this.#logger, clock: this.#clock, metrics: deps.auditMetrics });
    const limit = options.rateLimit;
    this.#mutationLimiter =
      limit === undefined ? undefined : new RateLimiter({ clock: this.#clock, burst: limit.mutationBurst, perMinute: limit.mutationsPerMinute });
    this.#authFailureLimiter =
      limit === undefined ? undefined : new RateLimiter({ clock: this.#clock, burst: limit.failedAuthBurst, perMinute: limit.failedAuthPerMinute });
    this.#server = createServer((req, res) => void this.#handle(req, res));
    this.#tracker = new ServerTracker(this.#server, this.#clock);
    this.#addCoreRoutes();
  }

  /** The port listened on, once listening. */
  get port(): number | undefined {
    return this.#port;
  }

  /**
   * The base URL of the address bound (`http://127.0.0.1:8077` on loopback, `http://0.0.0.0:8077` or
   * `http://[::]:8077` on every interface), once listening.
   */
  get url(): string | undefined {
    const address = this.#server.address();
    if (this.#port === undefined || address === null || typeof address !== 'object') return undefined;
    const host = address.address;
    return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  }

  /** The audit log of mutations (what `GET /audit` shows). */
  get audit(): AuditLog {
    return this.#audit;
  }

  /**
   * Adds a route. Later subsystems (breakers, config, discovery) add theirs here. A mutation route needs the
   * `operate` role (or loopback when no token is configured), is rate limited per actor, and is audited.
   * @throws KaryonError `ERR_INVALID_OPTION` when `mutation` is combined with an access other than `operate`;
   * `ERR_DUPLICATE_ROUTE` naming the route when one for the same method and path is already registered (the
   * first would answer every request, and the second would silently never run).
   */
  route(method: string, path: string, handler: AdminRouteHandler, options: AdminRouteOptions = {}): this {
    const key = `${method} ${path.split('/').filter((s) => s !== '').map((s) => (s.startsWith(':') ? ':' : s)).join('/')}`;
    if (this.#routeKeys.has(key)) {
      throw new KaryonError('ERR_DUPLICATE_ROUTE', `admin route ${method} ${path} is already registered on this admin server`);
    }
    const mutating = options.mutation === true || (options.access === 'operate' && method !== 'GET' && method !== 'HEAD');
    const access = options.access ?? (mutating ? 'operate' : 'read');
    if (options.mutation === true && access !== 'operate') {
      throw new KaryonError('ERR_INVALID_OPTION', `route ${method} ${path}: a mutation needs access 'operate' (got '${access}')`);
    }
    const info: RouteInfo = { handler, access, mutation: mutating, action: `${method} ${path}` };
    this.#router.add(method, path, (req, res, params, url) => this.#serve(req, res, params, url, info));
    this.#routeKeys.add(key);
    return this;
  }

  /**
   * Starts listening; resolves with the port.
   * @param port - the port to listen on instead of the options' (0 = a free one)
   */
  async listen(port: number = this.#options.port): Promise<number> {
    try {
      this.#port = await listen(this.#server, port, this.#options.host, { name: 'admin server', logger: this.#logger });
    } catch (error) {
      const inUse = (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
      const hint = inUse
        ? ' (another process, perhaps a second instance on this host, has it): give each instance its own admin port with the option admin.port, or the variable KARYON_ADMIN_PORT read by loadSettings(); 0 picks a free one'
        : '';
      throw new KaryonError('ERR_LISTEN', `admin server could not listen on port ${port}: ${(error as Error).message}${hint}`, {
        cause: error,
      });
    }
    this.#logger.info(`admin server listening on ${this.url ?? `port ${this.#port}`}${this.#options.host === '127.0.0.1' ? ' (loopback only: set admin.host to serve other machines)' : ''}`);
    return this.#port;
  }

  /** Stops listening, lets requests in flight finish briefly, then closes every connection. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#tracker.drain(this.#options.closeTimeoutMs).then(() => undefined);
    return this.#closing;
  }

  /** Same as {@link AdminServer.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = requestUrl(req, 'http://admin.invalid');
      const match = this.#router.match(req.method ?? 'GET', url.pathname);
      if (match.kind === 'not-found') throw new HttpError(404, `no admin endpoint at ${url.pathname}`);
      if (match.kind === 'method-not-allowed') {
        throw new HttpError(405, `${req.method ?? ''} is not allowed on ${url.pathname}`, { allow: match.allowed.join(', ') });
      }
      await match.handler(req, res, match.params, url, undefined);
    } catch (error) {
      this.#fail(req, res, error);
    }
  }

  #fail(req: IncomingMessage, res: ServerResponse, error: unknown): void {
    if (!(error instanceof HttpError)) {
      // The path only: a query string is the caller's text and is not logged.
      this.#logger.error('admin request failed', { method: req.method, path: pathOf(req), error: (error as Error).message });
    }
    sendError(res, error);
  }

  /** Authorizes, then runs a route; a mutation is also limited and audited, whatever its outcome. */
  async #serve(req: IncomingMessage, res: ServerResponse, params: Readonly<Record<string, string>>, url: URL, route: RouteInfo): Promise<void> {
    const remote = req.socket.remoteAddress ?? 'unknown';
    const { principal, denial } = this.#authorize(req, route, remote);
    // A refused request's body is never read: drain it, so the connection stays usable for the next request.
    if (denial !== undefined) req.resume();
    if (!route.mutation) {
      if (denial !== undefined) throw denial;
      await route.handler(req, res, params, url, this.#context(req, principal, ignoreRecord));
      return;
    }
    const change: { action: string; before: unknown; after: unknown } = { action: route.action, before: undefined, after: undefined };
    const finish = (outcome: AuditOutcome, status: number, reason?: string): void => {
      this.#audit.append({
        actor: principal.actor,
        role: principal.role ?? 'operate',
        remote,
        method: req.method ?? '',
        path: url.pathname,
        action: change.action,
        before: change.before,
        after: change.after,
        outcome,
        status,
        ...(reason === undefined ? {} : { reason }),
      });
    };
    if (denial !== undefined) {
      finish('denied', denial.status, denial.message);
      throw denial;
    }
    const recorder: AuditRecorder = {
      record: (update: AuditChange) => {
        if (typeof update.action === 'string' && update.action !== '') change.action = update.action;
        if ('before' in update) change.before = update.before;
        if ('after' in update) change.after = update.after;
      },
    };
    try {
      await route.handler(req, res, params, url, this.#context(req, principal, recorder));
    } catch (error) {
      finish('failed', error instanceof HttpError ? error.status : 500);
      throw error;
    }
    const status = res.statusCode;
    finish(status < 400 ? 'ok' : 'failed', status);
    // Only a change spends from the bucket: a flood of bad requests changes nothing and is not throttled here.
    if (status < 400) this.#mutationLimiter?.take(principal.actor);
  }

  #context(req: IncomingMessage, principal: AdminPrincipal, audit: AuditRecorder): AdminRequestContext {
    return {
      view: this.#view,
      readJson: () => readJson(req, this.#options.maxBodyBytes),
      actor: principal.actor,
      role: principal.role,
      audit,
    };
  }

  /**
   * Who the request is and whether it may call the route. Tokens are looked at only where the route needs one,
   * and not at all from an address that presented too many wrong ones lately.
   */
  #authorize(req: IncomingMessage, route: RouteInfo, remote: string): Authorization {
    const { tokens, protectReads } = this.#options;
    if (route.access === 'public' || (route.access === 'read' && !protectReads)) return { principal: anonymous, denial: undefined };
    const needs: AdminRole = route.access === 'operate' ? 'operate' : 'read';
    const asNeeded: AdminPrincipal = { actor: 'anonymous', role: needs };
    if (tokens.size === 0) {
      if (isLoopbackAddress(remote)) return this.#limit(loopback, route);
      const what = needs === 'operate' ? 'mutations are' : 'reads are protected, and';
      return { principal: asNeeded, denial: new HttpError(403, `${what} accepted from loopback only when no admin token is configured`) };
    }
    const header = req.headers.authorization;
    if (header === undefined || header.trim() === '') {
      return { principal: asNeeded, denial: new HttpError(401, `missing bearer token: this needs a token with the ${needs} role`, { 'www-authenticate': bearerChallenge }) };
    }
    const wait = this.#authFailureLimiter?.check(remote) ?? 0;
    if (wait > 0) {
      return { principal: asNeeded, denial: tooMany(`too many wrong tokens from ${remote}`, wait) };
    }
    const check = tokens.identify(header);
    if (check.kind !== 'valid') {
      this.#authFailureLimiter?.take(remote);
      const reason = check.kind === 'malformed' ? 'expected Authorization: Bearer <token>' : 'wrong bearer token';
      return {
        principal: asNeeded,
        denial: new HttpError(401, reason, { 'www-authenticate': `${bearerChallenge}, error="invalid_token"` }),
      };
    }
    const { principal } = check;
    if (needs === 'operate' && principal.role !== 'operate') {
      return {
        principal,
        denial: new HttpError(403, `token '${principal.actor}' has the ${principal.role ?? 'no'} role; this needs operate`, {
          'www-authenticate': `${bearerChallenge}, error="insufficient_scope"`,
        }),
      };
    }
    return this.#limit(principal, route);
  }

  /** Refuses a mutation when the actor spent its bucket; reads are not limited. */
  #limit(principal: AdminPrincipal, route: RouteInfo): Authorization {
    const wait = route.mutation ? (this.#mutationLimiter?.check(principal.actor) ?? 0) : 0;
    if (wait === 0) return { principal, denial: undefined };
    return { principal, denial: tooMany(`too many changes by '${principal.actor}'`, wait) };
  }

  #addCoreRoutes(): void {
    // The probes stay open whatever the read protection: load balancers, Kubernetes and Eureka call them bare.
    this.route(
      'GET',
      '/healthcheck',
      async (_req, res, _params, _url, { view }) => {
        const health = await view.health();
        const status = view.status();
        sendJson(res, status.status === 'UP' ? 200 : 503, { status: status.status, ...health });
      },
      { access: 'public' },
    );
    this.route(
      'GET',
      '/livez',
      async (_req, res, _params, _url, { view }) => {
        const health = await view.health();
        const status = view.status().status;
        const live = health.live && status !== 'FAILED' && status !== 'STOPPED';
        sendJson(res, live ? 200 : 503, { live, status });
      },
      { access: 'public' },
    );
    this.route(
      'GET',
      '/readyz',
      (_req, res, _params, _url, { view }) => {
        const status = view.status().status;
        sendJson(res, status === 'UP' ? 200 : 503, { ready: status === 'UP', status });
      },
      { access: 'public' },
    );
    this.route('GET', '/status', (_req, res, _params, _url, { view }) => {
      sendJson(res, 200, view.status());
    });
    this.route(
      'PUT',
      '/status',
      async (_req, res, _params, _url, context) => {
        const body = await context.readJson();
        const status = typeof body === 'object' && body !== null ? (body as { status?: unknown }).status : undefined;
        if (status !== 'UP' && status !== 'OUT_OF_SERVICE') {
          throw new HttpError(400, `body must be {"status":"OUT_OF_SERVICE"} or {"status":"UP"} (got ${JSON.stringify(body)})`);
        }
        const before = statusOf(context.view);
        context.audit.record({ action: 'status.set', before });
        try {
          await context.view.setOperatorStatus(status);
        } catch (error) {
          if (isKaryonError(error, 'ERR_INVALID_STATE')) throw new HttpError(409, error.message);
          throw error;
        }
        context.audit.record({ after: statusOf(context.view) });
        this.#logger.info('operator changed status', { status, actor: context.actor });
        sendJson(res, 200, context.view.status());
      },
      { mutation: true },
    );
    this.route('GET', '/audit', (_req, res, _params, url) => {
      sendJson(res, 200, { entries: this.#audit.entries(limitParam(url)) });
    });
  }
}

function statusOf(view: AdminServiceView): { status: string; outOfServiceByOperator: boolean } {
  const { status, outOfServiceByOperator } = view.status();
  return { status, outOfServiceByOperator };
}

function tooMany(what: string, waitMs: number): HttpError {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return new HttpError(429, `${what}: retry in ${seconds} s`, { 'retry-after': String(seconds) });
}

function limitParam(url: URL): number | undefined {
  const value = url.searchParams.get('limit');
  if (value === null) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new HttpError(400, `query parameter limit must be a positive integer (got ${JSON.stringify(value)})`);
  return Number(value);
}

function pathOf(req: IncomingMessage): string {
  const raw = req.url ?? '/';
  const query = raw.indexOf('?');
  return query === -1 ? raw : raw.slice(0, query);
}
