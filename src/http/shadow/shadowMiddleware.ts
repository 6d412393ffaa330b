import type { IncomingMessage, ServerResponse } from 'node:http';
import { invalidOption } from '../../internal/validate.js';
import type { RequestListener } from '../../inbound/outOfServiceGuard.js';
import type { ShadowTraffic } from './ShadowTraffic.js';

function checked(shadow: ShadowTraffic): ShadowTraffic {
  if (typeof shadow !== 'object' || shadow === null || typeof shadow.observe !== 'function') {
    invalidOption('shadow', 'a ShadowTraffic made by createShadowTraffic()', shadow);
  }
  return shadow;
}

/**
 * Wraps a `node:http` handler so that a sampled share of its requests is copied to the shadow VIPs once each
 * response has finished. The handler sees the request, and the client the response, exactly as without it.
 *
 * @throws KaryonError `ERR_INVALID_OPTION` when `shadow` is not a ShadowTraffic
 * @example
 * ```ts
 * const shadow = createShadowTraffic({ registry, vip: 'greeter-next' });
 * const server = createServer(shadowMiddleware(shadow)((req, res) => res.end('hello')));
 * ```
 */
export function shadowMiddleware(shadow: ShadowTraffic): (handler: RequestListener) => RequestListener {
  const traffic = checked(shadow);
  return (handler) => {
    if (typeof handler !== 'function') invalidOption('handler', 'a request listener function', handler);
    return (req, res) => {
      traffic.observe(req, res);
      handler(req, res);
    };
  };
}

/**
 * Shadow traffic as Express middleware: `app.use(expressShadowMiddleware(shadow))` before the routes and
 * before any body parser (a body already read cannot be copied). Does not import Express.
 *
 * @throws KaryonError `ERR_INVALID_OPTION` when `shadow` is not a ShadowTraffic
 */
export function expressShadowMiddleware(shadow: ShadowTraffic): (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void {
  const traffic = checked(shadow);
  return (req, res, next) => {
    traffic.observe(req, res);
    next();
  };
}

/** The part of a Fastify request the hook uses. */
export interface ShadowFastifyRequest {
  /** The `node:http` request. */
  readonly raw: IncomingMessage;
}

/** The part of a Fastify reply the hook uses. */
export interface ShadowFastifyReply {
  /** The `node:http` response. */
  readonly raw: ServerResponse;
}

/**
 * Shadow traffic as a Fastify `onRequest` hook (it runs before the body is parsed):
 * `app.addHook('onRequest', fastifyShadowHook(shadow))`. Does not import Fastify.
 *
 * @throws KaryonError `ERR_INVALID_OPTION` when `shadow` is not a ShadowTraffic
 */
export function fastifyShadowHook(shadow: ShadowTraffic): (request: ShadowFastifyRequest, reply: ShadowFastifyReply, done: (error?: Error) => void) => void {
  const traffic = checked(shadow);
  return (request, reply, done) => {
    traffic.observe(request.raw, reply.raw);
    done();
  };
}
