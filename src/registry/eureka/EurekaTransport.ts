import type { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createInflate } from 'node:zlib';
import { Agent } from 'undici';
import type { Dispatcher } from 'undici';
import { KaryonError } from '../../common/KaryonError.js';
import { abortReason, errorMessage } from '../../internal/async.js';
import type { ResolvedEurekaRegistryOptions } from './EurekaRegistryOptions.js';

/** One request to "the Eureka cluster": sent to the servers in turn until one answers. */
export interface EurekaRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path under the service URL, starting with `/apps` (query included). */
  readonly path: string;
  /** A JSON body. */
  readonly json?: unknown;
  /**
   * Statuses after which the next server is asked, besides 5xx. A full fetch asks the next server on a 403
   * (a Eureka server answers 403 while it warms up).
   */
  readonly askNextOn?: (status: number) => boolean;
}

/** What came of a request: the answer of one server, or why none answered. */
export interface EurekaExchange {
  /** The HTTP status of the last answer, undefined when no server answered at all. */
  readonly status: number | undefined;
  /** The body, decompressed; empty when there was none. */
  readonly body: Buffer;
  /** Body bytes as received (before decompression). */
  readonly bytes: number;
  /** The server that answered last (without credentials), undefined when none was tried. */
  readonly serviceUrl: string | undefined;
  /** From sending the first try to the end of the last, in ms (on the injected clock). */
  readonly durationMs: number;
  /** Set when no server gave an acceptable answer: every try failed, or the request was aborted. */
  readonly error: KaryonError | undefined;
}

interface Target {
  readonly url: string;
  readonly origin: string;
  readonly basePath: string;
  readonly authorization: string | undefined;
}

const EMPTY = Buffer.alloc(0);
/** How much of an error response is kept for messages. */
const ERROR_BODY_LIMIT = 4096;

/**
 * HTTP to a set of Eureka servers on undici. A request goes to the server that answered last; a connection
 * failure, a timeout, a 5xx (or a status the request names) passes it to the next server, each tried once per
 * request, as the Java client's retryable client does. Bodies are read with a size limit and gunzipped.
 */
export class EurekaTransport {
  readonly #options: ResolvedEurekaRegistryOptions;
  readonly #targets: readonly Target[];
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #closing = new AbortController();
  #current = 0;

