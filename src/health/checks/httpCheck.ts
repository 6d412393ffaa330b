import { request } from 'undici';
import { invalidOption } from '../../internal/validate.js';
import type { HealthCheckFunction, HealthResult } from '../types.js';
import { OutputBuffer, resolveMaxOutputBytes } from './output.js';

/** Options of {@link httpCheck}. */
export interface HttpCheckOptions {
  /** The URL to call, `http://` or `https://`. */
  readonly url: string;
  /**
   * The HTTP method.
   * @default 'GET'
   */
  readonly method?: string;
  /** Request headers. */
  readonly headers?: Readonly<Record<string, string>>;
  /** A request body, for methods that take one. */
  readonly body?: string;
  /**
   * Most bytes of the response body kept and shown in the check's details.
   * @default 4096
   */
  readonly maxOutputBytes?: number;
}

/**
 * A Consul-style HTTP check: calls a URL and maps the status as Consul does: 2xx is UP (passing), 429 (Too Many
 * Requests) is WARN (warning), anything else, or no answer, is DOWN (critical). The start of the body is kept
 * in the result's details. Each call uses a fresh connection (as Consul's checks do), so a pooled connection
 * the app closed long ago never fails a check.
 * @throws KaryonError ERR_INVALID_OPTION for a URL that is not http(s) or a bad option.
 *
 * @example
 * ```ts
 * service.addHealthCheck('app', httpCheck({ url: 'http://127.0.0.1:8000/health' }), { intervalMs: 5_000 });
 * ```
 */
export function httpCheck(options: HttpCheckOptions): HealthCheckFunction {
  if (typeof options !== 'object' || options === null) invalidOption('httpCheck', 'an options object', options);
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    return invalidOption('http', 'an http:// or https:// URL', options.url);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') invalidOption('http', 'an http:// or https:// URL', options.url);
  const method = options.method ?? 'GET';
  if (typeof method !== 'string' || !/^[A-Za-z]+$/.test(method)) invalidOption('method', 'an HTTP method', method);
  const headers: Record<string, string> = { 'user-agent': 'karyon-health-check', accept: 'text/plain, text/*, */*', ...options.headers };
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== 'string') invalidOption(`headers.${name}`, 'a string', value);
  }
  const maxOutputBytes = resolveMaxOutputBytes('maxOutputBytes', options.maxOutputBytes);
  const href = url.href;
  const body = options.body;
  return async (signal): Promise<HealthResult> => {
    const response = await request(href, {
      method: method.toUpperCase(),
      headers,
      ...(body === undefined ? {} : { body }),
      signal,
      reset: true,
    });
    const output = new OutputBuffer(maxOutputBytes);
    try {
      for await (const chunk of response.body) {
        output.add(chunk as Buffer);
        if (output.full) break;
      }
    } finally {
      // Leaving the loop early (a long body) must still free the socket.
      response.body.destroy();
    }
    const code = response.statusCode;
    const status = code >= 200 && code < 300 ? 'UP' : code === 429 ? 'WARN' : 'DOWN';
    return { status, details: { statusCode: code, output: output.text() } };
  };
}
