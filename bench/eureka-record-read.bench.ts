// What a balancer's pick pays to read a cached Eureka record: the fields a caller reads on each request
// (`hostName`, `port`, `ipAddr`, `status`) of the compact records the client caches, against the same reads of
// the plain decoded records (what a client that keeps the parsed JSON, such as eureka-js-client, reads), in the
// same process and run.
//
// Set-up: a synthetic registry of 10,000 instances (eureka-payload.ts), decoded and compacted as a full fetch
// does; the 50 records of one VIP are read round robin, PICKS reads a round, ROUNDS rounds alternating the two
// kinds of record (medians reported). Three fleets, as host names are kept three ways: the payload's
// (`host:app:port` ids, the host name read from the id), host name equal to the IP address (Spring's
// `preferIpAddress`), and ids of their own (EC2 instance ids, the host name held). Allocation: heap used after
// PICKS reads minus before them, a GC forced before, over the reads (a round during which a scavenge ran is left
// out; the least of 4 tries, the first ones compiling the loop). CPU only: one thread, no I/O; on a loaded machine the ns vary, the ratio less.
// Run: npx tsx bench/eureka-record-read.bench.ts   (node --expose-gc --import tsx for the allocation column)
import { PerformanceObserver } from 'node:perf_hooks';
import { InstancePool } from '../src/registry/eureka/EurekaInstance.js';
import { decodeApplications } from '../src/registry/eureka/wire.js';
import type { RegistryInstance } from '../src/registry/types.js';
import { payload } from './eureka-payload.js';
import { fmt, median, table } from './support.js';

const PICKS = 1_000_000;
const ROUNDS = 9;
const VIP = 'service-001';

type Fleet = 'host:app:port ids' | 'host name = IP address' | 'ids of their own';

function recordsOf(fleet: Fleet): { plain: RegistryInstance[]; compact: RegistryInstance[] } {
  const decoded = decodeApplications(JSON.parse(payload(10_000, 200)), Date.now()).instances.map((entry) => entry.instance);
  const plain = decoded.map((instance, i) =>
    fleet === 'host name = IP address'
      ? { ...instance, hostName: instance.ipAddr }
      : fleet === 'ids of their own'
        ? { ...instance, instanceId: `i-${(0x1000000 + i).toString(16)}0abc1234` }
        : instance,
  );
  const pool = new InstancePool();
  const compact = plain.map((instance) => pool.compact(instance));
  const ofVip = (list: RegistryInstance[]) => list.filter((r) => r.vipAddress === VIP && r.status === 'UP');
  return { plain: ofVip(plain), compact: ofVip(compact) };
}

let sink = 0;

/** One round of PICKS reads: ns per read of the four fields. */
function pickRound(list: readonly RegistryInstance[]): number {
  let at = 0;
  let acc = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < PICKS; i++) {
    const record = list[at]!;
    at = at + 1 === list.length ? 0 : at + 1;
    acc += record.hostName.length + record.port + record.ipAddr.length + (record.status === 'UP' ? 1 : 0);
  }
  const ns = Number(process.hrtime.bigint() - started) / PICKS;
  sink += acc;
  return ns;
}

let scavenges = 0;
new PerformanceObserver((list) => (scavenges += list.getEntries().length)).observe({ entryTypes: ['gc'] });
const gc = (globalThis as { gc?: () => void }).gc;

/** Bytes allocated per read, or NaN (no --expose-gc, or a GC ran in every try). */
function allocationPerRead(list: readonly RegistryInstance[]): number {
  // The first tries compile the loop (code and feedback are heap too): the least of a few is the reads' own.
  let least = Number.NaN;
  for (let i = 0; i < 4; i++) {
    const bytes = allocationTry(list);
    if (!(bytes >= least)) least = bytes;
  }
  return least;
}

function allocationTry(list: readonly RegistryInstance[]): number {
  if (gc === undefined) return Number.NaN;
  gc();
  const before = process.memoryUsage().heapUsed;
  const gcs = scavenges;
  let acc = 0;
  const reads = 100_000;
  for (let i = 0; i < reads; i++) {
    const record = list[i % list.length]!;
    acc += record.hostName.length + record.port + record.ipAddr.length + (record.status === 'UP' ? 1 : 0);
  }
  const bytes = (process.memoryUsage().heapUsed - before) / reads;
  sink += acc;
  return scavenges === gcs ? bytes : Number.NaN;
}

const rows: Record<string, string | number>[] = [];
for (const fleet of ['host:app:port ids', 'host name = IP address', 'ids of their own'] as const) {
  const { plain, compact } = recordsOf(fleet);
  const times = { plain: [] as number[], compact: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which goes first, so neither always runs on a warmer or a cooler machine.
    if (round % 2 === 0) {
      times.plain.push(pickRound(plain));
      times.compact.push(pickRound(compact));
    } else {
      times.compact.push(pickRound(compact));
      times.plain.push(pickRound(plain));
    }
  }
  const plainNs = median(times.plain);
  const compactNs = median(times.compact);
  rows.push({
    fleet,
    records: compact.length,
    'plain record ns / pick': fmt(plainNs, 2),
    'compact record ns / pick': fmt(compactNs, 2),
    'compact / plain': fmt(compactNs / plainNs, 2),
    'compact bytes allocated / pick': fmt(allocationPerRead(compact), 1),
    'plain bytes allocated / pick': fmt(allocationPerRead(plain), 1),
  });
}
table(`Reading hostName, port, ipAddr and status of one VIP's records round robin (${ROUNDS} rounds of ${PICKS} picks, medians)`, rows);
if (sink === 42) console.log('');
