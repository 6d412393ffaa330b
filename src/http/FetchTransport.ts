import type { Readable } from 'node:stream';
import type { ResponseBody, Transport, TransportRequest, TransportResponse } from './Transport.js';

/**
 * The request a {@link FetchFunction} receives: a subset of `RequestInit` that both the global `fetch` and
 * node-fetch accept. A streamed body is passed as is, with `duplex: 'half'` for the global `fetch`.
 */
export interface FetchInit {
  /** The HTTP method. */
  readonly method: string;
  /** Request headers, multiple values joined with a comma. */
  readonly headers: Record<string, string>;
  /** The body, if any. */
  readonly body?: string | Buffer;
  /** Aborts the request (the client's timeouts and the caller's signal). */
  readonly signal: AbortSignal;
  /** Redirects are the caller's business, as with undici's `request`. */
  readonly redirect: 'manual';
  /** Set for streamed bodies, as the global `fetch` requires. */
  readonly duplex?: 'half';
}

/** What the client reads of fetch `Headers`. */
export interface FetchHeadersLike {
  /** Calls `callback` with each header (lower-case name). */
  forEach(callback: (value: string, name: string) => void): void;
}

/** What the client reads of a fetch `Response`: the global one and node-fetch's both fit. */
export interface FetchResponseLike {
  /** The HTTP status. */
  readonly status: number;
  /** The headers; only `forEach` is used. */
  readonly headers: FetchHeadersLike;
  /** The body stream (a web `ReadableStream` or a Node `Readable`), or null. */
  readonly body: unknown;
  /** Reads the body as text. */
  text(): Promise<string>;
  /** Reads the body as JSON. */
  json(): Promise<unknown>;
  /** Reads the body as bytes. */
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** Any fetch-compatible function: the global `fetch`, node-fetch, undici's `fetch`, a test double. */
export type FetchFunction = (url: string, init: FetchInit) => Promise<FetchResponseLike>;

/** A response body read through a fetch `Response`. */
export class FetchResponseBody implements ResponseBody {
  /** The response as the fetch function returned it. */
  readonly response: FetchResponseLike;

  /** @param response - the fetch response */
  constructor(response: FetchResponseLike) {
    this.response = response;
  }

  text(): Promise<string> {
    return this.response.text();
  }

  json(): Promise<unknown> {
    return this.response.json();
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    return this.response.arrayBuffer();
  }

  async dump(): Promise<void> {
    const body = this.response.body as { cancel?: () => Promise<void>; destroy?: () => void; locked?: boolean } | null;
    try {
      if (body === null || body === undefined) return;
      if (typeof body.cancel === 'function' && body.locked !== true) await body.cancel();
      else if (typeof body.destroy === 'function') body.destroy();
      else await this.response.arrayBuffer();
    } catch {
      // A body that fails while being discarded is discarded all the same.
    }
  }

  /** Iterates the body's chunks. */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    const body = this.response.body as AsyncIterable<Uint8Array> | null | undefined;
    if (body !== null && body !== undefined && typeof body[Symbol.asyncIterator] === 'function') return body[Symbol.asyncIterator]();
    return (async function* empty(): AsyncGenerator<Uint8Array> {})();
  }
}

/**
 * A transport over any fetch-compatible function. Slower than undici's pools (a fetch `Response` costs more
 * than undici's `request`), but lets a service use an HTTP stack it already has.
 */
export class FetchTransport implements Transport {
  readonly #fetch: FetchFunction;

  /** @param fetch - the fetch function */
  constructor(fetch: FetchFunction) {
    this.#fetch = fetch;
  }

  async send(request: TransportRequest): Promise<TransportResponse> {
    const response = await this.#fetch(request.origin + request.path, fetchInit(request, request.signal.toAbortSignal()));
    const headers: Record<string, string | string[]> = {};
    response.headers.forEach((value, name) => {
      const previous = headers[name];
      if (name === 'set-cookie') headers[name] = previous === undefined ? [value] : [...(previous as string[]), value];
      else headers[name] = value;
    });
    return { statusCode: response.status, headers, body: new FetchResponseBody(response) };
  }

  release(): void {
    // Connections belong to the fetch function's own agent.
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function fetchInit(request: TransportRequest, signal: AbortSignal): FetchInit {
  // The client always passes a signal: its per-try timeout and the caller's cancellation ride on it.
  const headers: Record<string, string> = {};
  if (request.headers !== undefined) {
    for (const [name, value] of Object.entries(request.headers)) {
      headers[name] = typeof value === 'string' ? value : value.join(', ');
    }
  }
  const body = request.body;
  if (body === undefined) return { method: request.method, headers, signal, redirect: 'manual' };
  if (typeof body === 'string') return { method: request.method, headers, body, signal, redirect: 'manual' };
  if (body instanceof Uint8Array) {
    const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    return { method: request.method, headers, body: bytes, signal, redirect: 'manual' };
  }
  // A stream: node-fetch takes a Readable, the global fetch an async iterable with duplex 'half'.
  return { method: request.method, headers, body: body satisfies Readable as unknown as Buffer, signal, redirect: 'manual', duplex: 'half' };
}
