import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Hop-by-hop headers (RFC 9110 7.6.1), which belong to one connection and are never forwarded, plus `host`,
 * which names the server the request was sent to.
 */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

/** An error that becomes an HTTP response with its status and reason. */
export class HttpError extends Error {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  constructor(status: number, message: string, headers: Readonly<Record<string, string>> = {}) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.headers = headers;
  }
}

/**
 * The request's target as a URL against `base`. Node's parser accepts targets WHATWG URL parsing refuses
 * (`//a:b/`, `//[`, `//x:-1/`: a scheme-relative authority with a bad port or host), so this throws a 400
 * naming the target rather than letting a TypeError become a 500.
 * @throws HttpError 400 when the target does not parse.
 */
export function requestUrl(req: IncomingMessage, base: string): URL {
  try {
    return new URL(req.url ?? '/', base);
  } catch {
    throw new HttpError(400, `malformed request target ${JSON.stringify(req.url)}`);
  }
}

/** Reads a request body, failing with 413 beyond `limitBytes` (without buffering the excess). */
export function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) {
    req.resume();
    return Promise.reject(new HttpError(413, `request body of ${declared} bytes exceeds the limit of ${limitBytes}`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limitBytes) {
        failed = true;
        reject(new HttpError(413, `request body exceeds the limit of ${limitBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on('error', (error) => {
      if (!failed) reject(new HttpError(400, `request body could not be read: ${error.message}`));
      failed = true;
    });
  });
}

/** Reads and parses a JSON body; 400 with the parser's reason when it is not JSON. */
export async function readJson(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  const body = await readBody(req, limitBytes);
  const text = body.toString('utf8');
  if (text.trim() === '') throw new HttpError(400, 'request body is empty; expected JSON');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new HttpError(400, `request body is not valid JSON: ${(error as Error).message}`);
  }
}

/** Writes a JSON response. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** Writes a plain-text response. */
export function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Path parameters matched by a route pattern (`/apps/:app/:id`). */
export type RouteParams = Readonly<Record<string, string>>;

/** A route's handler. */
export type RouteHandler<C> = (req: IncomingMessage, res: ServerResponse, params: RouteParams, url: URL, context: C) => unknown;

interface Route<C> {
  readonly method: string;
  readonly segments: readonly string[];
  readonly handler: RouteHandler<C>;
}

/** The outcome of {@link Router.match}. */
export type RouteMatch<C> =
  | { readonly kind: 'found'; readonly handler: RouteHandler<C>; readonly params: RouteParams }
  | { readonly kind: 'method-not-allowed'; readonly allowed: readonly string[] }
  | { readonly kind: 'not-found' };

/** A small method + path router: `:name` segments capture one decoded path segment. */
export class Router<C = void> {
  readonly #routes: Route<C>[] = [];

  add(method: string, pattern: string, handler: RouteHandler<C>): this {
    this.#routes.push({ method, segments: split(pattern), handler });
    return this;
  }

  match(method: string, pathname: string): RouteMatch<C> {
    const parts = split(pathname);
    // Routes of the request's method first, so a request that matches (nearly all) decodes no other route's
    // parameters; the methods allowed on the path are looked for only when none matches.
    for (const route of this.#routes) {
      if (route.method !== method && !(method === 'HEAD' && route.method === 'GET')) continue;
      const params = matchSegments(route.segments, parts);
      if (params !== undefined) return { kind: 'found', handler: route.handler, params };
    }
    const allowed: string[] = [];
    for (const route of this.#routes) {
      if (matchSegments(route.segments, parts) !== undefined) allowed.push(route.method);
    }
    return allowed.length > 0 ? { kind: 'method-not-allowed', allowed } : { kind: 'not-found' };
  }
}

function split(path: string): string[] {
  return path.split('/').filter((segment) => segment !== '');
}

function matchSegments(pattern: readonly string[], parts: readonly string[]): Record<string, string> | undefined {
  if (pattern.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const expected = pattern[i] as string;
    const actual = parts[i] as string;
    if (expected.startsWith(':')) {
      try {
        params[expected.slice(1)] = decodeURIComponent(actual);
      } catch {
        return undefined;
      }
    } else if (expected !== actual) {
      return undefined;
    }
  }
  return params;
}

/** Answers a thrown error: its own status for an HttpError, 500 otherwise; never throws. */
export function sendError(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (error instanceof HttpError) {
    sendJson(res, error.status, { error: error.message }, { ...error.headers });
  } else {
    sendJson(res, 500, { error: 'internal error' });
  }
}
