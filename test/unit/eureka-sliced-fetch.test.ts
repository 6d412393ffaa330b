import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createServer } from 'node:http';
import { deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { EurekaRegistry } from 'karyon-ts';
import { InstanceCache } from '../../src/registry/InstanceCache.js';
import { SliceDecoder, SLICED_DECODE_MIN_BYTES } from '../../src/registry/eureka/SliceDecoder.js';
import type { DecodedSlice } from '../../src/registry/eureka/SliceDecoder.js';
import { appsHashcode, decodeApplications, encodeApplications, encodeInstance } from '../../src/registry/eureka/wire.js';
import type { WireInstance } from '../../src/registry/eureka/wire.js';
import type { FetchEvent, RegistryChange, RegistryInstance } from 'karyon-ts';
import { ManualClock, testInstance } from 'karyon-ts/testing';
import { seeded } from '../../bench/support.js';
import { memoryLogger, waitFor } from '../support/logger.js';

// A full fetch of a large registry is decoded on a worker thread and applied in slices that yield to the event
// loop. These tests check that the result is the same as decoding and replacing in one go.

function wire(count: number, apps: number, status = (i: number) => (i % 7 === 0 ? 'DOWN' : 'UP')): WireInstance[] {
  return Array.from({ length: count }, (_, i) => {
    const app = `APP-${i % apps}`;
    const instance = testInstance({ instanceId: `i-${i}`, app, vipAddress: app.toLowerCase(), port: 8000 + (i % 1000), hostName: `h${i}.example` });
    return encodeInstance(instance, status(i), 1_700_000_000_000 + i);
  });
}

function bodyOf(instances: Iterable<WireInstance>, hash = 'UP_1_'): Buffer {
  return Buffer.from(JSON.stringify(encodeApplications(instances, '7', hash)));
}

/** Field `field` (numbered from 1, as in proc(5)) of /proc/self/task/<tid>/stat of each thread of this process (Linux). */
function threadStat(field: number): Map<string, number> {
  return new Map(
    readdirSync('/proc/self/task').flatMap((tid): [string, number][] => {
      try {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        // Fields from the third on follow the command name, which may hold spaces, in parentheses.
        return [[tid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[field - 3])]];
      } catch {
        return []; // a thread that ended meanwhile
      }
    }),
  );
}

