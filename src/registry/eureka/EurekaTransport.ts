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
  /**
   * Leaves a successful answer's body as it arrived, still compressed, in its chunks (`chunks` and `encoding`,
   * `body` empty): a full registry of 100 MB is then decompressed, parsed and decoded off the event loop, and
   * never passes it whole. Whoever reads the chunks enforces `maxResponseBytes` on the body once decompressed.
   */
  readonly keepChunks?: boolean;
}

/** What came of a request: the answer of one server, or why none answered. */
export interface EurekaExchange {
  /** The HTTP status of the last answer, undefined when no server answered at all. */
  readonly status: number | undefined;
  /** The body, decompressed; empty when there was none. */
  readonly body: Buffer;
  /** Body bytes as received (before decompression). */
  readonly bytes: number;
  /** With `keepChunks`, a successful answer's body as it arrived (still compressed); otherwise undefined. */
  readonly chunks?: readonly Buffer[];
  /** With `keepChunks`, how `chunks` are compressed (undefined: they are not). */
  readonly encoding?: ContentCoding;
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
  readonly zone: string | undefined;
}

const EMPTY = Buffer.alloc(0);
/** How much of an error response is kept for messages. */
const ERROR_BODY_LIMIT = 4096;

/** At most this many servers are tried per request (the Java client's `RetryableEurekaHttpClient`). */
const MAX_TRIES = 3;
/** Quarantined servers are all released once they are this share of the list (Java's 0.66 refresh percentage). */
const QUARANTINE_REFRESH_RATIO = 0.66;
/**
 * How long a client sticks to the server that answers it before starting over from its own first choice (Java's
 * `SessionedEurekaHttpClient`: 20 min, randomized by up to half either way), so clients that failed over to
 * another server come back once theirs is up again, and the fleet stays spread.
 */
const SESSION_MS = 20 * 60_000;

/**
 * HTTP to a set of Eureka servers on undici, with the Java client's server choice: each client orders the
 * servers its own way (same zone first, shuffled by its seed), a request goes to the server that answered last
 * and otherwise to the first one not quarantined; a connection failure, a timeout, a 5xx (or a status the
 * request names) quarantines that server and passes the request on, at most 3 servers per request. Bodies are
 * read with a size limit and gunzipped.
 */
export class EurekaTransport {
  readonly #options: ResolvedEurekaRegistryOptions;
  readonly #targets: readonly Target[];
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #closing = new AbortController();
  /** The server that answered last, tried first while the session lasts. */
  #sticky: Target | undefined;
  #sessionEndsAt = 0;
  readonly #quarantined = new Set<Target>();
  readonly #random: () => number;

  constructor(options: ResolvedEurekaRegistryOptions) {
    this.#options = options;
    this.#random = seededRandom(options.shuffleSeed);
    const targets = options.serviceUrls.map(({ url, authorization, zone }) => {
      const parsed = new URL(url);
      return { url, origin: parsed.origin, basePath: parsed.pathname.replace(/\/+$/, ''), authorization, zone };
    });
    this.#targets = options.shuffleServiceUrls ? orderTargets(targets, options.zone, this.#random) : targets;
    this.#ownsDispatcher = options.dispatcher === undefined;
    this.#dispatcher =
      options.dispatcher ??
      new Agent({
        connect: { timeout: options.connectTimeoutMs },
        headersTimeout: options.requestTimeoutMs,
        bodyTimeout: options.requestTimeoutMs,
      });
  }

  /** The service URLs, in this client's order (same zone first, shuffled unless `shuffleServiceUrls` is false). */
  get serviceUrls(): readonly string[] {
    return this.#targets.map((target) => target.url);
  }

