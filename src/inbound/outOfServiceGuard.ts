import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { invalidOption } from '../internal/validate.js';

/**
 * The response header that marks a 503 as "this instance is out of service": the request was not processed,
 * so a client may send it to another instance whatever its method, and should stop sending here.
 */
export const OUT_OF_SERVICE_HEADER = 'x-karyon-status';

/**
 * The request header a karyon-ts client sends with every request it can retry: it says the caller sends a 503
 * carrying {@link OUT_OF_SERVICE_HEADER} to another instance at once. The guards refuse only such requests by
 * default, so callers that do not retry elsewhere (a Java client, curl) are served as before while the
 * registry catches up.
 */
export const RETRIES_ELSEWHERE_HEADER = 'x-karyon-retries-elsewhere';

/** Returns the instance's current status (e.g. `() => service.status`). */
export type StatusSource = () => string;

/** Options of the out-of-service guards. */
export interface OutOfServiceGuardOptions {
  /**
   * Statuses in which new requests are refused.
   * @default ['OUT_OF_SERVICE', 'SHUTTING_DOWN']
   */
  readonly statuses?: readonly string[];
  /**
   * `Retry-After` sent with the 503, in seconds.
   * @default 1
   */
  readonly retryAfterSeconds?: number;
  /**
   * Which requests are refused while the instance is out of service: `'retrying'` only those of callers that
   * send {@link RETRIES_ELSEWHERE_HEADER} (karyon-ts clients, which retry the 503 on another instance at
   * once); `'all'` every request, for fleets whose every caller retries a 503 elsewhere. Any other caller
   * (a Java service, a browser, curl) would count the 503 as a failed call, and keeps calling until its own
   * registry cache drops the instance, so by default it is served while the instance is up.
   * @default 'retrying'
   */
  readonly callers?: 'retrying' | 'all';
}

interface Guard {
  readonly refuses: (status: string, headers: IncomingHttpHeaders | undefined) => boolean;
  readonly retryAfter: string;
}

/** True when the request comes from a caller that sends a refused request to another instance at once. */
export function retriesElsewhere(headers: IncomingHttpHeaders | undefined): boolean {
  return headers?.[RETRIES_ELSEWHERE_HEADER] !== undefined;
}

/** Validates the options (their names in errors start with `prefix`) and builds the guard's decision. */
function guardOf(getStatus: StatusSource, options: OutOfServiceGuardOptions, prefix = ''): Guard {
  if (typeof getStatus !== 'function') invalidOption('getStatus', 'a function returning the instance status', getStatus);
  const statuses = options.statuses ?? ['OUT_OF_SERVICE', 'SHUTTING_DOWN'];
  if (!Array.isArray(statuses) || !statuses.every((status) => typeof status === 'string')) {
    invalidOption(`${prefix}statuses`, 'an array of status names', statuses);
  }
  const retryAfter = options.retryAfterSeconds ?? 1;
  if (typeof retryAfter !== 'number' || !Number.isInteger(retryAfter) || retryAfter < 0) {
    invalidOption(`${prefix}retryAfterSeconds`, 'a non-negative integer', retryAfter);
  }
  const callers = options.callers ?? 'retrying';
  if (callers !== 'retrying' && callers !== 'all') invalidOption(`${prefix}callers`, "'retrying' or 'all'", callers);
  const refused = new Set(statuses);
  return {
    refuses: (status, headers) => refused.has(status) && (callers === 'all' || retriesElsewhere(headers)),
    retryAfter: String(retryAfter),
  };
}

function refusalBody(status: string): string {
  return JSON.stringify({ error: `instance is ${status}; send the request to another instance`, status });
}

/** The headers of the refusal; a shutting-down instance also closes the connection so it drains sooner. */
function refusalHeaders(status: string, body: string, retryAfter: string): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    'retry-after': retryAfter,
    [OUT_OF_SERVICE_HEADER]: status,
  };
  if (status === 'SHUTTING_DOWN') headers.connection = 'close';
  return headers;
}

/** Options of the guard a service installs on its tracked server (the service's `outOfServiceGuard` option). */
export type ServiceGuardOptions = OutOfServiceGuardOptions;

/**
 * Installs the guard in front of every `'request'` listener of `server`, those added later included; returns
 * the function that removes it. Used by the service on the server it tracks.
 * @throws KaryonError `ERR_INVALID_OPTION` for a bad option
 * @internal
 */