/** A server answering every request with `body()`, gzipped, over loopback; its service URL. */
async function serveGzipped(body: () => Buffer): Promise<{ url: string; close: () => void }> {
  const server = createServer((_req, res) => {
    const gzipped = body();
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': gzipped.length });
    res.end(gzipped);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/eureka`, close: () => server.close() };
}

/** The body cut into chunks of `size` bytes, as a response arrives. */
function chunked(body: Buffer, size = 64 * 1024): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < body.length; at += size) chunks.push(body.subarray(at, at + size));
  return chunks;
}

/** Keeps a copy of each decoded record (the decoder reuses the object it passes). */
const copy = (instance: RegistryInstance): RegistryInstance => Object.freeze({ ...instance });

/** A decoder that keeps its worker between bodies, and a `compact` that copies each record, counted in `counter.made`. */
function keptDecoder(): { decoder: SliceDecoder; compact: (instance: RegistryInstance) => RegistryInstance; counter: { made: number } } {
  const counter = { made: 0 };
  const compact = (instance: RegistryInstance): RegistryInstance => {
    counter.made++;
    return copy(instance);
  };
  return { decoder: new SliceDecoder({ keepWorkerMs: 60_000, clock: new ManualClock() }), compact, counter };
}

/** Threads of this process (Linux); elsewhere 0, which every count passes. */
const threads = (): number => (process.platform === 'linux' ? readdirSync('/proc/self/task').length : 0);

async function collect(
  slices: AsyncIterable<DecodedSlice> | Iterable<DecodedSlice>,
): Promise<{ ids: string[]; errors: string[]; count: number; records: RegistryInstance[] }> {
  const ids: string[] = [];
  const records: RegistryInstance[] = [];
  const errors: string[] = [];
  let count = 0;
  for await (const slice of slices) {
    count++;
    for (const entry of slice.entries) if ('status' in entry) records.push(entry);
    for (const entry of slice.entries) ids.push(`${entry.app}/${entry.instanceId}/${'status' in entry ? entry.status : 'DELETED'}`);
    errors.push(...slice.errors);
  }
  return { ids, errors, count, records };
}

describe('SliceDecoder (a large registry parsed off the event loop, decoded a slice at a time)', () => {
  it('keeps the worker for the next body when asked, and stops it after the wait, after a failure or on close', async () => {
    const clock = new ManualClock();
    const decoder = new SliceDecoder({ keepWorkerMs: 60_000, clock });
    const body = bodyOf(wire(3000, 7));
    const signal = new AbortController().signal;
    try {
      const first = await decoder.decode(chunked(body), 0, signal, copy);
      const worker = decoder.workerThreadId;
      expect(worker).toBeGreaterThan(0);
      expect((await collect(first.slices)).ids).toHaveLength(3000);
      // Decoded to its end: the same worker takes the next body, well within the wait.
      expect(decoder.workerThreadId).toBe(worker);
      clock.advance(59_000);
      const second = await decoder.decode(chunked(body, 1000), 0, signal, copy);
      expect(decoder.workerThreadId).toBe(worker);
      expect((await collect(second.slices)).ids).toHaveLength(3000);
      // The wait starts again after each body: stopped once a whole wait passed with no body.
      clock.advance(59_000);
      expect(decoder.workerThreadId).toBe(worker);
      clock.advance(1_000);
      expect(decoder.workerThreadId).toBeUndefined();
      // A body left before its end, or not JSON, stops its worker at once.
      const left = await decoder.decode(chunked(body), 0, signal, copy);
      const third = decoder.workerThreadId;
      expect(third).not.toBe(worker);
      for await (const slice of left.slices) if (slice.entries.length > 0) break;
      expect(decoder.workerThreadId).toBeUndefined();
      const junk = Buffer.from(`{"applications": ${'x'.repeat(SLICED_DECODE_MIN_BYTES)}}`);
      await expect(decoder.decode([junk], 0, signal, copy)).rejects.toThrow(/not JSON/);
      expect(decoder.workerThreadId).toBeUndefined();
      // Kept, then closed: close stops it and its wait.
      await collect((await decoder.decode(chunked(body), 0, signal, copy)).slices);
      expect(decoder.workerThreadId).toBeGreaterThan(0);
      expect(clock.pendingTimers).toBe(1);
    } finally {
      decoder.close();
    }
    expect(decoder.workerThreadId).toBeUndefined();
    expect(clock.pendingTimers).toBe(0);
  });

  it('gives what a kept worker decodes as in the body before the record made for it then, and decodes the rest', async () => {
    type Mutable = { status?: string; metadata?: Record<string, string>; lastUpdatedTimestamp?: string; actionType?: string };
    const first = wire(3000, 7);
    (first[9] as Mutable).metadata = { zone: 'z1', build: '7' };
    (first[12] as Mutable).metadata = { zone: 'z1', build: '7' };
    const second = wire(3000, 7);
    (second[8] as Mutable).status = 'OUT_OF_SERVICE';
    (second[9] as Mutable).metadata = { zone: 'z1', build: '8' };
    // The same metadata in another order: its text changed, so it is decoded again.
    (second[12] as Mutable).metadata = { build: '7', zone: 'z1' };
    (second[13] as Mutable).lastUpdatedTimestamp = '1800000000000';
    // Changed without a change of timestamps.
    (second[14] as { healthCheckUrl: string }).healthCheckUrl += 'x';
    (second[15] as { securePort: unknown }).securePort = { $: 443, '@enabled': 'true' };
    (second[11] as Mutable).actionType = 'DELETED';
    second.splice(10, 1);
    second.push(...wire(3001, 7).slice(3000));
    let made = 0;
    // Refuses one instance, as a port out of range is refused: a reason, not a record.
    const compact = (instance: RegistryInstance): RegistryInstance => {
      made++;
      if (instance.instanceId === 'i-5') throw new Error('refused');
      return copy(instance);
    };
    const decoder = new SliceDecoder({ keepWorkerMs: 60_000, clock: new ManualClock() });
    const signal = new AbortController().signal;
    const byId = (records: RegistryInstance[]): Map<string, RegistryInstance> => new Map(records.map((r) => [r.instanceId, r]));
    try {
      const one = await collect((await decoder.decode(chunked(bodyOf(first)), 5, signal, compact)).slices);
      expect(made).toBe(3000);
      expect(one.errors).toEqual(['APP-5: refused']);
      made = 0;
      const body = bodyOf(second);
      const two = await collect((await decoder.decode(chunked(body), 5, signal, compact)).slices);
      // Only the instances whose text changed or that are new were made into records again.
      expect(made).toBe(7);
      const expected = decodeApplications(JSON.parse(body.toString('utf8')), 5);
      const listed = expected.instances.filter((e) => e.instance.instanceId !== 'i-5');
      expect(two.ids).toEqual(listed.map((e) => `${e.instance.app}/${e.instance.instanceId}/${e.actionType === 'DELETED' ? 'DELETED' : e.instance.status}`));
      expect(two.ids).toContain('APP-4/i-11/DELETED');
      expect(two.records).toEqual(listed.filter((e) => e.actionType !== 'DELETED').map((e) => ({ ...e.instance })));
      expect(two.errors).toEqual(['APP-5: refused']);
      const [before, after] = [byId(one.records), byId(two.records)];
      for (const id of ['i-0', 'i-2999']) expect(after.get(id)).toBe(before.get(id));
      for (const id of ['i-8', 'i-9', 'i-12', 'i-13', 'i-14', 'i-15']) expect(after.get(id)).not.toBe(before.get(id));
      expect(after.get('i-12')).toEqual(before.get('i-12'));
      expect(after.get('i-3000')).toBeDefined();
      // The same body again: nothing to make.
      made = 0;
      const three = await collect((await decoder.decode(chunked(body, 5000), 5, signal, compact)).slices);
      expect(made).toBe(0);
      expect(three.ids).toEqual(two.ids);
      expect(three.errors).toEqual(['APP-5: refused']);
      // A worker of its own (the kept one stopped) decodes everything.
      decoder.close();
      made = 0;
      const fresh = new SliceDecoder({ keepWorkerMs: 60_000, clock: new ManualClock() });
      try {
        await collect((await fresh.decode(chunked(body), 5, signal, compact)).slices);
      } finally {
        fresh.close();
      }
      expect(made).toBe(2999);
    } finally {
      decoder.close();
    }
  });

  it('tells a change of any one field of an instance from the body before, its timestamps unchanged', async () => {
    type Wire = Record<string, unknown> & { metadata: Record<string, string>; leaseInfo: Record<string, unknown> };
    const changes: ((w: Wire) => void)[] = [
      (w) => (w.hostName = 'elsewhere.example'),
      (w) => (w.ipAddr = '10.9.9.9'),
      (w) => (w.status = 'STARTING'),
      (w) => (w.overriddenStatus = 'OUT_OF_SERVICE'),
      (w) => (w.port = { $: 9999, '@enabled': 'true' }),
      (w) => (w.port = { ...(w.port as object), '@enabled': 'false' }),
      (w) => (w.securePort = { $: 8443, '@enabled': 'false' }),
      (w) => (w.vipAddress = 'other-vip'),
      (w) => (w.secureVipAddress = 'other-secure-vip'),
      (w) => (w.homePageUrl = `${String(w.homePageUrl)}x`),
      (w) => (w.statusPageUrl = `${String(w.statusPageUrl)}x`),
      (w) => (w.healthCheckUrl = `${String(w.healthCheckUrl)}x`),
      (w) => (w.metadata = { ...w.metadata, zone: 'z9' }),
      (w) => (w.metadata = { ...w.metadata, extra: '' }),
      (w) => (w.leaseInfo = { ...w.leaseInfo, renewalIntervalInSecs: 45 }),
      (w) => (w.leaseInfo = { ...w.leaseInfo, durationInSecs: 120 }),
    ];
    const changed = changes.map((_, k) => 100 + k * 13);
    const second = wire(3000, 7);
    changes.forEach((change, k) => change(second[changed[k]!] as unknown as Wire));
    const { decoder, compact, counter } = keptDecoder();
    const signal = new AbortController().signal;
    try {
      const one = await collect((await decoder.decode(chunked(bodyOf(wire(3000, 7))), 5, signal, compact)).slices);
      counter.made = 0;
      const body = bodyOf(second);
      const two = await collect((await decoder.decode(chunked(body), 5, signal, compact)).slices);
      expect(counter.made).toBe(changes.length);
      const expected = decodeApplications(JSON.parse(body.toString('utf8')), 5);
      expect(two.records).toEqual(expected.instances.map((e) => ({ ...e.instance })));
      const [before, after] = [one.records, two.records].map((records) => new Map(records.map((r) => [r.instanceId, r])));
      for (const at of changed) expect(after!.get(`i-${at}`)).not.toBe(before!.get(`i-${at}`));
      expect(after!.get('i-99')).toBe(before!.get('i-99'));
    } finally {
      decoder.close();
    }
  });

  it('gives a kept worker\'s records again when only the leases\' timestamps moved, as at every renewal', async () => {
    type Lease = { leaseInfo: Record<string, number> };
    const renewed = (after: number): WireInstance[] =>
      wire(3000, 7).map((w) => ({ ...w, leaseInfo: { ...(w as unknown as Lease).leaseInfo, lastRenewalTimestamp: 1_700_000_000_000 + after } }) as WireInstance);
    const { decoder, compact, counter } = keptDecoder();
    const signal = new AbortController().signal;
    try {
      const one = await collect((await decoder.decode(chunked(bodyOf(renewed(30_000))), 5, signal, compact)).slices);
      expect(counter.made).toBe(3000);
      for (const after of [60_000, 90_000]) {
        counter.made = 0;
        const body = bodyOf(renewed(after));
        const next = await collect((await decoder.decode(chunked(body), 5, signal, compact)).slices);
        expect(counter.made).toBe(0);
        expect(next.records).toEqual(decodeApplications(JSON.parse(body.toString('utf8')), 5).instances.map((e) => ({ ...e.instance })));
        next.records.forEach((record, k) => expect(record).toBe(one.records[k]));
      }
    } finally {
      decoder.close();
    }
  });

  it('gives a kept worker\'s records and reasons again for a compressed body of the very bytes of the one before', async () => {
    const instances = wire(3000, 7);
    // Refused by the decoder, late in the body: a reason, not a number.
    delete (instances[2500] as { hostName?: string }).hostName;
    const gzipped = gzipSync(bodyOf(instances));
    const coding = { encoding: 'gzip' as const, maxBytes: 64 * 1024 * 1024 };
    const { decoder, compact, counter } = keptDecoder();
    const signal = new AbortController().signal;
    const firstErrors = async (coded: Buffer, encoding: 'gzip' | 'deflate' = 'gzip'): Promise<{ decoded: Awaited<ReturnType<typeof collect>>; first: readonly string[] }> => {
      counter.made = 0;
      const slices: DecodedSlice[] = [];
      for await (const slice of (await decoder.decode(chunked(coded), 5, signal, compact, { ...coding, encoding })).slices) slices.push(slice);
      return { decoded: await collect(slices), first: slices[0]!.errors };
    };
    try {
      const one = await firstErrors(gzipped);
      expect(counter.made).toBe(2999);
      expect(one.decoded.errors).toEqual(['APP-1: Missing hostname']);
      expect(one.first).toEqual([]);
      for (let k = 0; k < 2; k++) {
        const again = await firstErrors(Buffer.from(gzipped));
        expect(counter.made).toBe(0);
        expect(again.decoded.ids).toEqual(one.decoded.ids);
        again.decoded.records.forEach((record, at) => expect(record).toBe(one.decoded.records[at]));
        // Neither inflated nor parsed: the reasons of the body before come with the first slice.
        expect(again.first).toEqual(['APP-1: Missing hostname']);
      }
      // The same JSON compressed otherwise is read as text, its instances as they were.
      const deflated = await firstErrors(deflateSync(bodyOf(instances)), 'deflate');
      expect(counter.made).toBe(0);
      expect(deflated.first).toEqual([]);
      expect(deflated.decoded.ids).toEqual(one.decoded.ids);
      // Over a smaller limit, the same bytes are too large.
      await expect(decoder.decode(chunked(deflateSync(bodyOf(instances))), 5, signal, compact, { encoding: 'deflate', maxBytes: 1024 })).rejects.toMatchObject({
        code: 'ERR_REGISTRY_UNAVAILABLE',
      });
    } finally {
      decoder.close();
    }
  });

  it('answers unchanged, decoding nothing, for the very bytes of the body before when the caller holds what it made of them', async () => {
    const instances = wire(3000, 7);
    const gzipped = gzipSync(bodyOf(instances));
    const coding = { encoding: 'gzip' as const, maxBytes: 64 * 1024 * 1024 };
    const { decoder, compact, counter } = keptDecoder();
    const signal = new AbortController().signal;
    try {
      const one = await collect((await decoder.decode(chunked(gzipped), 5, signal, compact, coding)).slices);
      expect(counter.made).toBe(3000);
      for (let k = 0; k < 2; k++) {
        counter.made = 0;
        const same = await decoder.decode(chunked(Buffer.from(gzipped)), 5, signal, compact, { ...coding, skipUnchanged: true });
        expect(same).toMatchObject({ versionsDelta: '7', appsHashcode: 'UP_1_', unchanged: true });
        expect(await collect(same.slices)).toMatchObject({ count: 0, records: [] });
        expect(counter.made).toBe(0);
      }
      // Both sides kept the listing of the first body: the next, with one instance changed, reuses the rest.
      const changed = instances.map((w, i) => (i === 10 ? { ...w, status: 'DOWN' } : w));
      counter.made = 0;
      const next = await collect((await decoder.decode(chunked(gzipSync(bodyOf(changed))), 5, signal, compact, { ...coding, skipUnchanged: true })).slices);
      expect(counter.made).toBe(1);
      expect(next.records).toEqual(decodeApplications(JSON.parse(bodyOf(changed).toString()), 5).instances.map((e) => ({ ...e.instance })));
      const made = new Map(one.records.map((record) => [record.instanceId, record]));
      for (const record of next.records) if (record.instanceId !== 'i-10') expect(record).toBe(made.get(record.instanceId));
      // Another body than the last: decoded as it is, even when asked to skip.
      counter.made = 0;
      const other = await decoder.decode(chunked(gzipped), 5, signal, compact, { ...coding, skipUnchanged: true });
      expect(other.unchanged).toBeUndefined();
      expect((await collect(other.slices)).records).toHaveLength(3000);
      expect(counter.made).toBe(1);
    } finally {
      decoder.close();
    }
  });

  it('decodes again, after a kept worker, an instance it cannot find by its text, and any layout of its applications', async () => {
    const { decoder, compact, counter } = keptDecoder();
    const signal = new AbortController().signal;
    const decodeText = async (text: string) => {
      counter.made = 0;
      const decoded = await collect((await decoder.decode(chunked(Buffer.from(text)), 5, signal, compact)).slices);
      expect(decoded.records).toEqual(decodeApplications(JSON.parse(text), 5).instances.map((e) => ({ ...e.instance })));
      return decoded;
    };
    try {
      const base = JSON.stringify(encodeApplications(wire(3000, 7), '7', 'UP_1_'));
      await decodeText(base);
      // An id written with an escape is not looked for: decoded, as the same instance.
      const escaped = base.replace('"instanceId":"i-5"', '"instanceId":"i\\u002d5"');
      await decodeText(escaped);
      expect(counter.made).toBe(1);
      // An application holding an array of objects besides its instances is parsed whole, its instances decoded
      // again (and the body after, having none of them listed, decodes them too); the rest as before.
      const ofApp3 = wire(3000, 7).filter((w) => w.app === 'APP-3').length;
      const extra = base.replace('{"name":"APP-3",', '{"name":"APP-3","links":[{"rel":"self"},{"rel":"up"}],');
      expect(extra).not.toBe(base);
      await decodeText(extra);
      expect(counter.made).toBe(ofApp3 + 1);
      await decodeText(base);
      expect(counter.made).toBe(ofApp3);
      await decodeText(base);
      expect(counter.made).toBe(0);
      // A leaseInfo that is not JSON: the body is refused, and the next one decodes.
      const broken = base.replace(/"leaseInfo":\{"renewalIntervalInSecs":(\d+),/, '"leaseInfo":{"renewalIntervalInSecs":$1,,');
      expect(broken).not.toBe(base);
      await expect(decoder.decode(chunked(Buffer.from(broken)), 5, signal, compact).then((d) => collect(d.slices))).rejects.toMatchObject({
        code: 'ERR_EUREKA_PROTOCOL',
        message: expect.stringContaining('not JSON'),
      });
      await decodeText(base);
    } finally {
      decoder.close();
    }
  });

  it('decodes each of a run of randomly changed bodies as decoding it at once would, the worker kept between them', async () => {
    // A seeded generator, so that a failure can be replayed.
    const random = seeded(20_261_207);
    const pick = (n: number): number => Math.floor(random() * n);
    type Mutable = Record<string, unknown> & { leaseInfo: Record<string, number>; metadata: Record<string, string> };
    let next = 3000;
    let list = wire(3000, 7) as unknown as Mutable[];
    const changes: ((all: Mutable[]) => Mutable[])[] = [
      // Every lease renewed, as a server writes its registry again.
      (all) => all.map((w) => ({ ...w, leaseInfo: { ...w.leaseInfo, lastRenewalTimestamp: w.leaseInfo.lastRenewalTimestamp! + 30_000 } })),
      (all) => all.map((w, i) => (i % 97 === pick(97) ? { ...w, status: ['UP', 'DOWN', 'STARTING', 'OUT_OF_SERVICE'][pick(4)] } : w)),
      (all) => all.map((w, i) => (i % 53 === pick(53) ? { ...w, metadata: { ...w.metadata, build: String(pick(9)) } } : w)),
      (all) => all.filter(() => random() > 0.01),
      (all) => [...all, ...(wire(next + 40, 9).slice(next) as unknown as Mutable[])].map((w) => w),
      (all) => all.map((w, i) => (i === pick(all.length) ? { ...w, actionType: 'DELETED' } : w)),
      (all) => all.map((w, i) => (i === pick(all.length) ? { ...w, hostName: undefined } : w)),
      (all) => [...all, all[pick(all.length)]!],
      (all) => all.map((w, i) => (i === pick(all.length) ? { ...w, leaseInfo: { ...w.leaseInfo, durationInSecs: 30 + pick(100) } } : w)),
      (all) => [...all].sort(() => random() - 0.5),
    ];
    const { decoder, compact } = keptDecoder();
    const signal = new AbortController().signal;
    try {
      for (let round = 0; round < 12; round++) {
        for (const change of changes) if (random() < 0.4) list = change(list);
        next += 40;
        const body = bodyOf(list as unknown as WireInstance[]);
        const gzipped = round % 3 === 2;
        const coded = gzipped ? gzipSync(body) : body;
        const decoded = await collect((await decoder.decode(chunked(coded), 5, signal, compact, gzipped ? { encoding: 'gzip', maxBytes: 1 << 30 } : undefined)).slices);
        const expected = decodeApplications(JSON.parse(body.toString('utf8')), 5);
        expect(decoded.ids).toEqual(expected.instances.map((e) => `${e.instance.app}/${e.instance.instanceId}/${e.actionType === 'DELETED' ? 'DELETED' : e.instance.status}`));
        expect(decoded.records).toEqual(expected.instances.filter((e) => e.actionType !== 'DELETED').map((e) => ({ ...e.instance })));
        expect(decoded.errors).toEqual(expected.errors);
        // The same bytes again (every third round compressed: the worker answers from the body before).
        const again = await collect((await decoder.decode(chunked(coded), 5, signal, compact, gzipped ? { encoding: 'gzip', maxBytes: 1 << 30 } : undefined)).slices);
        expect(again.ids).toEqual(decoded.ids);
        expect(again.records).toEqual(decoded.records);
        expect(again.errors).toEqual(decoded.errors);
      }
    } finally {
      decoder.close();
    }
  });

  it('decodes a large body into the same instances, in order, as decoding it at once, over several slices', async () => {
    const instances = wire(3000, 7);
    // Two instances that do not decode, and an application entry that is not an object.
    (instances[10] as { hostName?: string }).hostName = '';
    (instances[2000] as { ipAddr?: string }).ipAddr = '';
    // Metadata of a few shapes (shared by reference once decoded): the same entries in another order, one entry
    // more or less than the maps just before, a `__proto__` key; and a deletion.
    const metadataOf = (i: number): Record<string, string> => {
      switch (i % 6) {
        case 0:
          return {};
        case 1:
          return { zone: `z${i % 2}`, build: String(i % 5) };
        case 2:
          return { build: String(i % 5), zone: `z${i % 2}` };
        case 3:
          return { zone: `z${i % 2}`, build: String(i % 5), extra: 'x' };
        case 4:
          return { zone: `z${i % 2}` };
        default:
          return JSON.parse(`{"__proto__": "p${i % 2}", "zone": "z1"}`) as Record<string, string>;
      }
    };
    instances.forEach((w, i) => ((w as { metadata: Record<string, string> }).metadata = metadataOf(i)));
    (instances[20] as { actionType?: string }).actionType = 'DELETED';
    const doc = encodeApplications(instances, '42', 'DOWN_429_UP_2571_');
    (doc.applications.application as unknown[]).push('junk');
    const body = Buffer.from(JSON.stringify(doc));
    expect(body.length).toBeGreaterThan(SLICED_DECODE_MIN_BYTES);
    const expected = decodeApplications(JSON.parse(body.toString('utf8')), 5);
    const decoder = new SliceDecoder();
    const threadsBefore = threads();
    try {
      const sliced = await decoder.decode(chunked(body), 5, new AbortController().signal, copy);
      expect([sliced.versionsDelta, sliced.appsHashcode]).toEqual(['42', 'DOWN_429_UP_2571_']);
      const got = await collect(sliced.slices);
      expect(got.count).toBeGreaterThan(5);
      expect(got.ids).toEqual(expected.instances.map((e) => `${e.instance.app}/${e.instance.instanceId}/${e.actionType === 'DELETED' ? 'DELETED' : e.instance.status}`));
      // Every field of every record as decoding at once gives it.
      expect(got.records).toEqual(expected.instances.filter((e) => e.actionType !== 'DELETED').map((e) => ({ ...e.instance })));
      expect(got.ids).toContain('APP-6/i-20/DELETED');
      expect(got.errors.sort()).toEqual([...expected.errors].sort());
      expect(got.errors).toHaveLength(3);
      // Each body has a worker of its own, stopped once the body is decoded (its heap goes with it).
      await waitFor(() => threads() <= threadsBefore, 10_000, 'the worker thread to stop');
      const again = await decoder.decode(chunked(body, 1000), 5, new AbortController().signal, copy);
      expect((await collect(again.slices)).ids).toHaveLength(expected.instances.length);
      await waitFor(() => threads() <= threadsBefore, 10_000, 'the second worker thread to stop');
    } finally {
      decoder.close();
      decoder.close();
    }
  });

  it('refuses a large body that is not JSON, or not an applications document, with ERR_EUREKA_PROTOCOL, and goes on', async () => {
    const decoder = new SliceDecoder();
    const signal = new AbortController().signal;
    try {
      const good = bodyOf(wire(2000, 3));
      const truncated = good.subarray(0, good.length - 10);
      await expect(decoder.decode(chunked(truncated), 0, signal, copy)).rejects.toMatchObject({ code: 'ERR_EUREKA_PROTOCOL', message: /not JSON/ });
      const other = Buffer.from(JSON.stringify({ something: 'x'.repeat(SLICED_DECODE_MIN_BYTES) }));
      await expect(decoder.decode([other], 0, signal, copy)).rejects.toMatchObject({ code: 'ERR_EUREKA_PROTOCOL', message: /no "applications" object/ });
      expect((await collect((await decoder.decode(chunked(good), 0, signal, copy)).slices)).ids).toHaveLength(2000);
    } finally {
      decoder.close();
    }
  });

  it('decompresses a gzipped or deflated body on the worker (or here when small), within maxBytes once decompressed', async () => {
    const decoder = new SliceDecoder();
    const signal = new AbortController().signal;
    try {
      const body = bodyOf(wire(3000, 7));
      const expected = decodeApplications(JSON.parse(body.toString('utf8')), 0).instances.map((e) => e.instance.instanceId);
      for (const [encoding, packed] of [['gzip', gzipSync(body, { level: 1 })], ['deflate', deflateSync(body, { level: 1 })]] as const) {
        // Level 1 keeps the compressed body over the size decompressed on the worker.
        expect(packed.length).toBeGreaterThan(64 * 1024);
        const sliced = await decoder.decode(chunked(packed, 16 * 1024), 0, signal, copy, { encoding, maxBytes: body.length });
        const got = await collect(sliced.slices);
        expect(got.records.map((r) => r.instanceId)).toEqual(expected);
        expect(got.count).toBeGreaterThan(5);
        await expect(decoder.decode(chunked(packed), 0, signal, copy, { encoding, maxBytes: body.length - 1 })).rejects.toMatchObject({
          code: 'ERR_REGISTRY_UNAVAILABLE',
          message: `response is larger than maxResponseBytes (${body.length - 1})`,
        });
      }
      const small = bodyOf(wire(20, 2));
      const smallGz = gzipSync(small);
      expect((await collect((await decoder.decode([smallGz], 0, signal, copy, { encoding: 'gzip', maxBytes: small.length })).slices)).ids).toHaveLength(20);
      await expect(decoder.decode([smallGz], 0, signal, copy, { encoding: 'gzip', maxBytes: small.length - 1 })).rejects.toMatchObject({ code: 'ERR_REGISTRY_UNAVAILABLE' });
      // Between 8 and 64 KB of gzip: undone in the thread pool, with the same limit and errors.
      const middle = bodyOf(wire(1500, 3));
      const middleGz = gzipSync(middle);
      expect(middleGz.length).toBeGreaterThan(8 * 1024);
      expect(middleGz.length).toBeLessThan(64 * 1024);
      expect((await collect((await decoder.decode([middleGz], 0, signal, copy, { encoding: 'gzip', maxBytes: middle.length })).slices)).ids).toHaveLength(1500);
      await expect(decoder.decode([middleGz], 0, signal, copy, { encoding: 'gzip', maxBytes: middle.length - 1 })).rejects.toMatchObject({ code: 'ERR_REGISTRY_UNAVAILABLE' });
      await expect(decoder.decode([Buffer.alloc(20 * 1024, 7)], 0, signal, copy, { encoding: 'gzip', maxBytes: 1e9 })).rejects.toMatchObject({
        code: 'ERR_EUREKA_PROTOCOL',
        message: /not valid gzip/,
      });
      // A gzip body that is not gzip, large or small, is a protocol error; the worker goes on.
      const junk = Buffer.alloc(100 * 1024, 7);
      await expect(decoder.decode([junk], 0, signal, copy, { encoding: 'gzip', maxBytes: 1e9 })).rejects.toMatchObject({ code: 'ERR_EUREKA_PROTOCOL', message: /not valid gzip/ });
      await expect(decoder.decode([junk.subarray(0, 100)], 0, signal, copy, { encoding: 'gzip', maxBytes: 1e9 })).rejects.toMatchObject({ code: 'ERR_EUREKA_PROTOCOL', message: /not valid gzip/ });
      const packed = gzipSync(body, { level: 1 });
      expect((await collect((await decoder.decode([packed], 0, signal, copy, { encoding: 'gzip', maxBytes: 1e9 })).slices)).ids).toHaveLength(3000);
    } finally {
      decoder.close();
    }
  });

  it('parses the applications one by one as their rows are due, and any other layout whole, with the same result', async () => {
    const decoder = new SliceDecoder();
    const signal = new AbortController().signal;
    const decodeAll = async (doc: unknown): Promise<string[]> =>
      (await collect((await decoder.decode(chunked(Buffer.from(JSON.stringify(doc))), 0, signal, copy)).slices)).ids;
    const expectedOf = (doc: unknown): string[] =>
      decodeApplications(JSON.parse(JSON.stringify(doc)), 0).instances.map((e) => `${e.instance.app}/${e.instance.instanceId}/${e.instance.status}`);
    try {
      const instances = wire(2500, 5);
      // Strings holding quotes, backslashes and brackets do not mislead the cut.
      instances.forEach((w, i) => ((w as { metadata: Record<string, string> }).metadata = { note: i % 2 === 0 ? 'a "quoted" {[' : 'ends with \\' }));
      const doc = encodeApplications(instances, '3', 'UP_2500_');
      const ids = await decodeAll(doc);
      expect(ids).toEqual(expectedOf(doc));
      expect(ids).toHaveLength(2500);
      // Another list of objects beside the applications, or one application not in a list: parsed whole.
      const extra = { applications: { ...doc.applications, extra: [{ a: 1 }, { b: 2 }] } };
      expect(await decodeAll(extra)).toEqual(expectedOf(extra));
      const single = encodeApplications(wire(2500, 1), '3', 'UP_2500_');
      const one = { applications: { ...single.applications, application: (single.applications.application as unknown[])[0] } };
      expect(await decodeAll(one)).toHaveLength(2500);
      // An application that is not JSON inside (its brackets balanced) fails the body as not JSON, at its turn.
      const text = JSON.stringify(doc);
      const broken = Buffer.from(text.replace('"name":"APP-3",', '"name":"APP-3",,'));
      const sliced = await decoder.decode(chunked(broken), 0, signal, copy);
      await expect(collect(sliced.slices)).rejects.toMatchObject({ code: 'ERR_EUREKA_PROTOCOL', message: /not JSON/ });
      // A document broken outside the applications is not JSON either, before any row; the worker goes on.
      const outside = Buffer.from(text.replace('"versions__delta":"3"', '"versions__delta":"3",'));
      await expect(decoder.decode(chunked(outside), 0, signal, copy)).rejects.toMatchObject({ code: 'ERR_EUREKA_PROTOCOL', message: /not JSON/ });
      expect(await decodeAll(doc)).toHaveLength(2500);
    } finally {
      decoder.close();
    }
  });

  it.runIf(process.platform === 'linux')('runs its decoding thread at a lower CPU priority than the event loop', async () => {
    /** The nice value of each thread of this process, by thread id (field 19 of its stat). */
    const niceValues = (): Map<string, number> => threadStat(19);
    const before = niceValues();
    const decoder = new SliceDecoder();
    try {
      const pending = decoder.decode(chunked(bodyOf(wire(6000, 3))), 0, new AbortController().signal, copy);
      // At once, before the worker's own code has run (its start takes tens of ms): lowered by the event loop.
      const early = niceValues();
      expect([...early].filter(([tid]) => !before.has(tid)).map(([, nice]) => nice)).toContain(10);
      const sliced = await pending;
      let during: Map<string, number> | undefined;
      let count = 0;
      for await (const slice of sliced.slices) {
        // While the worker is still sending slices, it is one of this process's threads.
        during ??= niceValues();
        count += slice.entries.length;
      }
      expect(count).toBe(6000);
      const started = [...during!].filter(([tid]) => !before.has(tid));
      expect(started.map(([, nice]) => nice)).toContain(10);
      // The event loop's thread (its id is the process id) keeps its priority.
      expect(during!.get(String(process.pid))).toBe(before.get(String(process.pid)));
    } finally {
      decoder.close();
    }
  });

  // SCHED_IDLE is set with util-linux's chrt: without it (or off Linux) the option leaves nice 10 alone.
  const chrtMissing =
    process.platform !== 'linux'
      ? 'threads have no scheduling policy of their own off Linux'
      : !(process.env['PATH'] ?? '').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, 'chrt')))
        ? 'chrt is not installed (apt-get install util-linux)'
        : undefined;
  describe.skipIf(chrtMissing !== undefined)(`its decoding thread's scheduling policy${chrtMissing === undefined ? '' : ` (skipped: ${chrtMissing})`}`, () => {
    /** The scheduling policy of each thread of this process (field 41 of its stat: 0 SCHED_OTHER, 5 SCHED_IDLE). */
    const policies = (): Map<string, number> => threadStat(41);
    const SCHED_IDLE = 5;

    it.each([
      ['idle', SCHED_IDLE],
      ['low', 0],
    ] as const)("with priority '%s', runs its decoding thread in scheduling policy %d, the event loop's unchanged", async (priority, policy) => {
      const before = policies();
      // Kept after the body, so that its thread can be looked at once the chrt run at its start has ended.
      const decoder = new SliceDecoder({ keepWorkerMs: 60_000, priority });
      try {
        const sliced = await decoder.decode(chunked(bodyOf(wire(6000, 3))), 0, new AbortController().signal, copy);
        let count = 0;
        for await (const slice of sliced.slices) count += slice.entries.length;
        expect(count).toBe(6000);
        const added = (): number[] => [...policies()].filter(([tid]) => !before.has(tid)).map(([, value]) => value);
        if (policy === SCHED_IDLE) await waitFor(() => added().includes(SCHED_IDLE), 5000, 'the decoding thread to be in SCHED_IDLE');
        expect(added()).toContain(policy);
        // Only the decoding thread: no other thread of the process is in SCHED_IDLE.
        expect(added().filter((value) => value === SCHED_IDLE)).toHaveLength(policy === SCHED_IDLE ? 1 : 0);
        expect(policies().get(String(process.pid))).toBe(0);
      } finally {
        decoder.close();
      }
    });

    it("is SCHED_IDLE for an EurekaRegistry's full fetch with decodePriority 'idle'", async () => {
      const body = gzipSync(bodyOf(wire(6000, 6)));
      const server = await serveGzipped(() => body);
      const before = policies();
      const registry = new EurekaRegistry({ serviceUrls: [server.url], registryFetchIntervalMs: 3_600_000, decodePriority: 'idle' });
      try {
        await registry.refresh();
        expect(registry.instances()).toHaveLength(6000);
        // The worker is kept for the next fetch: its thread is still there.
        const idle = (): boolean => [...policies()].some(([tid, value]) => !before.has(tid) && value === SCHED_IDLE);
        await waitFor(idle, 5000, 'the decoding thread to be in SCHED_IDLE');
      } finally {
        await registry.close();
        server.close();
      }
    });
  });

  it('stops when aborted while the body is handed over, and decodes small bodies at once', async () => {
    const decoder = new SliceDecoder();
    try {
      const controller = new AbortController();
      controller.abort(new Error('closing'));
      await expect(decoder.decode(chunked(bodyOf(wire(6000, 3)), 16 * 1024), 0, controller.signal, copy)).rejects.toThrow('closing');
      const small = await decoder.decode([bodyOf(wire(3, 1))], 0, new AbortController().signal, copy);
      expect(Array.isArray(small.slices)).toBe(true);
      expect((await collect(small.slices)).ids).toHaveLength(3);
    } finally {
      decoder.close();
    }
  });
});