  /** Sends `request` to the servers in turn; never throws (failures are in the exchange). */
  async send(request: EurekaRequest, signal?: AbortSignal): Promise<EurekaExchange> {
    const { clock, logger } = this.#options;
    const started = clock.now();
    const body = request.json === undefined ? undefined : JSON.stringify(request.json);
    const errors: unknown[] = [];
    let last: { status: number | undefined; body: Buffer; chunks?: readonly Buffer[]; encoding?: ContentCoding; bytes: number; serviceUrl: string | undefined } = {
      status: undefined,
      body: EMPTY,
      bytes: 0,
      serviceUrl: undefined,
    };
    const tried = new Set<Target>();
    for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
      const target = this.#next(tried);
      if (target === undefined) break;
      tried.add(target);
      const aborted = this.#abortedBy(signal);
      if (aborted !== undefined) return { ...last, durationMs: clock.now() - started, error: aborted };
      try {
        const answer = await this.#exchange(target, request, body, signal);
        last = { ...answer, serviceUrl: target.url };
        const askNext = answer.status >= 500 || (request.askNextOn?.(answer.status) ?? false);
        if (!askNext) {
          this.#answered(target);
          return { ...last, durationMs: clock.now() - started, error: undefined };
        }
        errors.push(new Error(`${target.url} answered ${answer.status}: ${errorText(answer.body)}`));
      } catch (error) {
        const aborted = this.#abortedBy(signal);
        if (aborted !== undefined) return { ...last, durationMs: clock.now() - started, error: aborted };
        last = { status: undefined, body: EMPTY, bytes: 0, serviceUrl: target.url };
        errors.push(new Error(`${target.url}: ${errorMessage(error)}`, { cause: error }));
      }
      this.#failed(target);
      logger.debug(`eureka ${request.method} ${request.path} failed on ${target.url}: ${errorMessage(errors[errors.length - 1])}`);
    }
    const error = new KaryonError(
      'ERR_REGISTRY_UNAVAILABLE',
      `no Eureka server answered ${request.method} ${request.path}: ${errors.map(errorMessage).join('; ')}`,
      { errors, ...(last.status === undefined ? {} : { status: last.status }) },
    );
    return { ...last, durationMs: clock.now() - started, error };
  }

  /**
   * The server to try next: the one that answered last while its session lasts, else this client's first
   * choice that is not quarantined (the quarantine is lifted when it holds two thirds of the servers, as Java
   * does, so a cluster that was all down is tried again in full).
   */
  #next(tried: ReadonlySet<Target>): Target | undefined {
    const sticky = this.#sticky;
    if (sticky !== undefined && !tried.has(sticky)) {
      if (this.#options.clock.now() < this.#sessionEndsAt) return sticky;
      this.#sticky = undefined;
    }
    const threshold = Math.floor(this.#targets.length * QUARANTINE_REFRESH_RATIO);
    if (this.#quarantined.size > 0 && this.#quarantined.size >= threshold) this.#quarantined.clear();
    for (const target of this.#targets) if (!tried.has(target) && !this.#quarantined.has(target)) return target;
    // Every server left is quarantined: better one of them than none.
    for (const target of this.#targets) if (!tried.has(target)) return target;
    return undefined;
  }

  #answered(target: Target): void {
    this.#quarantined.delete(target);
    if (this.#sticky === target) return;
    this.#sticky = target;
    // Randomized by up to half either way, so clients that failed over together do not return together.
    this.#sessionEndsAt = this.#options.clock.now() + SESSION_MS * (0.5 + this.#random());
  }

  #failed(target: Target): void {
    this.#quarantined.add(target);
    if (this.#sticky === target) this.#sticky = undefined;
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
  ): Promise<{ status: number; body: Buffer; chunks?: readonly Buffer[]; encoding?: ContentCoding; bytes: number }> {
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
      if (ok && request.keepChunks === true) {
        const coding = contentCoding(encoding);
        const raw = await readBody(response.body, undefined, this.#options.maxResponseBytes, true);
        return { status: response.statusCode, body: EMPTY, chunks: raw.chunks, ...(coding === undefined ? {} : { encoding: coding }), bytes: raw.bytes };
      }
      const read = await readBody(response.body, encoding, ok ? this.#options.maxResponseBytes : ERROR_BODY_LIMIT, ok);
      return { status: response.statusCode, body: Buffer.concat(read.chunks, read.size), bytes: read.bytes };
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

/** How a body is compressed: the `content-encoding`s a Eureka server may answer with. */
export type ContentCoding = 'gzip' | 'deflate';

/**
 * The compression of a `content-encoding`, undefined for none.
 * @throws KaryonError ERR_EUREKA_PROTOCOL for an encoding that was not asked for.
 */
function contentCoding(encoding: string | undefined): ContentCoding | undefined {
  switch (encoding) {
    case undefined:
    case '':
    case 'identity':
      return undefined;
    case 'gzip':
    case 'x-gzip':
      return 'gzip';
    case 'deflate':
      return 'deflate';
    default:
      throw new KaryonError('ERR_EUREKA_PROTOCOL', `response has content-encoding '${encoding}', which was not asked for`);
  }
}

/** The decompressor for a `content-encoding`, undefined for none. */
function decoderFor(encoding: string | undefined): Transform | undefined {
  const coding = contentCoding(encoding);
  if (coding === undefined) return undefined;
  return coding === 'gzip' ? createGunzip() : createInflate();
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
): Promise<{ chunks: Buffer[]; size: number; bytes: number }> {
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
  return { chunks, size, bytes };
}

/** The start of an error body, on one line, for messages. */
export function errorText(body: Buffer): string {
  const text = body.toString('utf8', 0, Math.min(body.length, 200)).replace(/\s+/g, ' ').trim();
  return text === '' ? '(empty body)' : text;
}

/**
 * The servers in one client's order: those of `zone` first, each group shuffled (Fisher-Yates) by `random`, as
 * Java's `ZoneAffinityClusterResolver` does, so several clients spread over the servers.
 */
export function orderTargets<T extends { readonly zone: string | undefined }>(targets: readonly T[], zone: string | undefined, random: () => number): T[] {
  const sameZone = targets.filter((target) => zone !== undefined && target.zone?.toLowerCase() === zone.toLowerCase());
  const others = targets.filter((target) => !sameZone.includes(target));
  return [...shuffle(sameZone, random), ...shuffle(others, random)];
}

function shuffle<T>(list: T[], random: () => number): T[] {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [list[i], list[j]] = [list[j]!, list[i]!];
  }
  return list;
}

/** A small deterministic generator (mulberry32) seeded by an FNV-1a hash of `seed`: the same seed, the same order. */
export function seededRandom(seed: string): () => number {
  let state = 0x811c9dc5;
  for (let i = 0; i < seed.length; i++) state = Math.imul(state ^ seed.charCodeAt(i), 0x01000193);
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
