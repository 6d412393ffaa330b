import type { IncomingHttpHeaders } from 'node:http';

/**
 * The request header that marks every shadow copy (value `1`). A shadow reads it to suppress side effects
 * (emails, payments, writes to shared stores); shadow traffic never copies a request that carries it, so a
 * copy is never copied again.
 */
export const SHADOW_HEADER = 'x-karyon-shadow';

/** A request that carries headers: a `node:http`, Express or Fastify request. */
export interface HeadersHolder {
  /** The request headers. */
  readonly headers: IncomingHttpHeaders | Readonly<Record<string, unknown>>;
}

/** Anything that carries request headers: a request, or the headers themselves. */
export type HeadersSource = HeadersHolder | Readonly<Record<string, unknown>>;

/**
 * True when the request is a shadow copy (it carries {@link SHADOW_HEADER}): the shadow side calls it before
 * anything with side effects. Takes a `node:http` request, an Express or Fastify request, or a headers
 * object (names in any case).
 *
 * @example
 * ```ts
 * app.post('/orders', async (req, res) => {
 *   const order = await priceOrder(req.body);
 *   if (!isShadowRequest(req)) await payments.charge(order); // the shadow computes, but never charges
 *   res.json(order);
 * });
 * ```
 */
export function isShadowRequest(source: HeadersSource): boolean {
  const holder = source as { headers?: unknown };
  const headers = (typeof holder.headers === 'object' && holder.headers !== null ? holder.headers : source) as Readonly<Record<string, unknown>>;
  if (headers[SHADOW_HEADER] !== undefined) return true;
  // Headers built by hand (a fetch init, a test) may use any case; node:http lower-cases them.
  for (const name in headers) {
    if (name.length === SHADOW_HEADER.length && name.toLowerCase() === SHADOW_HEADER && headers[name] !== undefined) return true;
  }
  return false;
}