function record(id: string, app: string, overrides: Partial<RegistryInstance> = {}): RegistryInstance {
  return Object.freeze({ ...testInstance({ instanceId: id, app, vipAddress: app.toLowerCase(), port: 8080 }), status: 'UP', ...overrides }) as RegistryInstance;
}

function byApp(list: readonly RegistryInstance[]): Map<string, Map<string, RegistryInstance>> {
  const apps = new Map<string, Map<string, RegistryInstance>>();
  for (const r of list) apps.set(r.app, (apps.get(r.app) ?? new Map<string, RegistryInstance>()).set(r.instanceId, r));
  return apps;
}

const ids = (list: Iterable<RegistryInstance>): string[] => [...list].map((r) => r.instanceId).sort();

describe('InstanceCache.replaceInSlices (a full fetch applied a slice at a time)', () => {
  const before = [
    ...Array.from({ length: 3000 }, (_, i) => record(`a${i}`, 'A')),
    ...Array.from({ length: 2000 }, (_, i) => record(`b${i}`, 'B', { status: i % 2 === 0 ? 'DOWN' : 'UP' })),
  ];
  // Some of A removed, some of B changed, C added.
  const after = [
    ...before.filter((r) => r.app === 'A' && !r.instanceId.endsWith('7')),
    ...before.filter((r) => r.app === 'B').map((r, i) => (i % 10 === 0 ? record(r.instanceId, 'B', { status: 'OUT_OF_SERVICE' }) : r)),
    ...Array.from({ length: 500 }, (_, i) => record(`c${i}`, 'C')),
  ];

  it('reports the same change, keeps the same counts and views as replaceAll, yielding between slices', async () => {
    const reference = new InstanceCache();
    reference.replaceAll(before);
    const expected = reference.replaceAll(after);

    const cache = new InstanceCache();
    cache.replaceAll(before);
    const heldB = cache.byVip('b');
    const upA = cache.upByVip('a');
    const changes: RegistryChange[] = [];
    cache.onChange((change) => changes.push(change));
    let pauses = 0;
    // An app with no records left is dropped from the view, as replaceAll drops it.
    const next = byApp(after).set('EMPTY', new Map());
    const change = await cache.replaceInSlices(
      next,
      async () => {
        pauses++;
        // Readers see the old view, whole, while the slices run.
        expect(cache.upByVip('a')).toBe(upA);
        expect(cache.size).toBe(before.length);
        await new Promise<void>((resolve) => setImmediate(resolve));
      },
      0,
    );
    expect(pauses).toBeGreaterThan(10);
    expect(changes).toHaveLength(1);
    expect(ids(change.added)).toEqual(ids(expected.added));
    expect(ids(change.removed)).toEqual(ids(expected.removed));
    expect(change.modified.map((m) => m.current.instanceId).sort()).toEqual(expected.modified.map((m) => m.current.instanceId).sort());
    expect(cache.size).toBe(reference.size);
    expect([...cache.statusCounts()].sort()).toEqual([...reference.statusCounts()].sort());
    expect(ids(cache.byVip('b'))).toEqual(ids(reference.byVip('b')));
    expect(cache.byVip('b')).not.toBe(heldB);
    expect(ids(cache.upByVip('a'))).toEqual(ids(reference.upByVip('a')));
    expect(ids(cache.byApp('C'))).toEqual(ids(reference.byApp('C')));
    expect([...cache.records().keys()].sort()).toEqual(['A', 'B', 'C']);
    // Unchanged records keep their identity.
    expect(cache.get('a1', 'A')).toBe(before[1]);
    // The same listing again changes nothing.
    const none = await cache.replaceInSlices(byApp(after), () => new Promise((resolve) => setImmediate(resolve)), 0);
    expect(none.added.length + none.removed.length + none.modified.length).toBe(0);
    expect(changes).toHaveLength(1);
  });

  it('finishes in one go when another batch changes the cache between slices, and fills an empty cache', async () => {
    const cache = new InstanceCache();
    const first = await cache.replaceInSlices(byApp(before), () => new Promise((resolve) => setImmediate(resolve)), 0);
    expect(first.added).toHaveLength(before.length);
    expect(cache.size).toBe(before.length);
    let applied = false;
    await cache.replaceInSlices(
      byApp(after),
      async () => {
        if (!applied) {
          applied = true;
          cache.apply([record('x', 'X')]);
        }
        await new Promise<void>((resolve) => setImmediate(resolve));
      },
      0,
    );
    // The full listing wins: X (not in it) is gone, the view is the listing.
    expect(ids(cache.all())).toEqual(ids(after));
    expect(cache.size).toBe(after.length);
  });
});

