import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Clock } from '../common/Clock.js';
import { systemClock } from '../common/Clock.js';
import { KaryonError, isKaryonError } from '../common/KaryonError.js';
import type { Logger } from '../common/Logger.js';
import { silentLogger } from '../common/Logger.js';
import { ServerTracker, listen } from '../http/ServerTracker.js';
import { HttpError, Router, readJson, sendError, sendJson } from '../internal/http.js';
import { isLoopbackAddress } from '../internal/net.js';
import { durationMs, port as portOption, positiveInt } from '../internal/validate.js';
import type { AdminServiceView } from './types.js';

/** Options of the admin HTTP server. */
export interface AdminOptions {
  /**
   * Port to listen on; 0 picks a free one.
   * @default 8077
   */
  readonly port?: number;
  /**
   * Address to bind.
   * @default all interfaces
   */
  readonly host?: string;
  /**
   * Bearer token required for mutations. Without one, mutations are accepted from loopback only.
   * @default none
   */
  readonly token?: string;
  /**
   * Largest request body accepted, in bytes.
   * @default 65536
   */
  readonly maxBodyBytes?: number;
  /**
   * How long `close()` lets admin requests in flight finish, in ms.
   * @default 1000
   */
  readonly closeTimeoutMs?: number;
}

/** {@link AdminOptions} with defaults filled and values checked. */
export interface ResolvedAdminOptions {
  /** Port to listen on. */
  readonly port: number;
  /** Address to bind, or undefined for all interfaces. */
  readonly host: string | undefined;
  /** The mutation token, or undefined. */
  readonly token: string | undefined;
  /** Largest request body, in bytes. */
  readonly maxBodyBytes: number;
  /** How long `close()` waits for requests in flight, in ms. */
  readonly closeTimeoutMs: number;
}

/** Fills the defaults of {@link AdminOptions} and validates them. */
export function resolveAdminOptions(options: AdminOptions = {}): ResolvedAdminOptions {
  if (options.token !== undefined && (typeof options.token !== 'string' || options.token === '')) {
    throw new KaryonError('ERR_INVALID_OPTION', `option 'admin.token' must be a non-empty string (got ${typeof options.token})`);
  }
  return Object.freeze({
    port: portOption('admin.port', options.port, 8077),
    host: options.host,
    token: options.token,
    maxBodyBytes: positiveInt('admin.maxBodyBytes', options.maxBodyBytes, 64 * 1024),
    closeTimeoutMs: durationMs('admin.closeTimeoutMs', options.closeTimeoutMs, 1000),
  });
}

/** Context handed to admin route handlers. */
export interface AdminRequestContext {
  /** The service view. */
  readonly view: AdminServiceView;
  /** Reads the JSON body within the size limit (400/413 on bad input). */
  readJson(): Promise<unknown>;
}

/** A handler of an admin route. */
export type AdminRouteHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  params: Readonly<Record<string, string>>,
  url: URL,
  context: AdminRequestContext,
) => unknown;

/** Options of one admin route. */
export interface AdminRouteOptions {
  /** True for a route that changes the service: it needs the admin token (or loopback when none is set). */
  readonly mutation?: boolean;
}

/**
 * The admin HTTP server: health, status and the operator's controls on one port, as Karyon's admin console.
 * Never crashes on bad input: malformed requests get a 4xx with a reason.
 */
export class AdminServer {
  readonly #view: AdminServiceView;
  readonly #options: ResolvedAdminOptions;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #router = new Router<AdminRequestContext>();
  readonly #server: Server;
  readonly #tracker: ServerTracker;
  readonly #tokenDigest: Buffer | undefined;
  #port: number | undefined;
  #closing: Promise<void> | undefined;

  constructor(view: AdminServiceView, options: ResolvedAdminOptions, deps: { logger?: Logger; clock?: Clock } = {}) {
    this.#view = view;
    this.#options = options;
    this.#logger = deps.logger ?? silentLogger;
    this.#clock = deps.clock ?? systemClock;
    this.#tokenDigest = options.token === undefined ? undefined : digest(options.token);
    this.#server = createServer((req, res) => void this.#handle(req, res));
    this.#tracker = new ServerTracker(this.#server, this.#clock);
    this.#addCoreRoutes();
  }

