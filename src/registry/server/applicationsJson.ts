/**
 * One instance already encoded as JSON bytes, with the app it belongs to. The bytes are kept from one payload
 * to the next; what changes on every renewal, `lastRenewalTimestamp`, is written in between them as the
 * payload is assembled, so an instance that only renewed is not encoded again.
 */
export interface InstanceJson {
  /** The app name, upper case. */
  readonly app: string;
  /** The instance's JSON (`JSON.stringify` of its wire form), or with `renewal` the part before its renewal field. */
  readonly head: Uint8Array;
  /** With `renewal`, the part after the renewal field; empty without. */
  readonly tail: Uint8Array;
  /**
   * `lastRenewalTimestamp`, written between head and tail as `"lastRenewalTimestamp":<renewal>`; undefined when
   * `head` is whole. The server's cached pieces set it just before a payload is assembled (no object per
   * instance and payload, which at 100,000 instances was garbage enough to cost a collection per payload).
   */
  renewal: number | undefined;
}

const renewalField = '"lastRenewalTimestamp":';
const renewalFieldBytes = Buffer.from(renewalField);
const comma = 0x2c;
const allocUnsafe = (size: number): Buffer => Buffer.allocUnsafe(size);

/**
 * `JSON.stringify(encodeApplications(...))` assembled from instances encoded beforehand, as bytes: the same
 * bytes (a test holds the two together), but an instance that did not change since the last payload is not
 * encoded again, which is most of the cost of a delta or a full fetch built after every change. The payload
 * is measured first and then written into one buffer from `allocate`, piece by piece: its cost is one copy of
 * its bytes, with no string of the whole registry built, joined or encoded on the way.
 */
export function applicationsJson(
  instances: Iterable<InstanceJson>,
  versionsDelta: string | number,
  hashcode: string,
  allocate: (size: number) => Buffer = allocUnsafe,
): Buffer {
  const byApp = new Map<string, InstanceJson[]>();
  for (const instance of instances) {
    const list = byApp.get(instance.app);
    if (list === undefined) byApp.set(instance.app, [instance]);
    else list.push(instance);
  }
  const head = Buffer.from(
    `{"applications":{"versions__delta":${JSON.stringify(String(versionsDelta))},"apps__hashcode":${JSON.stringify(hashcode)},"application":[`,
  );
  const tail = Buffer.from(']}}');
  const apps = [...byApp].map(([name, list]) => ({ open: Buffer.from(`{"name":${JSON.stringify(name)},"instance":[`), list }));
  const close = Buffer.from(']}');
  let size = head.length + tail.length + Math.max(0, apps.length - 1);
  for (const { open, list } of apps) size += open.length + close.length + instancesLength(list);
  const target = allocate(size);
  let offset = head.copy(target, 0);
  apps.forEach(({ open, list }, index) => {
    if (index > 0) target[offset++] = comma;
    offset += open.copy(target, offset);
    offset = writeInstances(target, offset, list);
    offset += close.copy(target, offset);
  });
  tail.copy(target, offset);
  return target;
}

/** `{"application":{"name":...,"instance":[...]}}` (`GET /apps/{APP}`) assembled the same way. */
export function applicationJson(name: string, instances: readonly InstanceJson[], allocate: (size: number) => Buffer = allocUnsafe): Buffer {
  const head = Buffer.from(`{"application":{"name":${JSON.stringify(name)},"instance":[`);
  const tail = Buffer.from(']}}');
  const target = allocate(head.length + instancesLength(instances) + tail.length);
  const offset = writeInstances(target, head.copy(target, 0), instances);
  tail.copy(target, offset);
  return target;
}

/** Bytes of the instances joined by commas. */
function instancesLength(list: readonly InstanceJson[]): number {
  let size = Math.max(0, list.length - 1);
  for (let i = 0; i < list.length; i++) {
    const { head, tail, renewal } = list[i] as InstanceJson;
    size += head.length + tail.length;
    if (renewal !== undefined) size += renewalFieldBytes.length + numberLength(renewal);
  }
  return size;
}

function writeInstances(target: Buffer, start: number, list: readonly InstanceJson[]): number {
  let offset = start;
  for (let i = 0; i < list.length; i++) {
    if (i > 0) target[offset++] = comma;
    // Whole-array set() calls and digits written by hand: Buffer#copy of a range and Buffer#write each cost an
    // allocation or a call into C++, which at 100,000 instances was most of the payload's cost.
    const { head, tail, renewal } = list[i] as InstanceJson;
    target.set(head, offset);
    offset += head.length;
    if (renewal === undefined) continue;
    target.set(renewalFieldBytes, offset);
    offset = writeNumber(target, offset + renewalFieldBytes.length, renewal);
    target.set(tail, offset);
    offset += tail.length;
  }
  return offset;
}

/** Whether a number is written as its decimal digits alone (a timestamp is): the fast path of the two below. */
const isPlain = (value: number): boolean => Number.isSafeInteger(value) && value >= 0;

/** The length of `JSON.stringify(value)`, without making the string for a timestamp. */
function numberLength(value: number): number {
  if (!isPlain(value)) return JSON.stringify(value).length;
  let digits = 1;
  for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  return digits;
}

/** Writes `JSON.stringify(value)` (ASCII) at `offset`; returns the offset after it. */
function writeNumber(target: Buffer, offset: number, value: number): number {
  if (!isPlain(value)) return offset + target.write(JSON.stringify(value), offset, 'latin1');
  const end = offset + numberLength(value);
  let at = end;
  let rest = value;
  do {
    target[--at] = 0x30 + (rest % 10);
    rest = Math.floor(rest / 10);
  } while (rest > 0);
  return end;
}

/**
 * An instance's JSON split for {@link InstanceJson}: `json` as written with `placeholder` as its renewal,
 * returned as the bytes before and after the renewal field (views of one buffer); undefined when the
 * placeholder is not found exactly once (the caller then encodes the instance whole).
 */
export function splitAtRenewal(json: string, placeholder: number): { readonly head: Uint8Array; readonly tail: Uint8Array } | undefined {
  const field = `${renewalField}${JSON.stringify(placeholder)}`;
  const at = json.indexOf(field);
  if (at < 0 || json.indexOf(field, at + 1) >= 0) return undefined;
  const before = json.slice(0, at);
  const bytes = Buffer.from(before + json.slice(at + field.length));
  const split = Buffer.byteLength(before);
  return { head: bytes.subarray(0, split), tail: bytes.subarray(split) };
}

/** An instance's whole JSON as an {@link InstanceJson} with no renewal to write in. */
export function wholeJson(app: string, json: string): InstanceJson {
  return { app, head: Buffer.from(json), tail: empty, renewal: undefined };
}

const empty = new Uint8Array(0);