describe("EurekaRegistry with decodePriority 'idle' where the decoding thread cannot be put in SCHED_IDLE", () => {
  it('decodes at nice 10, says why once as a warning, then at debug level for each new decoding thread', async () => {
    const body = gzipSync(bodyOf(wire(6000, 6)));
    const server = await serveGzipped(() => body);
    const logger = memoryLogger();
    const path = process.env['PATH'];
    // No chrt on the path the decoding threads are started with (off Linux there is no policy to set at all).
    process.env['PATH'] = mkdtempSync(join(tmpdir(), 'no-chrt-'));
    const clock = new ManualClock();
    const registry = new EurekaRegistry({ serviceUrls: [server.url], fetchDeltas: false, registryFetchIntervalMs: 60_000, decodePriority: 'idle', logger, clock, jitterRatio: 0, requestTimeoutMs: 600_000 });
    const notApplied = (level: string): string[] => logger.lines.filter((line) => line.startsWith(`${level} eureka decodePriority 'idle' not applied`));
    try {
      await registry.refresh();
      expect(registry.instances()).toHaveLength(6000);
      await waitFor(() => notApplied('warn').length > 0, 10_000, 'the decoding thread to refuse SCHED_IDLE');
      // The worker is kept 2.5 intervals after a body, then stopped: the next refresh, due on the way, is still
      // receiving when the wait ends (its request timeout is longer), and its body goes to a new worker.
      clock.advance(151_000);
      await waitFor(() => notApplied('debug').length > 0, 10_000, 'a second decoding thread to refuse SCHED_IDLE');
      expect(notApplied('warn')).toHaveLength(1);
      expect(notApplied('warn')[0]).toMatch(process.platform === 'linux' ? /nice 10: chrt is not installed/ : /no scheduling policy of their own/);
      expect(registry.instances()).toHaveLength(6000);
    } finally {
      process.env['PATH'] = path;
      await registry.close();
      server.close();
    }
  });
});

