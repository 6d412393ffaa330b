import { Worker } from 'node:worker_threads';
import { KaryonError } from '../../common/KaryonError.js';
import { abortReason, errorMessage } from '../../internal/async.js';
import { decodeApplicationList, decodeApplications } from './wire.js';
import type { DecodedInstance } from './wire.js';

// A full registry (100,000 instances are 100 MB of JSON) takes longer to parse than any request may wait. So a
// large body is parsed on a worker thread, which hands it back in slices of a few hundred instances, as JSON
// text: the event loop parses and decodes one slice per task, and serves requests in between. The worker is
// made at the first large body and kept (unref'd) for the next ones. Small bodies are decoded at once.

/** Bodies up to this size are decoded on the event loop in one go (a few ms at most). */
export const SLICED_DECODE_MIN_BYTES = 512 * 1024;
/** Instances per slice: a slice parses and decodes in a millisecond or two. */
const INSTANCES_PER_SLICE = 200;
/** Slices the worker may have sent ahead of the one being decoded. */
const SLICES_AHEAD = 16;
/** Bytes of body copied to the worker per task. */
const HANDOVER_BYTES = 2 * 1024 * 1024;

/** Some decoded instances, and one reason per instance that did not decode. */
export interface DecodedSlice {
  /** The instances that decoded. */
  readonly instances: readonly DecodedInstance[];
  /** Why the others did not. */
  readonly errors: readonly string[];
}

/** The header of a decoded `{"applications": ...}`, then its instances slice by slice. */
export interface SlicedApplications {
  /** `versions__delta`, as a string. */
  readonly versionsDelta: string;
  /** `apps__hashcode`. */
  readonly appsHashcode: string;
  /** The decoded instances, a slice at a time (each slice its own task); reasons for those that did not decode. */
  readonly slices: AsyncIterable<DecodedSlice> | Iterable<DecodedSlice>;
}

