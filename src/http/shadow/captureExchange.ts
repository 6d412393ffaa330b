import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { CapturedResponse } from './CapturedResponse.js';
import { headerText } from './CapturedResponse.js';

type PushFn = (chunk: unknown, encoding?: BufferEncoding) => boolean;

/** Where a request body capture stands. */
export type BodyCaptureState = 'reading' | 'complete' | 'too-large';

/**
 * Copies a request body as the server reads it, without reading it itself. It wraps the request's `push`
 * (the one door through which node:http feeds body bytes into the stream), so the stream's mode, pace and
 * backpressure stay the handler's: listening to `data` would switch the stream to flowing mode and lose
 * bytes for a handler that starts reading later.
 */
export class RequestBodyCapture {
  #state: BodyCaptureState = 'reading';
  #chunks: Buffer[] = [];
  #size = 0;

  /**
   * @param req - the request, before any of its body was read
   * @param limit - bytes kept at most; past them the capture gives up
   */
  constructor(req: IncomingMessage, limit: number) {
    const stream = req as unknown as { push: PushFn };
    const push = stream.push;
    // An own property shadows the prototype's method for this request only; deleting it restores it.
    stream.push = (chunk, encoding) => {
      if (chunk === null) {
        if (this.#state === 'reading') this.#state = 'complete';
        delete (stream as Partial<typeof stream>).push;
      } else if (this.#state === 'reading') {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : (chunk as Uint8Array);
        this.#size += bytes.byteLength;
        if (this.#size > limit) {
          this.#state = 'too-large';
          this.#chunks = [];
          delete (stream as Partial<typeof stream>).push;
        } else {
          // A copy: the parser's buffer may be reused, and the handler may change what it got.
          this.#chunks.push(Buffer.from(bytes));
        }
      }
      return push.call(req, chunk, encoding);
    };
  }

  /** Where the capture stands. */
  get state(): BodyCaptureState {
    return this.#state;
  }

  /** The whole body, once complete. */
  bytes(): Buffer {
    return Buffer.concat(this.#chunks);
  }
}

type WriteHead = (statusCode: number, reason?: unknown, headers?: unknown) => ServerResponse;
type Write = (chunk: unknown, encoding?: unknown, callback?: unknown) => boolean;
type End = (chunk?: unknown, encoding?: unknown, callback?: unknown) => ServerResponse;

/**
 * Copies what a response sends, for comparison, without changing what is sent or when: `writeHead`,
 * `write` and `end` are wrapped on this response only, and each wrapper calls the original at once with the
 * same arguments. Headers given to `writeHead` (the path Fastify and fast handlers take) never reach
 * `getHeaders()`, hence the wrapper.
 */
export class ResponseCapture {
  readonly #res: ServerResponse;
  readonly #wanted: readonly string[];
  readonly #limit: number;
  readonly #headHeaders: Record<string, string> = {};
  #chunks: Buffer[] = [];
  #size = 0;
  #over = false;

  /**
   * @param res - the response, before anything was sent
   * @param wanted - lower-case names of the headers to keep
   * @param limit - body bytes kept at most; past them the body is not kept
   */
  constructor(res: ServerResponse, wanted: readonly string[], limit: number) {
    this.#res = res;
    this.#wanted = wanted;
    this.#limit = limit;
    const target = res as unknown as { writeHead: WriteHead; write: Write; end: End };
    const writeHead = target.writeHead;
    const write = target.write;
    const end = target.end;
    target.writeHead = (statusCode, reason, headers) => {
      this.#headers(typeof reason === 'string' ? headers : reason);
      return writeHead.call(res, statusCode, reason, headers);
    };
    target.write = (chunk, encoding, callback) => {
      this.#body(chunk, encoding);
      return write.call(res, chunk, encoding, callback);
    };
    target.end = (chunk, encoding, callback) => {
      if (typeof chunk !== 'function') this.#body(chunk, encoding);
      return end.call(res, chunk, encoding, callback);
    };
  }

  /** What was sent; call once the response finished. `method` is the request's. */
  result(method: string): CapturedResponse {
    const res = this.#res;
    const headers: Record<string, string> = {};
    for (const name of this.#wanted) {
      const value = this.#headHeaders[name] ?? headerText(res.getHeader(name));
      if (value !== undefined) headers[name] = value;
    }
    const status = res.statusCode;
    // node:http drops what a handler writes for these: the client got no body, and neither will the shadow's.
    if (method === 'HEAD' || status === 204 || status === 304 || status < 200) return { status, headers, body: Buffer.alloc(0) };
    return { status, headers, body: this.#over ? undefined : Buffer.concat(this.#chunks) };
  }

  #headers(given: unknown): void {
    if (given === undefined || given === null || typeof given !== 'object') return;
    if (Array.isArray(given)) {
      // [name, value, name, value, ...] or [[name, value], ...], both accepted by writeHead.
      const pairs: unknown[][] = Array.isArray(given[0]) ? (given as unknown[][]) : [];
      if (pairs.length === 0) for (let i = 0; i + 1 < given.length; i += 2) pairs.push([given[i], given[i + 1]]);
      for (const [name, value] of pairs) this.#header(String(name), value);
      return;
    }
    for (const [name, value] of Object.entries(given as OutgoingHttpHeaders)) this.#header(name, value);
  }

  #header(name: string, value: unknown): void {
    const lower = name.toLowerCase();
    if (!this.#wanted.includes(lower)) return;
    const text = headerText(value);
    if (text !== undefined) this.#headHeaders[lower] = text;
  }

  #body(chunk: unknown, encoding: unknown): void {
    if (this.#over || chunk === undefined || chunk === null) return;
    let bytes: Buffer;
    // A string is encoded into a new buffer; bytes are copied, since the handler may reuse its buffer.
    if (typeof chunk === 'string') bytes = Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
    else if (chunk instanceof Uint8Array) bytes = Buffer.from(chunk);
    else return;
    this.#size += bytes.byteLength;
    if (this.#size > this.#limit) {
      this.#over = true;
      this.#chunks = [];
      return;
    }
    this.#chunks.push(bytes);
  }
}
