import { Readable } from 'node:stream';
import { invalidOption } from '../internal/validate.js';
import { FetchResponseBody } from './FetchTransport.js';
import type { ServiceRequest } from './ServiceRequest.js';
import type { RequestBody } from './Transport.js';
import type { ServiceResponse } from './TryOutcome.js';

/** The `init` of `ServiceClient.fetch`: the usual `RequestInit` fields, plus `idempotent`. */
export interface ServiceFetchInit {
  /**
   * The HTTP method.
   * @default 'GET'
   */
  readonly method?: string;
  /** Request headers, in any form `new Headers()` takes. */
  readonly headers?: Headers | Readonly<Record<string, string>> | readonly (readonly [string, string])[];
  /** The body; a stream disables retries and hedging. */
  readonly body?: string | Uint8Array | ArrayBuffer | URLSearchParams | Blob | Readable | null;
  /** Cancels the call. */
  readonly signal?: AbortSignal | null;
  /**
   * Whether the request may be sent twice.
   * @default true for GET, HEAD, OPTIONS, PUT, DELETE and TRACE
   */
  readonly idempotent?: boolean;
}

/** A `ServiceRequest` for `fetch(path, init)`. A Blob body is read first, so the request stays retryable. */
export async function toServiceRequest(path: string, init: ServiceFetchInit): Promise<ServiceRequest & { readonly method: string }> {
  if (typeof init !== 'object' || init === null) invalidOption('init', 'an object', init);
  const method = (init.method ?? 'GET').toUpperCase();
  const headers: Record<string, string> = {};
  if (init.headers !== undefined) {
    new Headers(init.headers as ConstructorParameters<typeof Headers>[0]).forEach((value, name) => {
      headers[name] = value;
    });
  }
  let body: RequestBody | undefined;
  const given = init.body;
  if (given === undefined || given === null) body = undefined;
  else if (typeof given === 'string' || given instanceof Uint8Array || given instanceof Readable) body = given;
  else if (given instanceof ArrayBuffer) body = new Uint8Array(given);
  else if (given instanceof URLSearchParams) {
    body = given.toString();
    headers['content-type'] ??= 'application/x-www-form-urlencoded;charset=UTF-8';
  } else if (given instanceof Blob) {
    body = new Uint8Array(await given.arrayBuffer());
    if (given.type !== '') headers['content-type'] ??= given.type;
  } else {
    invalidOption('body', 'a string, Uint8Array, ArrayBuffer, URLSearchParams, Blob or Readable', given);
  }
  return {
    method,
    path,
    headers,
    ...(body !== undefined && { body }),
    ...(init.signal !== undefined && init.signal !== null && { signal: init.signal }),
    ...(init.idempotent !== undefined && { idempotent: init.idempotent }),
  };
}

/** Statuses whose responses have no body (and HEAD responses), which `new Response()` refuses a body for. */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/** A WHATWG `Response` for a client response; a fetch transport's own `Response` is returned as it is. */
export async function toWebResponse(response: ServiceResponse, method: string): Promise<Response> {
  const body = response.body;
  if (body instanceof FetchResponseBody && body.response instanceof Response) return body.response;
  const headers = new Headers();
  for (const [name, value] of Object.entries(response.headers)) {
    if (value === undefined) continue;
    if (typeof value === 'string') headers.append(name, value);
    else for (const item of value) headers.append(name, item);
  }
  if (method === 'HEAD' || NULL_BODY_STATUSES.has(response.statusCode) || response.statusCode < 200) {
    await body.dump();
    return new Response(null, { status: response.statusCode, headers });
  }
  return new Response(ReadableStream.from(body), { status: response.statusCode, headers });
}
