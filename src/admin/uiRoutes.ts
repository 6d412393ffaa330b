import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { KaryonError } from '../common/KaryonError.js';
import { HttpError } from '../internal/http.js';

const gzip = promisify(gzipCallback);

/** Anything that takes routes as the admin server does (`AdminServer` fits it as it is). */
export interface AdminUiRouteTarget {
  /** Adds a route; `access: 'public'` keeps it open when reads need a token. */
  route(
    method: string,
    path: string,
    handler: (req: IncomingMessage, res: ServerResponse, params: Readonly<Record<string, string>>) => unknown,
    options?: { readonly access?: 'public' },
  ): unknown;
}

/** Options of {@link adminUiRoutes}. */
export interface AdminUiOptions {
  /**
   * The folder holding the UI's files (`index.html` and the modules, styles and icons beside it).
   * @default the `ui/` folder next to this module (`dist/admin/ui/` in the package)
   */
  readonly directory?: string | URL;
}

/** {@link AdminUiOptions} checked, with defaults filled. */
export interface ResolvedAdminUiOptions {
  /** The folder holding the UI's files, as a path. */
  readonly directory: string;
}

/**
 * Checks the options of the web UI and fills their defaults.
 * @throws KaryonError ERR_INVALID_OPTION when `directory` is neither a path nor a `file:` URL.
 */
export function resolveAdminUiOptions(options: AdminUiOptions = {}): ResolvedAdminUiOptions {
  const directory = options.directory ?? new URL('./ui/', import.meta.url);
  if (directory instanceof URL) {
    if (directory.protocol !== 'file:') {
      throw new KaryonError('ERR_INVALID_OPTION', `option 'adminUi.directory' must be a path or a file: URL (got ${directory.href})`);
    }
    return Object.freeze({ directory: fileURLToPath(directory) });
  }
  if (typeof directory !== 'string' || directory === '') {
    throw new KaryonError('ERR_INVALID_OPTION', `option 'adminUi.directory' must be a non-empty path (got ${JSON.stringify(directory)})`);
  }
  return Object.freeze({ directory });
}

/**
 * The Content-Security-Policy of every web UI response: scripts, styles and requests from the admin origin
 * only, no inline code, no plugins, no framing, and Trusted Types with no policy, so no string can ever reach an
 * HTML sink (the UI builds every element with DOM calls).
 */
export const adminUiContentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join('; ');

const securityHeaders: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy': adminUiContentSecurityPolicy,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
});

const contentTypes: Readonly<Record<string, string>> = Object.freeze({
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
});

/** Types worth compressing; images and fonts are compressed already. */
const compressible = new Set(['.html', '.js', '.css', '.svg', '.json']);

/** Assets are immutable under a versioned path; the page itself is revalidated on every load. */
const IMMUTABLE = 'private, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';

interface Asset {
  readonly body: Buffer;
  readonly gzipped: Buffer | undefined;
  readonly type: string;
  readonly etag: string;
}

interface Bundle {
  /** A digest of every file: the path segment that makes asset URLs change when any file does. */
  readonly version: string;
  readonly index: Asset;
  readonly files: ReadonlyMap<string, Asset>;
}

/**
 * Serves the admin web UI from the admin server:
 * - `GET /`: the single page (revalidated on each load with its ETag);
 * - `GET /ui/{version}/{file}`: its modules, styles and icons, cached as immutable (the page names them under a
 *   digest of all files, so an upgraded service is never mixed with a cached old file);
 * - `GET /ui/{file}`: the same files, revalidated on each load.
 *
 * Files are read on the first request and kept in memory (gzip-compressed too, sent to clients that accept
 * it). Every response carries a strict Content-Security-Policy ({@link adminUiContentSecurityPolicy}) and
 * `nosniff`; only files of known types that are in the folder are served.
 *
 * These routes are public (open even when reads need a token: they hold no data). The page reads the admin API
 * with `fetch()` (relative URLs, so it also works behind a path prefix), sending the operator's token as a
 * bearer token on every request; it needs no route of its own beyond these.
 *
 * @throws KaryonError ERR_INVALID_OPTION for a bad option.
 * @example
 * ```ts
 * adminUiRoutes(service.admin); // then open the admin URL in a browser
 * ```
 */
