import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { KaryonError, isKaryonError } from '../common/KaryonError.js';
import type { ErrorCode } from '../common/KaryonError.js';
import type { Logger } from '../common/Logger.js';
import type { ServiceClient } from '../http/ServiceClient.js';
import type { ServiceClientOptions } from '../http/ServiceClientOptions.js';
import type { RequestBody } from '../http/Transport.js';
import { HOP_BY_HOP_HEADERS, HttpError, readBody } from '../internal/http.js';
import { errorMessage } from '../internal/async.js';

/** Makes the client of a VIP: `service.client(vip, options)`. */
export type ClientFactory = (vip: string, options: ServiceClientOptions) => ServiceClient;

/** Options of an {@link EgressProxy}. */
export interface EgressProxyOptions {
  /** Makes a client per VIP (the service's, so calls are balanced, broken, retried and measured). */
  readonly clientOf: ClientFactory;
  /** Options of every client. */
  readonly common: ServiceClientOptions;
  /** Options per VIP, over the common ones. */
  readonly vips: Readonly<Record<string, ServiceClientOptions>>;
  /** Largest request body read whole (so it can be retried). */
  readonly maxBufferedBodyBytes: number;
  /** Most distinct VIPs. */
  readonly maxVips: number;
  /** Where failures are logged. */
  readonly logger: Logger;
  /**
   * Whether the registry knows an instance of `vip` (any status). A client, which holds one of the `maxVips`
   * slots for good, is made only for a VIP it knows or one configured in `vips`: made-up names get a 503
   * and take no slot.
   * @default every VIP is taken as known
   */
  readonly knows?: (vip: string) => boolean;
}

/** How an error body is written: Prana's XML (`/proxy`) or JSON. */
export type ProxyErrorStyle = 'prana' | 'json';

const VIP = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The HTTP status a proxied call's failure is answered with. */
const statusOfCode: Partial<Record<ErrorCode, number>> = {
  ERR_NO_INSTANCES: 503,
  ERR_BREAKER_OPEN: 503,
  ERR_BULKHEAD_FULL: 503,
  ERR_INVALID_STATE: 503,
  ERR_REQUEST_TIMEOUT: 504,
  ERR_DEADLINE_EXCEEDED: 504,
  ERR_COMMAND_TIMEOUT: 504,
  ERR_RETRY_BUDGET_EXHAUSTED: 502,
  ERR_UPSTREAM: 502,
  ERR_INVALID_OPTION: 400,
};

/**
 * The egress proxy: `/{vip}/{path}` and Prana's `/proxy?vip=&path=` forwarded through `service.client(vip)`,
 * so every call is balanced over the VIP's UP instances, ejects outliers, retries within the budget, runs
 * through the VIP's breaker and shows in the client metrics and `GET /instances`. Request bodies of known,
 * small size are read whole so a failed try can go to another instance; responses are streamed.
 */
export class EgressProxy {
  readonly #options: EgressProxyOptions;
  readonly #clients = new Map<string, ServiceClient>();

  constructor(options: EgressProxyOptions) {
    this.#options = options;
  }

  /** The clients made so far, by VIP. */
  get clients(): ReadonlyMap<string, ServiceClient> {
    return this.#clients;
  }