  /** The port listened on, once listening. */
  get port(): number | undefined {
    return this.#port;
  }

  /** The base URL (`http://host:port`), once listening. */
  get url(): string | undefined {
    if (this.#port === undefined) return undefined;
    const host = this.#options.host === undefined || this.#options.host === '0.0.0.0' || this.#options.host === '::' ? '127.0.0.1' : this.#options.host;
    return `http://${host.includes(':') ? `[${host}]` : host}:${this.#port}`;
  }

  /**
   * Adds a route. Later subsystems (breakers, config, discovery) add theirs here.
   * A mutation route requires the admin token, or loopback when none is set.
   */
  route(method: string, path: string, handler: AdminRouteHandler, options: AdminRouteOptions = {}): this {
    const guarded: AdminRouteHandler =
      options.mutation === true
        ? (req, res, params, url, context) => {
            this.#authorize(req);
            return handler(req, res, params, url, context);
          }
        : handler;
    this.#router.add(method, path, guarded);
    return this;
  }

  /** Starts listening; resolves with the port. */
  async listen(): Promise<number> {
    try {
      this.#port = await listen(this.#server, this.#options.port, this.#options.host);
    } catch (error) {
      throw new KaryonError('ERR_LISTEN', `admin server could not listen on port ${this.#options.port}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return this.#port;
  }

  /** Stops listening, lets requests in flight finish briefly, then closes every connection. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#tracker.drain(this.#options.closeTimeoutMs).then(() => undefined);
    return this.#closing;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://admin.invalid');
      const match = this.#router.match(req.method ?? 'GET', url.pathname);
      if (match.kind === 'not-found') throw new HttpError(404, `no admin endpoint at ${url.pathname}`);
      if (match.kind === 'method-not-allowed') {
        throw new HttpError(405, `${req.method ?? ''} is not allowed on ${url.pathname}`, { allow: match.allowed.join(', ') });
      }
      const context: AdminRequestContext = {
        view: this.#view,
        readJson: () => readJson(req, this.#options.maxBodyBytes),
      };
      await match.handler(req, res, match.params, url, context);
    } catch (error) {
      if (!(error instanceof HttpError)) {
        this.#logger.error('admin request failed', { method: req.method, url: req.url, error: (error as Error).message });
      }
      sendError(res, error);
    }
  }

  #authorize(req: IncomingMessage): void {
    if (this.#tokenDigest === undefined) {
      if (isLoopbackAddress(req.socket.remoteAddress)) return;
      throw new HttpError(403, 'mutations are accepted from loopback only when no admin token is configured');
    }
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (match?.[1] === undefined) {
      throw new HttpError(401, 'missing bearer token', { 'www-authenticate': 'Bearer realm="karyon-admin"' });
    }
    if (!timingSafeEqual(digest(match[1].trim()), this.#tokenDigest)) {
      throw new HttpError(401, 'wrong bearer token', { 'www-authenticate': 'Bearer realm="karyon-admin", error="invalid_token"' });
    }
  }

  #addCoreRoutes(): void {
    this.route('GET', '/healthcheck', async (_req, res, _params, _url, { view }) => {
      const health = await view.health();
      const status = view.status();
      sendJson(res, status.status === 'UP' ? 200 : 503, { status: status.status, ...health });
    });
    this.route('GET', '/livez', async (_req, res, _params, _url, { view }) => {
      const health = await view.health();
      const status = view.status().status;
      const live = health.live && status !== 'FAILED' && status !== 'STOPPED';
      sendJson(res, live ? 200 : 503, { live, status });
    });
    this.route('GET', '/readyz', (_req, res, _params, _url, { view }) => {
      const status = view.status().status;
      sendJson(res, status === 'UP' ? 200 : 503, { ready: status === 'UP', status });
    });
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
        try {
          await context.view.setOperatorStatus(status);
        } catch (error) {
          if (isKaryonError(error, 'ERR_INVALID_STATE')) throw new HttpError(409, error.message);
          throw error;
        }
        this.#logger.info('operator changed status', { status });
        sendJson(res, 200, context.view.status());
      },
      { mutation: true },
    );
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
