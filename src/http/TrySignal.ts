import { KaryonError } from '../common/KaryonError.js';
import type { Deadline } from '../internal/DeadlineQueue.js';

type Listener = () => void;

/**
 * The abort signal of one try: a one-shot, EventEmitter-shaped signal. undici accepts it as `signal`, and it
 * costs a fraction of an `AbortSignal`, whose EventTarget listeners (undici adds two per request) cut
 * loopback throughput by about a fifth. It is also the try's entry in the client's deadline queue (one timer
 * for every try, rather than a `setTimeout` and a `clearTimeout` each): when its time is up, it aborts with
 * `ERR_REQUEST_TIMEOUT`.
 */
export class TrySignal implements Deadline {
  /** True once aborted. */
  aborted = false;
  /** Why it was aborted. */
  reason: unknown = undefined;
  /** True once aborted because its deadline passed. */
  timedOut = false;
  /** The try's timeout, in ms (for the message). */
  timeoutMs = 0;
  /**
   * Set by a transport that tracks it (`Transport.tracksSending`) once a byte of the request may have
   * left: from then on the instance may have processed the request.
   */
  sent = false;
  /**
   * When it was sent (on the client's clock), or 0: the latency of the instance counts from here, so setting
   * up a connection (or waiting for one) is not taken for the instance's slowness.
   */
  sentAt = 0;
  deadline = 0;
  prevDeadline: Deadline | undefined = undefined;
  nextDeadline: Deadline | undefined = undefined;
  queued = false;
  #first: Listener | undefined;
  #more: Listener[] | undefined;

  /** Called by the deadline queue: aborts the try with a timeout error. */
  expire(): void {
    if (this.aborted) return;
    this.timedOut = true;
    this.abort(new KaryonError('ERR_REQUEST_TIMEOUT', `no response headers within ${this.timeoutMs} ms`));
  }

  /** Adds an abort listener (called at most once). */
  on(_event: 'abort', listener: Listener): this {
    if (this.#first === undefined) this.#first = listener;
    else (this.#more ??= []).push(listener);
    return this;
  }

  /** Same as `on`: the signal aborts once. */
  once(event: 'abort', listener: Listener): this {
    return this.on(event, listener);
  }

  /** Removes an abort listener. */
  removeListener(_event: 'abort', listener: Listener): this {
    if (this.#first === listener) this.#first = this.#more?.shift();
    else if (this.#more !== undefined) {
      const index = this.#more.indexOf(listener);
      if (index >= 0) this.#more.splice(index, 1);
    }
    return this;
  }

  /** Same as `removeListener`. */
  off(event: 'abort', listener: Listener): this {
    return this.removeListener(event, listener);
  }

  /** Aborts with `reason`, calling every listener; later calls do nothing. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const first = this.#first;
    const more = this.#more;
    this.#first = undefined;
    this.#more = undefined;
    first?.();
    if (more !== undefined) for (const listener of more) listener();
  }

  /** A standard `AbortSignal` that follows this one, for transports that want one. */
  toAbortSignal(): AbortSignal {
    const controller = new AbortController();
    if (this.aborted) controller.abort(this.reason);
    else this.on('abort', () => controller.abort(this.reason));
    return controller.signal;
  }
}

/** A signal a try follows: the caller's `AbortSignal`, or another try signal (a hedged pair's). */
export type ParentSignal = AbortSignal | TrySignal;

/** Makes `child` abort when `parent` does; returns the function that undoes the link. */
export function follow(parent: ParentSignal, child: TrySignal): () => void {
  if (parent.aborted) {
    child.abort(parent.reason);
    return noop;
  }
  const onAbort = (): void => child.abort(parent.reason);
  if (parent instanceof TrySignal) {
    parent.on('abort', onAbort);
    return () => parent.removeListener('abort', onAbort);
  }
  parent.addEventListener('abort', onAbort, { once: true });
  return () => parent.removeEventListener('abort', onAbort);
}

function noop(): void {}