  /**
   * Forwards one request to `vip` at `path` (path and query, starting with `/`). Never throws: failures
   * are answered (502, 503, 504) in the given style.
   */
  async forward(req: IncomingMessage, res: ServerResponse, vip: string, path: string, style: ProxyErrorStyle): Promise<void> {
    try {
      if (!VIP.test(vip)) throw new HttpError(400, `'${vip}' is not a VIP address (letters, digits, '.', '_', '-')`);
      const client = this.#client(vip);
      const body = await this.#body(req);
      const response = await client.request({
        method: req.method ?? 'GET',
        path: path.startsWith('/') ? path : `/${path}`,
        headers: forwardedHeaders(req),
        ...(body === undefined ? {} : { body }),
      });
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(response.headers)) {
        if (value !== undefined && !HOP_BY_HOP_HEADERS.has(name)) headers[name] = value;
      }
      headers['x-karyon-instance'] = response.instanceId;
      res.writeHead(response.statusCode, headers);
      const upstream = response.body;
      if (upstream instanceof Readable) {
        // pipe() rather than stream.pipeline(): pipeline makes and aborts an AbortController per call, which
        // cost a twentieth of the proxy's CPU. The two handlers are what pipeline would add: an upstream
        // failure cuts the response, a caller gone frees the upstream connection.
        upstream.once('error', () => res.destroy());
        res.once('close', () => {
          if (!upstream.readableEnded) upstream.destroy();
        });
        upstream.pipe(res);
      } else {
        for await (const chunk of upstream) res.write(chunk);
        res.end();
      }
    } catch (error) {
      if (res.headersSent) {
        // The response was under way: all that is left is to cut it, so the caller sees it was incomplete.
        res.destroy();
        return;
      }
      const status = error instanceof HttpError ? error.status : isKaryonError(error) ? (statusOfCode[error.code] ?? 502) : 502;
      const code = isKaryonError(error) ? error.code : undefined;
      if (!(error instanceof HttpError)) this.#options.logger.debug(`proxy to '${vip}' failed: ${errorMessage(error)}`, { vip, code });
      sendProxyError(res, status, errorMessage(error), code, style);
    }
  }

  #client(vip: string): ServiceClient {
    let client = this.#clients.get(vip);
    if (client !== undefined) return client;
    const { knows, vips } = this.#options;
    if (knows !== undefined && !Object.hasOwn(vips, vip) && !knows(vip)) {
      throw new KaryonError('ERR_NO_INSTANCES', `no instance of '${vip}' is available`, { service: vip });
    }
    if (this.#clients.size >= this.#options.maxVips) {
      throw new HttpError(503, `the proxy already serves ${this.#options.maxVips} VIPs (proxy.maxVips)`);
    }
    client = this.#options.clientOf(vip, { ...this.#options.common, ...this.#options.vips[vip] });
    this.#clients.set(vip, client);
    return client;
  }

  /** The body to send: none, the whole body when small and of known length (retryable), else the stream. */
  async #body(req: IncomingMessage): Promise<RequestBody | undefined> {
    const length = req.headers['content-length'];
    if (length === undefined) return req.headers['transfer-encoding'] === undefined ? undefined : req;
    const size = Number(length);
    if (size === 0) return undefined;
    if (size <= this.#options.maxBufferedBodyBytes) return readBody(req, this.#options.maxBufferedBodyBytes);
    return req;
  }
}

/**
 * The request's headers less the hop-by-hop ones and `expect` (this server has already answered
 * `100-continue` and reads the body itself; the client refuses to send it on), with `x-forwarded-for` and
 * `x-forwarded-host` added.
 */
function forwardedHeaders(req: IncomingMessage): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  const connectionTokens = req.headers.connection?.toLowerCase().split(',').map((token) => token.trim());
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || HOP_BY_HOP_HEADERS.has(name) || name === 'expect' || connectionTokens?.includes(name) === true) continue;
    headers[name] = value;
  }
  const remote = req.socket.remoteAddress;
  if (remote !== undefined) {
    const before = req.headers['x-forwarded-for'];
    headers['x-forwarded-for'] = before === undefined ? remote : `${String(before)}, ${remote}`;
  }
  if (req.headers.host !== undefined && req.headers['x-forwarded-host'] === undefined) headers['x-forwarded-host'] = req.headers.host;
  return headers;
}

/** Answers a proxy failure: Prana's `<status><status_code>..` XML, or `{"error","code"}` JSON. */
export function sendProxyError(res: ServerResponse, status: number, message: string, code: string | undefined, style: ProxyErrorStyle): void {
  if (style === 'prana') {
    const text = `<status><status_code>${status}</status_code><message>${escapeXml(message)}</message></status>`;
    res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(text) });
    res.end(text);
    return;
  }
  const text = JSON.stringify(code === undefined ? { error: message } : { error: message, code });
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Escapes text for an XML element. */
export function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] as string);
}