  constructor(options: ResolvedEurekaRegistryOptions) {
    this.#options = options;
    this.#targets = options.serviceUrls.map(({ url, authorization }) => {
      const parsed = new URL(url);
      return { url, origin: parsed.origin, basePath: parsed.pathname.replace(/\/+$/, ''), authorization };
    });
    this.#ownsDispatcher = options.dispatcher === undefined;
    this.#dispatcher =
      options.dispatcher ??
      new Agent({
        connect: { timeout: options.connectTimeoutMs },
        headersTimeout: options.requestTimeoutMs,
        bodyTimeout: options.requestTimeoutMs,
      });
  }

  /** The service URLs, in order. */
  get serviceUrls(): readonly string[] {
    return this.#targets.map((target) => target.url);
  }

  /** Sends `request` to the servers in turn; never throws (failures are in the exchange). */
  async send(request: EurekaRequest, signal?: AbortSignal): Promise<EurekaExchange> {
    const { clock, logger } = this.#options;
    const started = clock.now();
    const body = request.json === undefined ? undefined : JSON.stringify(request.json);
    const errors: unknown[] = [];
    let last: { status: number | undefined; body: Buffer; bytes: number; serviceUrl: string | undefined } = {
      status: undefined,
      body: EMPTY,
      bytes: 0,
      serviceUrl: undefined,
    };
    const first = this.#current;
    for (let i = 0; i < this.#targets.length; i++) {
      const index = (first + i) % this.#targets.length;
      const target = this.#targets[index]!;
      const aborted = this.#abortedBy(signal);
      if (aborted !== undefined) return { ...last, durationMs: clock.now() - started, error: aborted };
      try {
        const answer = await this.#exchange(target, request, body, signal);
        last = { ...answer, serviceUrl: target.url };
        const askNext = answer.status >= 500 || (request.askNextOn?.(answer.status) ?? false);
        if (!askNext) {
          this.#current = index;
          return { ...last, durationMs: clock.now() - started, error: undefined };
        }
        errors.push(new Error(`${target.url} answered ${answer.status}: ${errorText(answer.body)}`));
      } catch (error) {
        const aborted = this.#abortedBy(signal);
        if (aborted !== undefined) return { ...last, durationMs: clock.now() - started, error: aborted };
        last = { status: undefined, body: EMPTY, bytes: 0, serviceUrl: target.url };
        errors.push(new Error(`${target.url}: ${errorMessage(error)}`, { cause: error }));
      }
      logger.debug(`eureka ${request.method} ${request.path} failed on ${target.url}: ${errorMessage(errors[errors.length - 1])}`);
    }
    // Nobody answered well: the next request starts with the next server rather than hammering this one.
    this.#current = (first + 1) % this.#targets.length;
    const error = new KaryonError(
      'ERR_REGISTRY_UNAVAILABLE',
      `no Eureka server answered ${request.method} ${request.path}: ${errors.map(errorMessage).join('; ')}`,
      { errors, ...(last.status === undefined ? {} : { status: last.status }) },
    );
    return { ...last, durationMs: clock.now() - started, error };
  }

  /** Aborts requests in flight and releases connections (a dispatcher passed in options is left open). */
  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort(new KaryonError('ERR_INVALID_STATE', 'the Eureka registry is closed'));
    if (this.#ownsDispatcher) await this.#dispatcher.destroy().catch(() => undefined);
  }

  #abortedBy(signal: AbortSignal | undefined): KaryonError | undefined {
    const source = this.#closing.signal.aborted ? this.#closing.signal : signal?.aborted === true ? signal : undefined;
    if (source === undefined) return undefined;
    const reason = abortReason(source);
    return reason instanceof KaryonError ? reason : new KaryonError('ERR_REGISTRY_UNAVAILABLE', `request aborted: ${reason.message}`, { cause: reason });
  }

  /** One request to one server, with the request deadline on the injected clock. */
  async #exchange(
    target: Target,
    request: EurekaRequest,
    body: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<{ status: number; body: Buffer; bytes: number }> {
    const { clock, requestTimeoutMs } = this.#options;
    const deadline = new AbortController();
    const timer = clock
      .setTimeout(() => deadline.abort(new Error(`no complete answer within ${requestTimeoutMs} ms`)), requestTimeoutMs)
      .unref();
    const signals = [this.#closing.signal, deadline.signal];
    if (signal !== undefined) signals.push(signal);
    try {
      const response = await this.#dispatcher.request({
        origin: target.origin,
        path: `${target.basePath}${request.path}`,
        method: request.method,
        headers: this.#headers(target, body),
        body: body ?? null,
        signal: AbortSignal.any(signals),
        headersTimeout: requestTimeoutMs,
        bodyTimeout: requestTimeoutMs,
      });
      const ok = response.statusCode < 300;
      const encoding = header(response.headers['content-encoding'])?.toLowerCase();
      const read = await readBody(response.body, encoding, ok ? this.#options.maxResponseBytes : ERROR_BODY_LIMIT, ok);
      return { status: response.statusCode, ...read };
    } finally {
      timer.clear();
    }
  }

  #headers(target: Target, body: string | undefined): Record<string, string> {
    const headers: Record<string, string> = {
      'user-agent': 'karyon-ts',
      ...this.#options.headers,
      accept: 'application/json',
      'accept-encoding': 'gzip',
    };
    if (target.authorization !== undefined) headers.authorization = target.authorization;
    if (body !== undefined) headers['content-type'] = 'application/json';
    return headers;
  }
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The decompressor for a `content-encoding`, undefined for none. */
function decoderFor(encoding: string | undefined): Transform | undefined {
  switch (encoding) {
    case undefined:
    case '':
    case 'identity':
      return undefined;
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    default:
      throw new KaryonError('ERR_EUREKA_PROTOCOL', `response has content-encoding '${encoding}', which was not asked for`);
  }
}

/**
 * Reads a body, decompressing it as it arrives, up to `limit` bytes once decompressed. Beyond it, a body that
 * matters fails the request; an error body is cut (only its start is kept for messages). Also counts the bytes
 * as received.
 */
async function readBody(
  body: Dispatcher.ResponseData['body'],
  encoding: string | undefined,
  limit: number,
  failWhenLarger: boolean,
): Promise<{ body: Buffer; bytes: number }> {
  let bytes = 0;
  const chunks: Buffer[] = [];
  let size = 0;
  const received = async function* (): AsyncGenerator<Buffer> {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      yield chunk;
    }
  };
  const collect = async (source: AsyncIterable<Buffer>): Promise<void> => {
    for await (const chunk of source) {
      if (size + chunk.length <= limit) {
        chunks.push(chunk);
        size += chunk.length;
      } else if (failWhenLarger) {
        throw new KaryonError('ERR_EUREKA_PROTOCOL', `response is larger than maxResponseBytes (${limit})`);
      } else {
        chunks.push(chunk.subarray(0, limit - size));
        size = limit;
      }
    }
  };
  const decoder = decoderFor(encoding);
  if (decoder === undefined) await pipeline(received, collect);
  else await pipeline(received, decoder, collect);
  return { body: Buffer.concat(chunks, size), bytes };
}

/** The start of an error body, on one line, for messages. */
export function errorText(body: Buffer): string {
  const text = body.toString('utf8', 0, Math.min(body.length, 200)).replace(/\s+/g, ' ').trim();
  return text === '' ? '(empty body)' : text;
}