// The worker's code: CommonJS, self-contained (it runs from a string, so it works from sources and from dist).
// One body at a time: chunks, then `{ perSlice }`; it answers with the header (or an error), then sends slices
// (applications, large ones split, as JSON) while it has credit: the event loop grants one per slice decoded,
// so a few always wait there and the worker never runs far ahead.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const isRecord = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v) => (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]);
const head = (v) => (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined);
let chunks = [];
let iterator;
let credit = 0;
parentPort.on('message', (message) => {
  if (typeof message === 'number') {
    credit += message;
    pump();
  } else if (message.chunks !== undefined) {
    for (const chunk of message.chunks) chunks.push(chunk);
  } else {
    start(message.perSlice);
  }
});
function start(perSlice) {
  let root;
  try {
    const doc = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    root = isRecord(doc) && isRecord(doc.applications) ? doc.applications : undefined;
  } catch (error) {
    parentPort.postMessage({ error: 'not JSON: ' + (error && error.message) });
    return;
  } finally {
    chunks = [];
  }
  if (root === undefined) {
    parentPort.postMessage({ error: 'response has no "applications" object' });
    return;
  }
  parentPort.postMessage({ versionsDelta: head(root.versions__delta), appsHashcode: head(root.apps__hashcode) });
  credit = 0;
  iterator = slices(root, perSlice);
}
function* slices(root, perSlice) {
  let slice = [];
  let count = 0;
  for (const application of list(root.application)) {
    if (!isRecord(application)) {
      slice.push(application);
      continue;
    }
    const instances = list(application.instance);
    for (let i = 0; i < instances.length; ) {
      const take = Math.max(1, perSlice - count);
      slice.push({ name: application.name, instance: instances.slice(i, i + take) });
      count += Math.min(take, instances.length - i);
      i += take;
      if (count >= perSlice) {
        yield JSON.stringify(slice);
        slice = [];
        count = 0;
      }
    }
  }
  if (slice.length > 0) yield JSON.stringify(slice);
}
function pump() {
  while (credit > 0 && iterator !== undefined) {
    const next = iterator.next();
    if (next.done) {
      iterator = undefined;
      parentPort.postMessage({ done: true });
    } else {
      credit--;
      parentPort.postMessage({ slice: next.value });
    }
  }
}
`;

interface WorkerAnswer {
  readonly error?: string;
  readonly versionsDelta?: string;
  readonly appsHashcode?: string;
  readonly slice?: string;
  readonly done?: boolean;
}

function protocolError(message: string): KaryonError {
  return new KaryonError('ERR_EUREKA_PROTOCOL', message);
}

const nextTask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Decodes `{"applications": ...}` bodies, given as the chunks they arrived in, slice by slice: off the event loop
 * for large ones (see above). One body at a time.
 */
export class SliceDecoder {
  #worker: Worker | undefined;
  #closed = false;

  /**
   * The header of the body, then its instances a slice at a time. A slice iterator left before its end (or a
   * failure) costs the worker, which is made anew for the next body.
   * @throws KaryonError ERR_EUREKA_PROTOCOL when the body is not JSON or not an applications document.
   */
  async decode(chunks: readonly Buffer[], now: number, signal: AbortSignal): Promise<SlicedApplications> {
    if (signal.aborted) throw abortReason(signal);
    let size = 0;
    for (const chunk of chunks) size += chunk.length;
    if (size < SLICED_DECODE_MIN_BYTES || this.#closed) return whole(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size), now);
    let worker: Worker;
    try {
      if (this.#worker === undefined) {
        const made = new Worker(WORKER_SOURCE, { eval: true });
        made.unref();
        // A worker that stopped between two bodies is made anew for the next.
        made.once('exit', () => {
          if (this.#worker === made) this.#worker = undefined;
        });
        this.#worker = made;
      }
      worker = this.#worker;
    } catch {
      // No worker threads here (a restricted runtime): decode at once.
      return whole(Buffer.concat(chunks, size), now);
    }
    const answers: WorkerAnswer[] = [];
    let failure: Error | undefined;
    let wake: (() => void) | undefined;
    const nudge = (): void => {
      const resume = wake;
      wake = undefined;
      resume?.();
    };
    const onMessage = (answer: WorkerAnswer): void => {
      answers.push(answer);
      nudge();
    };
    const onError = (error: Error): void => {
      failure = error;
      nudge();
    };
    const onExit = (): void => {
      failure ??= new Error('the decoding worker stopped');
      nudge();
    };
    const onAbort = (): void => {
      failure = signal.reason instanceof Error ? signal.reason : new Error('aborted');
      nudge();
    };
    worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    signal.addEventListener('abort', onAbort, { once: true });
    /** Ends this body; a worker left mid-body is dropped. */
    const end = (clean: boolean): void => {
      signal.removeEventListener('abort', onAbort);
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
      if (clean && !this.#closed) return;
      if (this.#worker === worker) this.#worker = undefined;
      void worker.terminate();
    };
    const next = async (): Promise<WorkerAnswer> => {
      for (;;) {
        if (failure !== undefined) throw failure;
        if (answers.length > 0) break;
        await new Promise<void>((resolve) => (wake = resolve));
      }
      return answers.shift()!;
    };
    let head: WorkerAnswer;
    try {
      // The body goes over a few MB per message (each copy its own task), then the worker joins and parses it.
      let batch: Buffer[] = [];
      let batchBytes = 0;
      for (const chunk of chunks) {
        batch.push(chunk);
        batchBytes += chunk.length;
        if (batchBytes >= HANDOVER_BYTES) {
          worker.postMessage({ chunks: batch });
          batch = [];
          batchBytes = 0;
          await nextTask();
          if (failure !== undefined) throw failure;
        }
      }
      worker.postMessage({ chunks: batch });
      worker.postMessage({ perSlice: INSTANCES_PER_SLICE });
      head = await next();
    } catch (error) {
      end(false);
      throw error;
    }
    if (head.error !== undefined) {
      end(true);
      throw protocolError(`the full registry response is ${head.error}`);
    }
    async function* slices(): AsyncGenerator<DecodedSlice> {
      let clean = false;
      try {
        worker.postMessage(SLICES_AHEAD);
        for (;;) {
          const answer = await next();
          if (answer.done === true || answer.slice === undefined) {
            clean = true;
            return;
          }
          let applications: unknown;
          try {
            applications = JSON.parse(answer.slice);
          } catch (error) {
            throw protocolError(`a slice of the registry response did not parse: ${errorMessage(error)}`);
          }
          const instances: DecodedInstance[] = [];
          const errors: string[] = [];
          decodeApplicationList(applications as unknown[], now, instances, errors);
          worker.postMessage(1);
          yield { instances, errors };
          // Each slice its own task: what waits on the event loop runs between two slices.
          await nextTask();
        }
      } finally {
        end(clean);
      }
    }
    return { versionsDelta: head.versionsDelta ?? '', appsHashcode: head.appsHashcode ?? '', slices: slices() };
  }

  /** Stops the worker; later bodies are decoded at once. Idempotent. */
  close(): void {
    this.#closed = true;
    const worker = this.#worker;
    this.#worker = undefined;
    void worker?.terminate();
  }
}

/** Decodes a small body at once, presented as one slice. */
function whole(body: Buffer, now: number): SlicedApplications {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new KaryonError('ERR_EUREKA_PROTOCOL', `the full registry response is not JSON: ${errorMessage(error)}`, { cause: error });
  }
  const decoded = decodeApplications(parsed, now);
  return {
    versionsDelta: decoded.versionsDelta,
    appsHashcode: decoded.appsHashcode,
    slices: [{ instances: decoded.instances, errors: decoded.errors }],
  };
}
