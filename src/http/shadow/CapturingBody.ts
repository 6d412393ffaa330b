import type { ResponseBody } from '../Transport.js';

/**
 * A response body handed to the caller of a client call whose copy is compared: it reads exactly as the
 * body it wraps, and keeps what the caller read (up to a limit) for the comparison. The caller's reading is
 * the only reading: nothing is read ahead or twice. A body the caller dumps, or reads only in part, is not
 * compared.
 */
export class CapturingBody implements ResponseBody {
  readonly #inner: ResponseBody;
  readonly #limit: number;
  #settle: ((body: Buffer | string | undefined) => void) | undefined;
  /** Resolves with what the caller read, or undefined when it was not all read or was too large. */
  readonly captured: Promise<Buffer | string | undefined>;

  /**
   * @param inner - the body to hand over
   * @param limit - bytes kept at most
   */
  constructor(inner: ResponseBody, limit: number) {
    this.#inner = inner;
    this.#limit = limit;
    this.captured = new Promise((resolve) => {
      this.#settle = resolve;
    });
  }

  /** Stops waiting: the comparison goes on without the body. */
  abandon(): void {
    this.#done(undefined);
  }

  text(): Promise<string> {
    return this.#inner.text().then(
      (text) => {
        this.#done(Buffer.byteLength(text) <= this.#limit ? text : undefined);
        return text;
      },
      (error: unknown) => {
        this.#done(undefined);
        throw error;
      },
    );
  }

  async json(): Promise<unknown> {
    // Read as text and parse here, so the comparison gets the text the value came from, not an object the
    // caller may change before the shadow answers.
    return JSON.parse(await this.text()) as unknown;
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    return this.#inner.arrayBuffer().then(
      (buffer) => {
        this.#done(buffer.byteLength <= this.#limit ? Buffer.from(new Uint8Array(buffer)) : undefined);
        return buffer;
      },
      (error: unknown) => {
        this.#done(undefined);
        throw error;
      },
    );
  }

  dump(): Promise<void> {
    this.#done(undefined);
    return this.#inner.dump();
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    const iterator = this.#inner[Symbol.asyncIterator]();
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    return {
      next: async () => {
        let step: IteratorResult<Uint8Array>;
        try {
          step = await iterator.next();
        } catch (error) {
          this.#done(undefined);
          throw error;
        }
        if (step.done === true) {
          this.#done(over ? undefined : Buffer.concat(chunks));
          return step;
        }
        if (!over) {
          size += step.value.byteLength;
          if (size > this.#limit) {
            over = true;
            chunks.length = 0;
          } else {
            chunks.push(Buffer.from(step.value));
          }
        }
        return step;
      },
      return: async (value?: unknown) => {
        // The caller stopped early (break): the body was not all read.
        this.#done(undefined);
        return (await iterator.return?.(value)) ?? { done: true, value: undefined };
      },
    };
  }

  #done(body: Buffer | string | undefined): void {
    const settle = this.#settle;
    if (settle === undefined) return;
    this.#settle = undefined;
    settle(body);
  }
}