export function adminUiRoutes(target: AdminUiRouteTarget, options: AdminUiOptions = {}): void {
  const { directory } = resolveAdminUiOptions(options);
  let loading: Promise<Bundle> | undefined;
  const bundle = async (): Promise<Bundle> => {
    loading ??= loadBundle(directory);
    try {
      return await loading;
    } catch (error) {
      // Not cached: a folder put in place later (a redeploy, a build finishing) is picked up.
      loading = undefined;
      throw error;
    }
  };

  // The page and its files hold no data: a browser must be able to load them before it has a token to send
  // (a navigation cannot carry one), so they stay open when reads are protected. Every read the page then
  // makes carries the operator's token.
  const open = { access: 'public' } as const;
  target.route(
    'GET',
    '/',
    async (req, res) => {
      send(req, res, (await bundle()).index, REVALIDATE);
    },
    open,
  );
  target.route(
    'GET',
    '/ui/:file',
    async (req, res, params) => {
      send(req, res, fileOf(await bundle(), params.file), REVALIDATE);
    },
    open,
  );
  target.route(
    'GET',
    '/ui/:version/:file',
    async (req, res, params) => {
      const current = await bundle();
      // A page loaded before an upgrade may ask for an older version: it gets today's file, not cached for long.
      send(req, res, fileOf(current, params.file), params.version === current.version ? IMMUTABLE : REVALIDATE);
    },
    open,
  );
}

function fileOf(bundle: Bundle, name: string | undefined): Asset {
  const asset = name === undefined ? undefined : bundle.files.get(name);
  if (asset === undefined) throw new HttpError(404, `no web UI file named ${JSON.stringify(name ?? '')}`);
  return asset;
}

async function loadBundle(directory: string): Promise<Bundle> {
  let names: string[];
  try {
    const entries = await readdir(directory, { withFileTypes: true });
    names = entries
      .filter((entry) => entry.isFile() && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(entry.name) && extname(entry.name) in contentTypes)
      .map((entry) => entry.name)
      .sort();
  } catch (error) {
    throw new HttpError(500, `the admin web UI's files cannot be read from ${directory}: ${(error as Error).message}`);
  }
  if (!names.includes('index.html')) throw new HttpError(500, `the admin web UI's index.html is missing from ${directory}`);
  const contents = new Map<string, Buffer>();
  for (const name of names) contents.set(name, await readFile(join(directory, name)));
  const digest = createHash('sha256');
  for (const [name, body] of contents) digest.update(name).update('\0').update(body).update('\0');
  const version = digest.digest('hex').slice(0, 16);

  const files = new Map<string, Asset>();
  for (const [name, body] of contents) if (name !== 'index.html') files.set(name, await asset(name, body));
  // The page names its assets `ui/<file>`; under the version they can be cached for good.
  const page = (contents.get('index.html') as Buffer).toString('utf8').replaceAll(/(["'])ui\/(?=[A-Za-z0-9])/g, `$1ui/${version}/`);
  return { version, index: await asset('index.html', Buffer.from(page, 'utf8')), files };
}

async function asset(name: string, body: Buffer): Promise<Asset> {
  const extension = extname(name);
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  const worthIt = compressible.has(extension) && body.length > 512;
  return { body, gzipped: worthIt ? await gzip(body, { level: 9 }) : undefined, type: contentTypes[extension] as string, etag };
}

function send(req: IncomingMessage, res: ServerResponse, asset: Asset, cacheControl: string): void {
  const headers: Record<string, string | number> = {
    ...securityHeaders,
    'content-type': asset.type,
    'cache-control': cacheControl,
    etag: asset.etag,
  };
  if (asset.gzipped !== undefined) headers.vary = 'accept-encoding';
  if (matches(req.headers['if-none-match'], asset.etag)) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  const body = asset.gzipped !== undefined && acceptsGzip(req.headers['accept-encoding']) ? asset.gzipped : asset.body;
  if (body !== asset.body) headers['content-encoding'] = 'gzip';
  headers['content-length'] = body.length;
  res.writeHead(200, headers);
  res.end(body);
}

/** If-None-Match holds the ETag (weak comparison, as RFC 9110 asks for GET). */
function matches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

/** Accept-Encoding lists gzip without `q=0`. */
function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding?.trim() !== 'gzip') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}