describe('EurekaRegistry full fetch of a large registry over HTTP', () => {
  it('holds every instance, with the same views and change events, across two full fetches', async () => {
    let body = gzipSync(bodyOf(wire(4000, 8)));
    const server = await serveGzipped(() => body);
    const registry = new EurekaRegistry({ serviceUrls: [server.url], fetchDeltas: false, registryFetchIntervalMs: 3_600_000 });
    try {
      const changes: RegistryChange[] = [];
      registry.onChange((change) => changes.push(change));
      await registry.refresh();
      expect(registry.instances()).toHaveLength(4000);
      expect(registry.instancesByVip('app-3')).toHaveLength(500);
      expect(registry.upInstancesByVip('app-3')).toHaveLength(500 - wire(4000, 8).filter((w) => w.app === 'APP-3' && w.status === 'DOWN').length);
      expect(changes.at(-1)!.added).toHaveLength(4000);
      // The next listing: the first 100 gone, every instance of APP-1 DOWN.
      const next = wire(4000, 8, (i) => (i % 8 === 1 ? 'DOWN' : i % 7 === 0 ? 'DOWN' : 'UP')).slice(100);
      body = gzipSync(bodyOf(next));
      await registry.refresh();
      const change = changes.at(-1)!;
      expect(change.removed).toHaveLength(100);
      expect(change.added).toHaveLength(0);
      expect(change.modified.every((m) => m.current.app === 'APP-1' && m.current.status === 'DOWN')).toBe(true);
      expect(registry.instances()).toHaveLength(3900);
      expect(registry.upInstancesByVip('app-1')).toHaveLength(0);
    } finally {
      await registry.close();
      server.close();
    }
  });
});

