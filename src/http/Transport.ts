import type { Readable } from 'node:stream';
import type { TrySignal } from './TrySignal.js';

/** Response headers, as node:http and undici give them: lower-case names. */
export type ResponseHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** A request body: a string or bytes can be sent again on a retry; a stream cannot, so it disables retries. */
export type RequestBody = string | Uint8Array | Readable;

/**
 * A response body: read it once, as text, JSON, bytes or by iterating its chunks. A body you do not want
 * must still be `dump()`ed, or its connection is held until the peer gives up.
 */
export interface ResponseBody extends AsyncIterable<Uint8Array> {
  /** Reads the whole body as UTF-8 text. */
  text(): Promise<string>;
  /** Reads and parses the whole body as JSON. */
  json(): Promise<unknown>;
  /** Reads the whole body as bytes. */
  arrayBuffer(): Promise<ArrayBuffer>;
  /** Discards the body, freeing the connection. */
  dump(): Promise<void>;
}

/** One try as a transport sends it. */
export interface TransportRequest {
  /** `http://host:port` of the chosen instance. */
  readonly origin: string;
  /** The HTTP method. */
  readonly method: string;
  /** Path and query. */
  readonly path: string;
  /** Request headers. */
  readonly headers: Readonly<Record<string, string | readonly string[]>> | undefined;
  /** The body, if any. */
  readonly body: RequestBody | undefined;
  /** Aborts the try: its timeout, the caller's cancellation, a lost hedge. */
  readonly signal: TrySignal;
  /** The try's timeout, in ms (the client enforces it through `signal`; a transport may use it as a backstop). */
  readonly timeoutMs: number;
}

/** What a transport answers for one try. */
export interface TransportResponse {
  /** The HTTP status. */
  readonly statusCode: number;
  /** Response headers. */
  readonly headers: ResponseHeaders;
  /** The body, to be read or dumped. */
  readonly body: ResponseBody;
}

/**
 * How the service client sends one try to one instance. Rejects with the transport's own error when no
 * response arrived; the client classifies it (refused, reset, timed out...) from its `code`.
 */
export interface Transport {
  /**
   * True when the transport sets `signal.sent` as soon as a byte of the request may have been written: a
   * failure before that is retried whatever the method, since the instance cannot have seen the request.
   * Without it, only connection failures (refused, unreachable, connect timeout) count as nothing sent.
   */
  readonly tracksSending?: boolean;
  /** Sends one try. */
  send(request: TransportRequest): Promise<TransportResponse>;
  /** Forgets an origin whose instance left, closing its connections once requests in flight finish. */
  release(origin: string): void;
  /** Closes every connection; requests still in flight after `timeoutMs` are cut. */
  close(timeoutMs: number): Promise<void>;
}