export function guardServer(
  server: { emit(event: string | symbol, ...args: unknown[]): boolean },
  getStatus: StatusSource,
  options: ServiceGuardOptions = {},
): () => void {
  const guard = guardOf(getStatus, options, 'outOfServiceGuard.');
  type Emit = (this: unknown, event: string | symbol, ...args: unknown[]) => boolean;
  const emit: Emit = Reflect.get(server, 'emit');
  const guarded = function (this: unknown, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'request') {
      const [req, res] = args as [IncomingMessage, ServerResponse];
      const status = getStatus();
      if (guard.refuses(status, req.headers)) {
        const body = refusalBody(status);
        res.writeHead(503, refusalHeaders(status, body, guard.retryAfter));
        res.end(body);
        return true;
      }
    }
    return emit.call(this, event, ...args);
  };
  server.emit = guarded;
  return () => {
    if (server.emit === guarded) server.emit = emit;
  };
}

/** A `node:http` request listener. */
export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Wraps a `node:http` handler so that, while the instance is OUT_OF_SERVICE or SHUTTING_DOWN, new requests from
 * karyon-ts clients get 503 with the {@link OUT_OF_SERVICE_HEADER} header instead of reaching the handler. Those
 * clients retry elsewhere at once and stop sending here, so the delay before the registry tells them costs
 * nothing. Other callers are still served (see {@link OutOfServiceGuardOptions.callers}).
 *
 * @throws KaryonError `ERR_INVALID_OPTION` for a bad option
 * @example
 * ```ts
 * const guard = outOfServiceGuard(() => service.status);
 * const server = createServer(guard((req, res) => res.end('hello')));
 * ```
 */
export function outOfServiceGuard(getStatus: StatusSource, options: OutOfServiceGuardOptions = {}): (handler: RequestListener) => RequestListener {
  const guard = guardOf(getStatus, options);
  return (handler) => {
    if (typeof handler !== 'function') invalidOption('handler', 'a request listener function', handler);
    return (req, res) => {
      const status = getStatus();
      if (!guard.refuses(status, req.headers)) {
        handler(req, res);
        return;
      }
      const body = refusalBody(status);
      res.writeHead(503, refusalHeaders(status, body, guard.retryAfter));
      res.end(body);
    };
  };
}

/** The part of an Express response the guard uses (Express's `Response` extends `ServerResponse`). */
export type ExpressLikeResponse = ServerResponse;

/**
 * The guard as Express middleware: `app.use(expressOutOfServiceGuard(() => service.status))` before the
 * routes. Does not import Express.
 *
 * @throws KaryonError `ERR_INVALID_OPTION` for a bad option
 */
export function expressOutOfServiceGuard(
  getStatus: StatusSource,
  options: OutOfServiceGuardOptions = {},
): (req: IncomingMessage, res: ExpressLikeResponse, next: (error?: unknown) => void) => void {
  const guard = guardOf(getStatus, options);
  return (req, res, next) => {
    const status = getStatus();
    if (!guard.refuses(status, req.headers)) {
      next();
      return;
    }
    const body = refusalBody(status);
    res.writeHead(503, refusalHeaders(status, body, guard.retryAfter));
    res.end(body);
  };
}

/** The part of a Fastify reply the hook uses. */
export interface FastifyLikeReply {
  /** Sets the status code. */
  code(statusCode: number): FastifyLikeReply;
  /** Sets the response headers. */
  headers(values: Record<string, string>): FastifyLikeReply;
  /** Sends the payload. */
  send(payload?: unknown): FastifyLikeReply;
}

/**
 * The guard as a Fastify `onRequest` hook: `app.addHook('onRequest', fastifyOutOfServiceHook(() => service.status))`.
 * Does not import Fastify.
 *
 * @throws KaryonError `ERR_INVALID_OPTION` for a bad option
 */
export function fastifyOutOfServiceHook(
  getStatus: StatusSource,
  options: OutOfServiceGuardOptions = {},
): (request: unknown, reply: FastifyLikeReply, done: (error?: Error) => void) => void {
  const guard = guardOf(getStatus, options);
  return (request, reply, done) => {
    const status = getStatus();
    if (!guard.refuses(status, (request as { headers?: IncomingHttpHeaders } | undefined)?.headers)) {
      done();
      return;
    }
    const body = refusalBody(status);
    const { ['content-length']: _length, ...headers } = refusalHeaders(status, body, guard.retryAfter);
    // Fastify computes the length itself; replying without calling done() ends the request here.
    reply.code(503).headers(headers).send(body);
  };
}