describe('EurekaRegistry full fetch of an unchanged registry', () => {
  it('changes nothing and reports the listing as it was when the server sends the very bytes again', async () => {
    const listing = wire(4000, 8);
    // Refused by the decoder: skipped, and said so, at every fetch.
    delete (listing[3000] as { hostName?: string }).hostName;
    let body = gzipSync(bodyOf(listing));
    const server = await serveGzipped(() => body);
    const logger = memoryLogger();
    const registry = new EurekaRegistry({ serviceUrls: [server.url], fetchDeltas: false, registryFetchIntervalMs: 3_600_000, logger });
    const fetches: FetchEvent[] = [];
    registry.on('fetch', (event) => fetches.push(event));
    const changes: RegistryChange[] = [];
    registry.onChange((change) => changes.push(change));
    try {
      await registry.refresh();
      const held = registry.instances();
      expect(held).toHaveLength(3999);
      const view = registry.instancesByVip('app-3');
      const changesBefore = changes.length;
      for (let k = 0; k < 2; k++) {
        await registry.refresh();
        expect(fetches.at(-1)).toMatchObject({ kind: 'full', ok: true, instances: fetches[0]!.instances, skipped: 1, cached: 3999, added: 0, modified: 0, removed: 0 });
        expect(registry.instances().filter((record, at) => record !== held[at])).toEqual([]);
        expect(registry.instancesByVip('app-3')).toBe(view);
      }
      expect(changes).toHaveLength(changesBefore);
      expect(logger.lines.filter((line) => line.includes('the very bytes of the last one, whose view is held: nothing to decode'))).toHaveLength(2);
      expect(logger.lines.filter((line) => line.includes('skipped 1 instance(s) that did not decode'))).toHaveLength(fetches.length);
      // The registry changes: the next body is applied.
      body = gzipSync(bodyOf(listing.map((w, i) => (i === 8 ? { ...w, status: 'DOWN' } : w))));
      await registry.refresh();
      expect(fetches.at(-1)).toMatchObject({ modified: 1, cached: 3999 });
      expect(registry.instance('i-8', 'APP-0')?.status).toBe('DOWN');
    } finally {
      await registry.close();
      server.close();
    }
  });
});

