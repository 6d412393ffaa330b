// Over 500 lines because the worker's code (a string, run on its own thread) and the event loop's side of the
// protocol between them (the handover of the body, the rows and their shared values, the credits) are read and
// changed together: split, each half would only make sense with the other open beside it.
import { readdirSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { promisify } from 'node:util';
import { gunzip, gunzipSync, inflate, inflateSync } from 'node:zlib';
import type { Clock, ClockTimer } from '../../common/Clock.js';
import { systemClock } from '../../common/Clock.js';
import { KaryonError } from '../../common/KaryonError.js';
import { abortReason, errorMessage, yieldToLoop } from '../../internal/async.js';
import type { InstanceKey } from '../InstanceCache.js';
import type { InstanceStatus, RegistryInstance } from '../types.js';
import type { ContentCoding } from './EurekaTransport.js';
import { decodeApplications, WIRE_DECODER_ARGS } from './wire.js';
import { wireDecoder } from './wireDecoder.js';

// A full registry (100,000 instances are 100 MB of JSON) takes longer to parse than any request may wait. So a
// large body is decompressed, parsed and decoded on a worker thread (with the very decoder of wire.ts, see wireDecoder.ts),
// which hands the instances back fifty at a time as flat rows of strings and numbers: what the
// instances of an app share (app, VIPs, zone, metadata, statuses) is sent once per body and referred to by
// number. So the event loop parses no JSON: it turns rows into compact records, slices that arrive being
// handled back to back for a quarter of a millisecond at most before it yields, and serves requests in between.
// A worker that decoded a body of up to KEEP_WORKER_MAX_BYTES stays for the next one for a while (`keepWorkerMs`):
// a new worker takes about 25 ms to start and runs its code cold, which made a 10,000-instance fetch take about
// 60% longer. It keeps the text of the body too: an instance of the next body written as it was (but for its
// lease's timestamps, which a Eureka server moves at every renewal) is neither parsed nor decoded again, only
// referred to, which made a 10,000-instance fetch over a held view take a fifth to a third less time; a body of the
// very bytes of the last, whose records the caller still holds as they were, is not decoded at all
// (`skipUnchanged`). After a larger body it is stopped at once: the hundreds of MB its heap grew to while parsing
// 100 MB of JSON would stay with it. On Linux it runs at a lower priority than the event loop, or only on CPU
// time no other thread wants (`priority: 'idle'`, see DecodePriority). Small bodies are decoded at once.

/** Bodies up to this size are decoded on the event loop in one go (a few ms at most). */
export const SLICED_DECODE_MIN_BYTES = 512 * 1024;
/**
 * Compressed bodies from this size are decompressed on the worker: 64 KiB of gzip are about 1 MB of registry
 * JSON. Smaller ones are decompressed before the worker is asked for (from POOL_INFLATE_MIN_BYTES in libuv's
 * thread pool), then go by their size.
 */
const WORKER_MIN_COMPRESSED_BYTES = 64 * 1024;
/** Compressed bodies from this size, up to the worker's, are decompressed in libuv's thread pool (a few KB take microseconds here). */
const POOL_INFLATE_MIN_BYTES = 8 * 1024;
/** Output chunk of the worker's decompression: large, so that 100 MB take few steps. */
const INFLATE_CHUNK_BYTES = 1024 * 1024;
/** Instances per slice: the event loop turns a slice's rows into records in a tenth of a millisecond or so. */
const INSTANCES_PER_SLICE = 50;
/**
 * Work done on the event loop between two yields while a full fetch is applied: slices that have arrived are
 * decoded back to back until this much time has gone. A request that arrives meanwhile waits for the slice under
 * way, so this bounds what a fetch adds to its latency (against a p99 of about a millisecond); each yield costs a
 * few microseconds.
 */
export const SLICE_BUDGET_MS = 0.25;
/** Slices the worker may have sent ahead of the one being decoded. */
const SLICES_AHEAD = 64;
/**
 * The nice value of the decoding thread where threads have their own (Linux): 10 gives it about a tenth of a
 * core that the event loop also wants, so requests go first and the fetch takes the CPU left over.
 */
const WORKER_NICE = 10;
/** How long the `chrt` that puts the decoding thread in SCHED_IDLE may take before it is given up. */
const CHRT_TIMEOUT_MS = 5000;
/** Bytes of body copied to the worker per task. */
const HANDOVER_BYTES = 2 * 1024 * 1024;
/**
 * Largest body (decompressed, in UTF-16 code units) after which the worker is kept for the next: about 30,000
 * instances. An idle worker keeps the heap the body grew and the body's text (measured: 20 to 40 MB of resident
 * memory after 10,000 instances, 140 MB after 100,000), and at 100,000 instances a warm worker saves nothing
 * measurable.
 */
const KEEP_WORKER_MAX_BYTES = 32 * 1024 * 1024;

/** An entry of a listing that says an instance was deleted (Eureka lists deletions in deltas, rarely elsewhere). */
export class Deletion implements InstanceKey {
  /** The application, upper case. */
  readonly app: string;
  /** The instance id. */
  readonly instanceId: string;

  /**
   * @param app - the application, upper case
   * @param instanceId - the instance id
   */
  constructor(app: string, instanceId: string) {
    this.app = app;
    this.instanceId = instanceId;
  }
}

/** Some decoded instances, in the order of the body, and one reason per instance that did not decode. */
export interface DecodedSlice {
  /** The records made of the instances that decoded (by the `compact` function given), and the deletions. */
  readonly entries: readonly (RegistryInstance | Deletion)[];
  /** How many instances decoded (those that `compact` refused included). */
  readonly decoded: number;
  /** Why the others did not. */
  readonly errors: readonly string[];
}

/**
 * Makes the record kept of a decoded instance. It must not keep `instance` itself (the decoder reuses the
 * object for the next row); it may throw, which skips the instance with the error's message.
 */
export type CompactRecord = (instance: RegistryInstance) => RegistryInstance;

/** The header of a decoded `{"applications": ...}`, then its instances slice by slice. */
export interface SlicedApplications {
  /** `versions__delta`, as a string. */
  readonly versionsDelta: string;
  /** `apps__hashcode`. */
  readonly appsHashcode: string;
  /**
   * True when `skipUnchanged` was asked and the body came as the very bytes of the last one decoded to its end:
   * `slices` is then empty, the caller holding what it made of that body.
   */
  readonly unchanged?: boolean;
  /** The decoded instances, a slice at a time (each slice its own task); reasons for those that did not decode. */
  readonly slices: AsyncIterable<DecodedSlice> | Iterable<DecodedSlice>;
}

// The worker's code: CommonJS, self-contained (it runs from a string, so it works from sources and from dist).
// One body at a time: chunks, then `{ perSlice, now }`; it answers with the header (or an error), then sends
// slices `{ rows, count, shared, errors }` while it has credit: the event loop grants one per slice handled, so a
// few always wait there and the worker never runs far ahead. A row is ROW_FIELDS values (see fromRows), or the one
// number -1 - n for an instance written as instance n of the body before (a kept worker, see slices); `shared`
// are the values first referred to in this slice, appended to the body's table.
/** Values in a row. */
const ROW_FIELDS = 20;
/** Metadata maps of the last instances that a new one is compared with before a key is made for it. */
const RECENT_METADATA = 8;
/** Bits of a row's flags. */
const PORT_ENABLED = 1;
const SECURE_PORT_ENABLED = 2;
const DELETED = 4;
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const zlib = require('node:zlib');
// Sources run through esbuild with keepNames name their functions with this helper.
const __name = (target) => target;
const core = (${wireDecoder.toString()})(...${JSON.stringify(WIRE_DECODER_ARGS)});
// Where threads have nice values of their own (Linux), this one gives way to the threads serving requests: on a
// busy machine the fetch takes longer rather than the requests.
let tid;
try {
  tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
  if (!Number.isInteger(tid) || tid <= 0 || tid === process.pid) tid = undefined;
} catch {
  // No /proc: not Linux.
}
if (tid !== undefined) {
  try {
    const os = require('node:os');
    os.setPriority(tid, Math.max(os.getPriority(tid), ${WORKER_NICE}));
  } catch {
    // Not allowed: the thread keeps the process's priority.
  }
}
// SCHED_IDLE (see DecodePriority), which Node has no call for: util-linux's chrt sets it. Where it cannot (not
// Linux, no chrt, not allowed), the thread keeps the nice value above, and the event loop is told why.
if (workerData && workerData.idle) {
  const refused = (reason) => parentPort.postMessage({ idleRefused: reason });
  if (tid === undefined) {
    refused('threads have no scheduling policy of their own on ' + process.platform);
  } else {
    require('node:child_process').execFile('chrt', ['-i', '-p', '0', String(tid)], { timeout: ${CHRT_TIMEOUT_MS}, windowsHide: true }, (error, stdout, stderr) => {
      if (!error) return;
      refused(error.code === 'ENOENT' ? 'chrt is not installed (it comes with util-linux)' : 'chrt failed: ' + (String(stderr).trim() || error.message));
    });
  }
}
const ROW_FIELDS = ${ROW_FIELDS};
let chunks = [];
let iterator;
// The last body decoded to its end, for the next (see reusable): its text, and for each instance listed (by its
// number in that body) where its text is, and the two values of its leaseInfo that its row holds, raw. When it
// came compressed, also its bytes as they came (\`head.raw\`, see again), its header, how many instances it
// numbered and why the others did not decode.
let listedBefore;
let credit = 0;
let answers;
parentPort.on('message', (message) => {
  if (typeof message === 'number') {
    credit += message;
    pump();
  } else if (message.chunks !== undefined) {
    for (const chunk of message.chunks) chunks.push(chunk);
  } else {
    answers = message.answers;
    start(message.perSlice, message.now, message.encoding, message.maxBytes, message.list, message.skipUnchanged);
  }
});
// An answer goes on the body's own port, which the event loop reads one message at a time when it is ready for
// it; the wake-up on the worker's port (a number, nothing to decode) tells it one is there.
function answer(value) {
  answers.postMessage(value);
  parentPort.postMessage(0);
}
function start(perSlice, now, encoding, maxBytes, list, skipUnchanged) {
  let root;
  let body;
  let raw;
  try {
    body = Buffer.concat(chunks);
    chunks = [];
    const before = listedBefore;
    const same = before !== undefined && before.head.raw !== undefined && before.head.encoding === encoding;
    if (same && before.head.bytes <= maxBytes && before.head.raw.equals(body)) {
      const { versionsDelta, appsHashcode } = before.head;
      credit = 0;
      if (skipUnchanged) {
        // The event loop holds what it made of that body: nothing to send, and its listing stays for the next.
        answer({ versionsDelta, appsHashcode, length: before.source.length, unchanged: true });
        iterator = undefined;
        return;
      }
      answer({ versionsDelta, appsHashcode, length: before.source.length });
      iterator = again(before, perSlice, list);
      return;
    }
    raw = body;
    if (encoding !== undefined) {
      const options = { maxOutputLength: maxBytes, chunkSize: ${INFLATE_CHUNK_BYTES} };
      body = encoding === 'gzip' ? zlib.gunzipSync(body, options) : zlib.inflateSync(body, options);
    } else if (body.length > maxBytes) {
      throw Object.assign(new RangeError('too large'), { code: 'ERR_BUFFER_TOO_LARGE' });
    }
  } catch (error) {
    answer(error && error.code === 'ERR_BUFFER_TOO_LARGE'
      ? { tooLarge: true }
      : { error: 'not valid ' + encoding + ': ' + (error && error.message) });
    return;
  } finally {
    chunks = [];
  }
  let source;
  let layout;
  const bytes = body.length;
  try {
    source = body.toString('utf8');
    body = undefined;
    layout = split(source);
    const doc = layout === undefined ? JSON.parse(source) : layout.doc;
    root = core.isRecord(doc) && core.isRecord(doc.applications) ? doc.applications : undefined;
  } catch (error) {
    answer({ error: 'not JSON: ' + (error && error.message) });
    return;
  }
  if (root === undefined) {
    answer({ error: 'response has no "applications" object' });
    return;
  }
  const head = { versionsDelta: core.text(root.versions__delta) ?? '', appsHashcode: core.text(root.apps__hashcode) ?? '' };
  answer({ ...head, length: source.length });
  credit = 0;
  // Listed for the next body only when the worker will be kept for it.
  let listing;
  if (list && source.length <= ${KEEP_WORKER_MAX_BYTES}) {
    const kept = { ...head, raw: encoding === undefined ? undefined : raw, encoding, bytes };
    listing = { source, ids: new Map(), spans: [], leases: [], head: kept, count: 0, errors: [] };
  }
  iterator = slices(root, perSlice, now, source, layout, listing);
}
// The slices of a body that came as the very bytes of the one before, compressed (a Eureka server answers from a
// cache of its compressed registry while the registry does not change): each instance by its number there, and
// the reasons the others did not decode, as they were.
function* again(before, perSlice, list) {
  listedBefore = undefined;
  let n = 0;
  do {
    const rows = [];
    const end = Math.min(before.count, n + perSlice);
    for (let k = n; k < end; k++) rows.push(-1 - k);
    yield { rows, shared: [], errors: n === 0 ? before.errors : [], count: end - n };
    n = end;
  } while (n < before.count);
  if (list) listedBefore = before;
}
// Where the applications of {"applications": {"application": [...]}} are in the text, so that each is parsed
// when its rows are due and the first rows go out after a scan of the text rather than a parse of all of it.
// The objects of any array two objects deep are cut out and parsed apart; what is left, each of them replaced
// by {}, is parsed as the document (so it is checked as JSON: a value replaced by another keeps it valid or
// not). Undefined when the text is not in that shape: then it is parsed whole. Within each application, where
// the objects of its arrays are (its instances, see reusable): \`instances\` holds their starts and ends, and
// \`ranges\`, for the application at spans[k], the part of \`instances\` that is its own (from ranges[k] to
// ranges[k + 1]).
function split(source) {
  const spans = [];
  const instances = [];
  const ranges = [];
  const stack = [];
  let start = -1;
  let instanceStart = -1;
  let first = 0;
  const n = source.length;
  let i = 0;
  while (i < n) {
    const c = source.charCodeAt(i);
    if (c === 34) {
      // A string: to its closing quote, one not escaped by an odd run of backslashes.
      let end = source.indexOf('"', i + 1);
      while (end > 0 && source.charCodeAt(end - 1) === 92) {
        let k = end - 1;
        while (source.charCodeAt(k) === 92) k--;
        if ((end - 1 - k) % 2 === 0) break;
        end = source.indexOf('"', end + 1);
      }
      if (end < 0) return undefined;
      i = end + 1;
      continue;
    }
    if (c === 123 || c === 91) {
      if (c === 123 && stack.length === 3 && stack[0] === 123 && stack[1] === 123 && stack[2] === 91) {
        start = i;
        first = instances.length;
      } else if (c === 123 && start >= 0 && stack.length === 5 && stack[3] === 123 && stack[4] === 91) {
        instanceStart = i;
      }
      stack.push(c);
    } else if (c === 125 || c === 93) {
      stack.pop();
      if (instanceStart >= 0 && stack.length === 5) {
        instances.push(instanceStart, i + 1);
        instanceStart = -1;
      } else if (start >= 0 && stack.length === 3) {
        spans.push(start, i + 1);
        ranges.push(first, instances.length);
        start = -1;
      }
    }
    i++;
  }
  if (spans.length === 0) return undefined;
  const parts = [];
  let at = 0;
  for (let k = 0; k < spans.length; k += 2) {
    parts.push(source.slice(at, spans[k]), '{}');
    at = spans[k + 1];
  }
  parts.push(source.slice(at));
  let doc;
  try {
    doc = JSON.parse(parts.join(''));
  } catch {
    return undefined;
  }
  // Every object cut out must be an application of the list, in order; anything else is parsed whole.
  const list = core.isRecord(doc) && core.isRecord(doc.applications) ? doc.applications.application : undefined;
  if (!Array.isArray(list)) return undefined;
  let objects = 0;
  for (const entry of list) if (core.isRecord(entry)) objects++;
  return objects * 2 === spans.length ? { doc, spans, instances, ranges } : undefined;
}
function* slices(root, perSlice, now, source, layout, listed) {
  let shared = [];
  let next = 0;
  const intern = (table, key, value) => {
    let at = table.get(key);
    if (at === undefined) {
      table.set(key, (at = next++));
      shared.push(value);
    }
    return at;
  };
  const strings = new Map();
  const text = (value) => intern(strings, value, value);
  // The instances of an app share a few metadata maps: one of the last few equal entry for entry is found
  // without making its JSON key, which took about half the time of making the rows.
  const metadataKeys = new Map();
  const recent = [];
  const recentAt = [];
  const metadataRef = (metadata) => {
    for (let k = 0; k < recent.length; k++) if (sameEntries(recent[k], metadata)) return recentAt[k];
    const at = intern(metadataKeys, JSON.stringify(metadata), metadata);
    if (recent.length === ${RECENT_METADATA}) {
      recent.shift();
      recentAt.shift();
    }
    recent.push(metadata);
    recentAt.push(at);
    return at;
  };
  let rows = [];
  let errors = [];
  // An instance whose text is as in the last body (but for its lease's timestamps, see reusable) is sent as its
  // number there, which the event loop maps to the record it made then: a fetch over a held view parses, sends
  // and makes little more than what changed. This body's listing replaces that one once it is decoded to its end.
  const before = listedBefore;
  listedBefore = undefined;
  let number = 0;
  let count = 0;
  const skip = (reason) => {
    errors.push(reason);
    if (listed !== undefined) listed.errors.push(reason);
  };
  for (const decoded of decodedInstances(root, now, source, layout, before, skip)) {
    if (decoded === REUSED) {
      rows.push(-1 - reused.number);
      if (listed !== undefined) list(listed, reused.id, number);
    } else {
      const i = decoded.instance;
      const deleted = decoded.actionType === 'DELETED';
      rows.push(
        i.instanceId, text(i.app), text(i.vipAddress), text(i.secureVipAddress), i.hostName, i.ipAddr, i.port,
        portFlags(i) | (deleted ? ${DELETED} : 0), i.securePort, text(i.zone), metadataRef(i.metadata), i.homePageUrl, i.statusPageUrl,
        i.healthCheckUrl, i.leaseRenewalIntervalMs, i.leaseDurationMs, text(i.status), text(i.overriddenStatus), i.lastUpdatedTimestamp,
        i.lastDirtyTimestamp,
      );
      if (listed !== undefined && !deleted && reused.start >= 0) list(listed, i.instanceId, number);
    }
    number++;
    if (++count >= perSlice) {
      yield { rows, shared, errors, count };
      rows = [];
      shared = [];
      errors = [];
      count = 0;
    }
  }
  if (listed !== undefined) {
    listed.count = number;
    listedBefore = listed;
  }
  if (count > 0 || errors.length > 0) yield { rows, shared, errors, count };
}
// What decodedInstances yields for an instance as in the body before; \`reused\` says which. For every instance,
// reused.start and reused.end are where its text is (-1 where the layout did not tell), and lease1 and lease2
// its leaseInfo's renewalIntervalInSecs and durationInSecs, raw.
const REUSED = {};
const reused = { number: -1, id: '', start: -1, end: -1, lease1: undefined, lease2: undefined };
// The decoded instances of a body, in order (or REUSED); \`skip\` gets why each other did not decode. With a
// listing of the body before, an application is parsed with its instances cut out, and each instance apart
// unless its text is as it was (see reusable).
function* decodedInstances(root, now, source, layout, before, skip) {
  const spans = layout === undefined ? [] : layout.spans;
  let span = 0;
  for (let application of core.list(root.application)) {
    let from = 0;
    let to = 0;
    let start = 0;
    let end = 0;
    let apart = false;
    if (spans.length > 0 && core.isRecord(application)) {
      start = spans[span];
      end = spans[span + 1];
      from = layout.ranges[span];
      to = layout.ranges[span + 1];
      span += 2;
      apart = before !== undefined && to > from;
      application = JSON.parse(apart ? cutOut(source, start, end, layout.instances, from, to) : source.slice(start, end));
    }
    if (!core.isRecord(application)) {
      skip('an application entry is not an object');
      continue;
    }
    let list = core.list(application.instance);
    // Where each instance's text is, when the application's objects are its instances (the same count with them
    // cut out or not).
    const located = to > from && records(list) * 2 === to - from;
    if (apart && !located) {
      // Objects of an array other than the instances were cut out too: parsed whole after all.
      application = JSON.parse(source.slice(start, end));
      list = core.list(application.instance);
      apart = false;
    }
    let at = from;
    for (let raw of list) {
      reused.start = -1;
      reused.end = -1;
      if (located && core.isRecord(raw)) {
        reused.start = layout.instances[at];
        reused.end = layout.instances[at + 1];
        at += 2;
        if (apart) {
          if (reusable(before, source)) {
            yield REUSED;
            continue;
          }
          raw = JSON.parse(source.slice(reused.start, reused.end));
        }
      }
      let decoded;
      try {
        decoded = core.decodeInstance(raw, now);
      } catch (error) {
        skip((core.text(application.name) ?? '?') + ': ' + error.message);
        continue;
      }
      const lease = core.isRecord(raw.leaseInfo) ? raw.leaseInfo : undefined;
      reused.lease1 = lease === undefined ? undefined : lease.renewalIntervalInSecs;
      reused.lease2 = lease === undefined ? undefined : lease.durationInSecs;
      yield decoded;
    }
  }
}
// How many of the values of a list (or the one value) are objects.
function records(value) {
  let n = 0;
  for (const item of core.list(value)) if (core.isRecord(item)) n++;
  return n;
}
// The text of an application from start to end with its instances (from to to in \`instances\`) as {}.
function cutOut(source, start, end, instances, from, to) {
  const parts = [];
  let at = start;
  for (let k = from; k < to; k += 2) {
    parts.push(source.slice(at, instances[k]), '{}');
    at = instances[k + 1];
  }
  parts.push(source.slice(at, end));
  return parts.join('');
}
// True when the instance at reused.start..end reads as one of the body before: the same text, or the same but
// for its leaseInfo, whose renewalIntervalInSecs and durationInSecs must be as they were (a Eureka server moves the
// lease's timestamps at every renewal; a row holds none of them). Sets reused.number and reused.id then. The
// instance is found by its instanceId, read from the text; the comparison of the texts is what proves it the
// same, so an instance the text does not give an id for (an id with an escape, or none) is decoded instead.
// Text kept equal to valid JSON, and a leaseInfo that parses alone, keep the body valid JSON: nothing is skipped.
function reusable(before, source) {
  const text = source.slice(reused.start, reused.end);
  const key = text.indexOf('"instanceId":"');
  if (key < 0) return false;
  const idEnd = text.indexOf('"', key + 14);
  if (idEnd < 0) return false;
  const id = text.slice(key + 14, idEnd);
  if (id.includes('\\\\')) return false;
  const n = before.ids.get(id);
  if (n === undefined) return false;
  const was = before.source.slice(before.spans[2 * n], before.spans[2 * n + 1]);
  if (text !== was) {
    const lease = text.indexOf('"leaseInfo":{');
    const leaseWas = was.indexOf('"leaseInfo":{');
    if (lease < 0 || lease !== leaseWas) return false;
    const leaseEnd = text.indexOf('}', lease);
    const leaseEndWas = was.indexOf('}', leaseWas);
    if (leaseEnd < 0 || leaseEndWas < 0 || text.slice(0, lease) !== was.slice(0, lease) || text.slice(leaseEnd) !== was.slice(leaseEndWas)) return false;
    let parsed;
    try {
      parsed = JSON.parse(text.slice(lease + 12, leaseEnd + 1));
    } catch {
      return false;
    }
    if (!core.isRecord(parsed) || parsed.renewalIntervalInSecs !== before.leases[2 * n] || parsed.durationInSecs !== before.leases[2 * n + 1]) return false;
  }
  reused.number = n;
  reused.id = id;
  reused.lease1 = before.leases[2 * n];
  reused.lease2 = before.leases[2 * n + 1];
  return true;
}
// The row's bits for the ports an instance enables.
function portFlags(i) {
  return (i.portEnabled ? ${PORT_ENABLED} : 0) | (i.securePortEnabled ? ${SECURE_PORT_ENABLED} : 0);
}
// Lists instance \`number\` of this body, just decoded or reused, by its id (see listedBefore).
function list(listed, id, number) {
  listed.ids.set(id, number);
  listed.spans[2 * number] = reused.start;
  listed.spans[2 * number + 1] = reused.end;
  listed.leases[2 * number] = reused.lease1;
  listed.leases[2 * number + 1] = reused.lease2;
}
// Decoded metadata maps have their own keys only (see decodeMetadata).
function sameEntries(a, b) {
  let count = 0;
  for (const key in a) {
    if (a[key] !== b[key]) return false;
    count++;
  }
  for (const key in b) count--;
  return count === 0;
}
function pump() {
  while (credit > 0 && iterator !== undefined) {
    let next;
    try {
      next = iterator.next();
    } catch (error) {
      // An application cut out of the text that is not JSON: the body is not.
      iterator = undefined;
      answer({ error: 'not JSON: ' + (error && error.message) });
      return;
    }
    if (next.done) {
      iterator = undefined;
      answer({ done: true });
    } else {
      credit--;
      answer({ slice: next.value });
    }
  }
}
`;

/** A slice as the worker sends it. */
interface WorkerSlice {
  /** Rows, and the numbers (as -1 - n) of the instances decoded as instance n of the body before. */
  readonly rows: readonly (string | number)[];
  /** How many instances the slice lists. */
  readonly count: number;
  readonly shared: readonly (string | Record<string, string>)[];
  readonly errors: readonly string[];
}

interface WorkerAnswer {
  readonly error?: string;
  /** The body decompressed to more than the limit. */
  readonly tooLarge?: boolean;
  readonly versionsDelta?: string;
  readonly appsHashcode?: string;
  /** The length of the body's text. */
  readonly length?: number;
  readonly slice?: WorkerSlice;
  readonly done?: boolean;
  /** The body was the very bytes of the last one decoded to its end, and skipUnchanged was asked: no slices follow. */
  readonly unchanged?: boolean;
}

function protocolError(message: string): KaryonError {
  return new KaryonError('ERR_EUREKA_PROTOCOL', message);
}

/** A body over `maxResponseBytes` once decompressed: as the transport says it of the other answers. */
function tooLarge(maxBytes: number): KaryonError {
  return new KaryonError('ERR_REGISTRY_UNAVAILABLE', `response is larger than maxResponseBytes (${maxBytes})`);
}

/** How a body arrived. */
export interface BodyCoding {
  /** How the chunks are compressed, undefined when they are not. */
  readonly encoding?: ContentCoding | undefined;
  /** The most bytes the body may have once decompressed. */
  readonly maxBytes: number;
}

/** How {@link SliceDecoder.decode} reads a body. */
export interface DecodeOptions extends BodyCoding {
  /**
   * When the body comes compressed as the very bytes of the last one decoded to its end (by a kept worker), decode
   * none of it and answer `unchanged`: for a caller that still holds, as they were, the records it made of that one.
   */
  readonly skipUnchanged?: boolean;
}

/** Decompresses a small body on the event loop. */
function inflateHere(body: Buffer, { encoding, maxBytes }: BodyCoding): Buffer {
  if (encoding === undefined) {
    if (body.length > maxBytes) throw tooLarge(maxBytes);
    return body;
  }
  try {
    return encoding === 'gzip' ? gunzipSync(body, { maxOutputLength: maxBytes }) : inflateSync(body, { maxOutputLength: maxBytes });
  } catch (error) {
    throw inflateError(error, encoding, maxBytes);
  }
}

const gunzipAsync = promisify(gunzip);
const inflateAsync = promisify(inflate);

/** Decompresses a body in libuv's thread pool: the event loop only collects the output. */
async function inflateInPool(body: Buffer, encoding: ContentCoding, maxBytes: number): Promise<Buffer> {
  try {
    return await (encoding === 'gzip' ? gunzipAsync(body, { maxOutputLength: maxBytes }) : inflateAsync(body, { maxOutputLength: maxBytes }));
  } catch (error) {
    throw inflateError(error, encoding, maxBytes);
  }
}

function inflateError(error: unknown, encoding: ContentCoding, maxBytes: number): KaryonError {
  if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') return tooLarge(maxBytes);
  return new KaryonError('ERR_EUREKA_PROTOCOL', `the full registry response is not valid ${encoding}: ${errorMessage(error)}`, { cause: error });
}

/**
 * One buffer of `chunks`, sent to the worker by moving its memory when it owns all of it (no copy), else
 * copied.
 */
function post(worker: Worker, chunks: readonly Buffer[], bytes: number): void {
  const joined = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, bytes);
  const whole = joined.byteOffset === 0 && joined.byteLength === joined.buffer.byteLength && chunks.length > 1;
  if (whole) worker.postMessage({ chunks: [joined] }, [joined.buffer as ArrayBuffer]);
  else worker.postMessage({ chunks: [joined] });
}

/** The ids of this process's threads (Linux), undefined where they cannot be listed. */
function threadIds(): Set<string> | undefined {
  try {
    return new Set(readdirSync('/proc/self/task'));
  } catch {
    return undefined;
  }
}

/**
 * Makes the worker and lowers its thread's priority at once, rather than when its own code runs (it does that
 * too) after the 25 ms or so its start takes, competing with the event loop meanwhile. The thread is the one
 * that `start` added to the process; when that cannot be told (no list of threads, or more than one added),
 * only the worker's own code lowers it.
 */
function startAtLowPriority(start: () => Worker): Worker {
  const before = threadIds();
  const worker = start();
  const added = before === undefined ? [] : [...(threadIds() ?? [])].filter((tid) => !before.has(tid));
  if (added.length === 1) {
    try {
      const tid = Number(added[0]);
      setPriority(tid, Math.max(getPriority(tid), WORKER_NICE));
    } catch {
      // Not allowed, or the thread ended already.
    }
  }
  return worker;
}

/**
 * The CPU priority of the thread that decodes large bodies, on Linux (elsewhere it has the process's).
 * - `low`: nice 10, about a tenth of a core the event loop also wants. A thread woken on a CPU the decoder holds
 *   may still wait for the decoder's time slice to end, up to a scheduler tick (4 ms at 250 Hz).
 * - `idle`: SCHED_IDLE besides (set with util-linux's `chrt`, which runs once per new decoding thread): the
 *   decoder gives way at once to any other thread that wants the CPU, and takes only what is left over. Where
 *   the service's threads keep every core busy, a fetch then waits until they do not.
 */
export type DecodePriority = 'low' | 'idle';

/** How a {@link SliceDecoder} keeps its worker. */
export interface SliceDecoderOptions {
  /**
   * How long a worker that decoded a body (of up to about 30,000 instances) waits for the next before it stops;
   * 0 (the default) stops it at once.
   */
  readonly keepWorkerMs?: number;
  /** The clock of that wait. */
  readonly clock?: Clock;
  /** The CPU priority of the decoding thread: `low` (the default) or `idle`. */
  readonly priority?: DecodePriority;
  /** Called with the reason when a new decoding thread could not be put in SCHED_IDLE (`priority: 'idle'`). */
  readonly onIdleRefused?: (reason: string) => void;
}

/**
 * Decodes `{"applications": ...}` bodies, given as the chunks they arrived in, slice by slice: off the event loop
 * for large ones (see above). One body at a time.
 */
export class SliceDecoder {
  #worker: Worker | undefined;
  #closed = false;
  readonly #keepWorkerMs: number;
  readonly #clock: Clock;
  readonly #priority: DecodePriority;
  readonly #onIdleRefused: ((reason: string) => void) | undefined;
  /** Stops the worker kept after a body, unless another comes first. */
  #idle: ClockTimer | undefined;
  /** What each instance of the last body the kept worker decoded became, in the order of the body. */
  #listedBefore: Listed[] | undefined;

  /** @param options - whether and how long the worker is kept between bodies */
  constructor(options: SliceDecoderOptions = {}) {
    this.#keepWorkerMs = options.keepWorkerMs ?? 0;
    this.#clock = options.clock ?? systemClock;
    this.#priority = options.priority ?? 'low';
    this.#onIdleRefused = options.onIdleRefused;
  }

  /** @internal The id of the worker's thread while there is one (for tests). */
  get workerThreadId(): number | undefined {
    return this.#worker?.threadId;
  }

  /**
   * The header of the body, then its instances a slice at a time. The body's worker stops when the slice
   * iterator ends, is left before its end, or fails.
   * @param coding - how the chunks are compressed, and the limit of the body once decompressed (none by default)
   * @throws KaryonError ERR_EUREKA_PROTOCOL when the body is not JSON, not an applications document or not
   * decompressed; ERR_REGISTRY_UNAVAILABLE when it is larger than `coding.maxBytes` once decompressed.
   */
  async decode(
    chunks: readonly Buffer[],
    now: number,
    signal: AbortSignal,
    compact: CompactRecord,
    coding: DecodeOptions = { maxBytes: Number.MAX_SAFE_INTEGER },
  ): Promise<SlicedApplications> {
    if (signal.aborted) throw abortReason(signal);
    let size = 0;
    for (const chunk of chunks) size += chunk.length;
    let encoding = coding.encoding;
    if (encoding !== undefined && (size < WORKER_MIN_COMPRESSED_BYTES || this.#closed)) {
      // Small: decompressed here (from a few KB, in libuv's thread pool: 64 KB of gzip take a few ms to undo),
      // then decoded by its size like any other body.
      const packed = Buffer.concat(chunks, size);
      const body = size < POOL_INFLATE_MIN_BYTES ? inflateHere(packed, coding) : await inflateInPool(packed, encoding, coding.maxBytes);
      if (signal.aborted) throw abortReason(signal);
      chunks = [body];
      size = body.length;
      encoding = undefined;
    }
    if (encoding === undefined && size > coding.maxBytes) throw tooLarge(coding.maxBytes);
    if (encoding === undefined && (size < SLICED_DECODE_MIN_BYTES || this.#closed)) {
      return whole(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size), now, compact);
    }
    let worker: Worker;
    this.#keepNoLonger();
    try {
      worker = this.#worker ?? this.#start();
    } catch {
      // No worker threads here (a restricted runtime): decode at once.
      return whole(inflateHere(Buffer.concat(chunks, size), { encoding, maxBytes: coding.maxBytes }), now, compact);
    }
    // The worker's answers wait on a port of their own until the loop below takes them one at a time (decoding
    // each as it is taken, within the slice budget): the messages of a port with a listener are all decoded and
    // dispatched in one task, a block as long as the worker is ahead. The worker's own port only wakes the loop.
    const { port1: answers, port2 } = new MessageChannel();
    let failure: Error | undefined;
    let wake: (() => void) | undefined;
    const nudge = (): void => {
      const resume = wake;
      wake = undefined;
      resume?.();
    };
    const onMessage = (): void => nudge();
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
    // What the instances of the body before became (a worker kept after it lists those decoded the same way by
    // their number there), and what those of this body become.
    const before = this.#listedBefore;
    this.#listedBefore = undefined;
    let listed: Listed[] = [];
    /**
     * Ends this body. The worker is kept for the next when it decoded all of a body small enough, else stopped
     * (its heap goes with it).
     */
    const end = (keep = false): void => {
      signal.removeEventListener('abort', onAbort);
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
      answers.close();
      if (keep && this.#keepWorkerMs > 0 && this.#worker === worker) {
        this.#idle = this.#clock.setTimeout(() => this.#stop(worker), this.#keepWorkerMs).unref();
        this.#listedBefore = listed;
      } else {
        this.#stop(worker);
      }
    };
    /** When the event loop last came back to this body's work: waiting for the worker let it run what waited. */
    let taskStart = performance.now();
    const next = async (): Promise<WorkerAnswer> => {
      for (;;) {
        if (failure !== undefined) throw failure;
        const received = receiveMessageOnPort(answers) as { message: WorkerAnswer } | undefined;
        if (received !== undefined) return received.message;
        await new Promise<void>((resolve) => (wake = resolve));
        taskStart = performance.now();
      }
    };
    let head: WorkerAnswer;
    try {
      // The body goes over a few MB per message (each its own task), then the worker joins, decompresses and
      // parses it.
      let batch: Buffer[] = [];
      let batchBytes = 0;
      for (const chunk of chunks) {
        batch.push(chunk);
        batchBytes += chunk.length;
        if (batchBytes >= HANDOVER_BYTES) {
          post(worker, batch, batchBytes);
          batch = [];
          batchBytes = 0;
          await yieldToLoop();
          if (failure !== undefined) throw failure;
        }
      }
      if (batch.length > 0) post(worker, batch, batchBytes);
      const skipUnchanged = coding.skipUnchanged === true && before !== undefined;
      worker.postMessage({ perSlice: INSTANCES_PER_SLICE, now, encoding, maxBytes: coding.maxBytes, list: this.#keepWorkerMs > 0, skipUnchanged, answers: port2 }, [port2]);
      head = await next();
    } catch (error) {
      end();
      throw error;
    }
    if (head.tooLarge === true) {
      end();
      throw tooLarge(coding.maxBytes);
    }
    if (head.error !== undefined) {
      end();
      throw protocolError(`the full registry response is ${head.error}`);
    }
    const keep = (head.length ?? Infinity) <= KEEP_WORKER_MAX_BYTES;
    if (head.unchanged === true && before !== undefined) {
      // The worker kept its listing of that body: so does the event loop, for the next.
      listed = before;
      end(true);
      return { versionsDelta: head.versionsDelta ?? '', appsHashcode: head.appsHashcode ?? '', unchanged: true, slices: [] };
    }
    async function* slices(): AsyncGenerator<DecodedSlice> {
      let decoded = false;
      try {
        worker.postMessage(SLICES_AHEAD);
        const table: (string | Readonly<Record<string, string>>)[] = [];
        taskStart = performance.now();
        for (;;) {
          const answer = await next();
          if (answer.error !== undefined) {
            throw protocolError(`the full registry response is ${answer.error}`);
          }
          if (answer.done === true || answer.slice === undefined) {
            decoded = answer.done === true;
            return;
          }
          const { rows, count, shared, errors } = answer.slice;
          for (const value of shared) table.push(typeof value === 'string' ? value : Object.freeze(value));
          const entries = fromRows(rows, table, compact, errors as string[], before, listed);
          worker.postMessage(1);
          yield { entries, decoded: count, errors };
          // What waits on the event loop runs once the slices handled since the last yield have used the budget.
          if (performance.now() - taskStart >= SLICE_BUDGET_MS) {
            await yieldToLoop();
            taskStart = performance.now();
          }
        }
      } finally {
        end(decoded && keep);
      }
    }
    return { versionsDelta: head.versionsDelta ?? '', appsHashcode: head.appsHashcode ?? '', slices: slices() };
  }

  /** Stops the worker; later bodies are decoded at once. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#keepNoLonger();
    if (this.#worker !== undefined) this.#stop(this.#worker);
  }

  /** Starts the decoder's worker. */
  #start(): Worker {
    // No loader flags of the process (e.g. --import tsx): the worker's code is plain CommonJS.
    const idle = this.#priority === 'idle';
    const made = startAtLowPriority(() => new Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData: { idle } }));
    made.unref();
    if (idle) {
      made.on('message', (message: unknown) => {
        const reason = (message as { idleRefused?: unknown } | null)?.idleRefused;
        if (typeof reason === 'string') this.#onIdleRefused?.(reason);
      });
    }
    made.once('exit', () => {
      if (this.#worker === made) this.#worker = undefined;
    });
    this.#worker = made;
    return made;
  }

  /** Stops `worker` (its heap goes with it), and forgets it when it is the decoder's. */
  #stop(worker: Worker): void {
    if (this.#worker === worker) {
      this.#worker = undefined;
      this.#listedBefore = undefined;
    }
    void worker.terminate();
  }

  /** Cancels the wait after which a kept worker stops. */
  #keepNoLonger(): void {
    this.#idle?.clear();
    this.#idle = undefined;
  }
}

/** Decodes a small body at once, presented as one slice. */
function whole(body: Buffer, now: number, compact: CompactRecord): SlicedApplications {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new KaryonError('ERR_EUREKA_PROTOCOL', `the full registry response is not JSON: ${errorMessage(error)}`, { cause: error });
  }
  const decoded = decodeApplications(parsed, now);
  const entries: (RegistryInstance | Deletion)[] = [];
  const errors = [...decoded.errors];
  for (const { instance, actionType } of decoded.instances) {
    if (actionType === 'DELETED') entries.push(new Deletion(instance.app, instance.instanceId));
    else addRecord(instance, compact, entries, errors);
  }
  return { versionsDelta: decoded.versionsDelta, appsHashcode: decoded.appsHashcode, slices: [{ entries, decoded: decoded.instances.length, errors }] };
}

/** Adds the record of `instance` to `entries`, or why `compact` refused it to `errors`; returns which. */
function addRecord(instance: RegistryInstance, compact: CompactRecord, entries: (RegistryInstance | Deletion)[], errors: string[]): Listed {
  try {
    const record = compact(instance);
    entries.push(record);
    return record;
  } catch (error) {
    const reason = `${instance.app}: ${errorMessage(error)}`;
    errors.push(reason);
    return reason;
  }
}

/** A mutable record, refilled from each row: only `compact` sees it, and keeps none of it but its values. */
type Cursor = { -readonly [K in keyof RegistryInstance]: RegistryInstance[K] };

/** What an instance of a body became: its record, its deletion, or why `compact` refused it. */
type Listed = RegistryInstance | Deletion | string;

/**
 * The records of a slice's rows (see the worker's code for their layout); `errors` gets the compaction failures.
 * An instance listed by its number in the body before gets what it became then, from `before`; `listed` gets
 * what each instance of the slice becomes.
 */
function fromRows(
  rows: readonly (string | number)[],
  table: readonly (string | Readonly<Record<string, string>>)[],
  compact: CompactRecord,
  errors: string[],
  before: readonly Listed[] | undefined,
  listed: Listed[],
): (RegistryInstance | Deletion)[] {
  const entries: (RegistryInstance | Deletion)[] = [];
  const cursor: Cursor = {
    instanceId: '',
    app: '',
    vipAddress: '',
    secureVipAddress: '',
    hostName: '',
    ipAddr: '',
    port: 0,
    portEnabled: true,
    securePort: 0,
    securePortEnabled: false,
    zone: '',
    metadata: {},
    homePageUrl: '',
    statusPageUrl: '',
    healthCheckUrl: '',
    leaseRenewalIntervalMs: 0,
    leaseDurationMs: 0,
    status: 'UP',
    overriddenStatus: 'UNKNOWN',
    lastUpdatedTimestamp: 0,
    lastDirtyTimestamp: 0,
  };
  for (let at = 0; at < rows.length; at += ROW_FIELDS) {
    const first = rows[at]!;
    if (typeof first === 'number') {
      // Decoded as in the body before: what it became then (records are immutable).
      const was = before?.[-1 - first];
      if (was === undefined) throw new Error(`the decoding worker referred to instance ${-1 - first} of a body it does not share`);
      if (typeof was === 'string') errors.push(was);
      else entries.push(was);
      listed.push(was);
      at += 1 - ROW_FIELDS;
      continue;
    }
    const flags = rows[at + 7] as number;
    cursor.instanceId = first;
    cursor.app = table[rows[at + 1] as number] as string;
    if ((flags & DELETED) !== 0) {
      const deletion = new Deletion(cursor.app, cursor.instanceId);
      entries.push(deletion);
      listed.push(deletion);
      continue;
    }
    cursor.vipAddress = table[rows[at + 2] as number] as string;
    cursor.secureVipAddress = table[rows[at + 3] as number] as string;
    cursor.hostName = rows[at + 4] as string;
    cursor.ipAddr = rows[at + 5] as string;
    cursor.port = rows[at + 6] as number;
    cursor.portEnabled = (flags & PORT_ENABLED) !== 0;
    cursor.securePortEnabled = (flags & SECURE_PORT_ENABLED) !== 0;
    cursor.securePort = rows[at + 8] as number;
    cursor.zone = table[rows[at + 9] as number] as string;
    cursor.metadata = table[rows[at + 10] as number] as Readonly<Record<string, string>>;
    cursor.homePageUrl = rows[at + 11] as string;
    cursor.statusPageUrl = rows[at + 12] as string;
    cursor.healthCheckUrl = rows[at + 13] as string;
    cursor.leaseRenewalIntervalMs = rows[at + 14] as number;
    cursor.leaseDurationMs = rows[at + 15] as number;
    cursor.status = table[rows[at + 16] as number] as InstanceStatus;
    cursor.overriddenStatus = table[rows[at + 17] as number] as InstanceStatus;
    cursor.lastUpdatedTimestamp = rows[at + 18] as number;
    cursor.lastDirtyTimestamp = rows[at + 19] as number;
    listed.push(addRecord(cursor, compact, entries, errors));
  }
  return entries;
}