describe('EurekaRegistry full fetch after a hash mismatch, the worker kept', () => {
  it('puts back an instance a delta changed when the next full listing has it as the listing before', async () => {
    const listing = wire(4000, 8);
    const full = gzipSync(bodyOf(listing, appsHashcode(listing.map((w) => w.status))));
    // The delta says i-5 went DOWN, with the hash of the listing before: applied, the view no longer matches it.
    const delta = Buffer.from(
      JSON.stringify(encodeApplications([{ ...listing[5]!, status: 'DOWN', actionType: 'MODIFIED' }], '8', appsHashcode(listing.map((w) => w.status)))),
    );
    const paths: string[] = [];
    const server = createServer((req, res) => {
      paths.push(req.url ?? '');
      if (req.url?.endsWith('/apps/delta') === true) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(delta);
      } else {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': full.length });
        res.end(full);
      }
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const registry = new EurekaRegistry({ serviceUrls: [`http://127.0.0.1:${port}/eureka`], registryFetchIntervalMs: 3_600_000 });
    try {
      const changes: RegistryChange[] = [];
      registry.onChange((change) => changes.push(change));
      await registry.refresh();
      const before = new Map(registry.instances().map((i) => [i.instanceId, i]));
      expect(before.get('i-5')?.status).toBe('UP');
      // The delta, its hash check failing, then the full fetch: every instance listed as the time before.
      await registry.refresh();
      expect(paths.map((path) => path.replace(/^\/eureka/, ''))).toEqual(['/apps', '/apps/delta', '/apps']);
      const after = new Map(registry.instances().map((i) => [i.instanceId, i]));
      expect(after.size).toBe(4000);
      // i-5 is back as listed; the others keep the very records they had.
      expect(changes.at(-1)!.modified.map((m) => [m.current.instanceId, m.previous.status, m.current.status])).toEqual([['i-5', 'DOWN', 'UP']]);
      for (const id of ['i-0', 'i-6', 'i-3999']) expect(after.get(id)).toBe(before.get(id));
    } finally {
      await registry.close();
      server.close();
    }
  });
});

describe('InstanceCache views under deltas (patched, not rebuilt)', () => {
  it('keeps every view equal to a fresh build across random deltas, and leaves untouched views as they were', () => {
    const apps = ['A', 'B', 'C', 'D'];
    let seed = 11;
    const random = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    const vipOf = (app: string, i: number): string => (i % 5 === 0 ? `${app.toLowerCase()},shared` : app.toLowerCase());
    const initial = Array.from({ length: 400 }, (_, i) => record(`i${i}`, apps[i % 4]!, { vipAddress: vipOf(apps[i % 4]!, i) }));
    const cache = new InstanceCache();
    cache.replaceAll(initial);
    const queries = ['a', 'b', 'shared', 'a,shared', 'c, d'];
    for (const q of queries) cache.upByVip(q);
    cache.byApp('A');
    let live = [...initial];
    let next = 400;
    for (let round = 0; round < 60; round++) {
      const before = new Map(queries.map((q) => [q, cache.byVip(q)]));
      const upserts: RegistryInstance[] = [];
      const removals: RegistryInstance[] = [];
      for (let k = 0; k < 6; k++) {
        const pick = live[random(live.length)]!;
        const action = random(4);
        if (action === 0) removals.push(pick);
        else if (action === 1) upserts.push(record(`i${next}`, apps[random(4)]!, { vipAddress: vipOf(apps[random(4)]!, next++) }));
        else if (action === 2) upserts.push(record(pick.instanceId, pick.app, { vipAddress: pick.vipAddress, status: pick.status === 'UP' ? 'DOWN' : 'UP' }));
        // A record that moves to another VIP.
        else upserts.push(record(pick.instanceId, pick.app, { vipAddress: vipOf(apps[random(4)]!, random(10)), status: pick.status }));
      }
      const change = cache.apply(upserts, removals);
      live = [...cache.all()];
      const fresh = new InstanceCache();
      fresh.replaceAll(live);
      for (const q of queries) {
        expect(ids(cache.byVip(q))).toEqual(ids(fresh.byVip(q)));
        expect(ids(cache.upByVip(q))).toEqual(ids(fresh.upByVip(q)));
        expect(Object.isFrozen(cache.upByVip(q))).toBe(true);
        const touched = [...change.added, ...change.removed, ...change.modified.flatMap((m) => [m.previous, m.current])].some((r) =>
          fresh.byVip(q).includes(r) || before.get(q)!.includes(r),
        );
        if (!touched) expect(cache.byVip(q)).toBe(before.get(q));
      }
      expect(ids(cache.byApp('A'))).toEqual(ids(fresh.byApp('A')));
    }
  });
});
