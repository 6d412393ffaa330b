// The first full registry fetch and the deltas after it: karyon-ts (EurekaRegistry) against eureka-js-client 4.5.0
// and the Java Eureka client (Netflix's com.netflix.discovery.DiscoveryClient 2.0.6, the version Spring Cloud
// 2025.1 ships, with Netflix's Jersey 3 transport), in the same run, on the same registry.
//
// Set-up: this (parent) process serves a synthetic `GET /apps` (eureka-payload.ts: Spring Boot instances, 50 per
// app, 4% of them not UP) over loopback at each size (EUREKA_JAVA_SIZES, default 10,000 and 100,000), gzipped
// when the client asks for it (as Eureka servers do), and `GET /apps/delta`: each delta 100 instances MODIFIED
// (new metadata version and dirty timestamp, statuses unchanged, so the registry's apps__hashcode holds and no
// client falls back to a full fetch). Each client runs in a fresh process of its own, one after the other:
//   karyon-ts and eureka-js-client: Node (this Node, --expose-gc, default heap, nothing else loaded);
//   Java: OpenJDK 17 (the `java` on the PATH), `-Xmx2g -XX:+UseG1GC`, full tiered JIT (C1 and C2), started by
//   interop/eureka-fetch (built with Maven from Maven Central, as the interop tests build it).
// In every process the client's code is warmed first by one client that fetches a 2,000-instance registry of other
// apps and hosts (2 MiB: karyon-ts decodes a body that large on a worker thread, as it does the measured ones; in
// the JVM this also loads the classes), and a second throw-away client fetches an empty registry (what the client
// costs around no registry, reported for reference, not subtracted); each is closed and given 1 s to free what it
// held. Then the measured client:
//   time to the first full fetch applied: from the client's own start of the fetch (its GET /apps; for Java the
//     request through its transport, for karyon-ts its `fetch` event's durationMs, for eureka-js-client the call
//     of fetchRegistry) to its view updated (Java: the CacheRefreshedEvent). JVM start-up, class loading and the
//     warm-up are not in it. Also from the client's constructor ("from constructor").
//   memory per instance: heap used after full GCs (Node: heapUsed + external after two gc(); Java: MemoryMXBean
//     heap used after two System.gc()) with the client holding the registry, minus the same before it was made,
//     over the instances it holds (every status: filterUpInstances / filterOnlyUpInstances off for the peers).
//     karyon-ts keeps its decoding worker thread (its own V8 heap, not in heapUsed; each client makes its own,
//     and starting it is inside the measured fetch); the growth of the resident set is reported as a cross-check,
//     with the client holding the registry and again after it is closed (and its worker ended).
//   GC pauses during the fetch: Node's PerformanceObserver 'gc' entries, Java's GarbageCollectorMXBean
//     notifications (young/mixed and full pauses; G1's remark and cleanup pauses have none on Java 17), their
//     count, sum and longest; and the longest gap between the wake-ups of a 1 ms ticker (Node: a setInterval on
//     the event loop, i.e. the longest event-loop block; Java: a thread sleeping 1 ms, which stops at every
//     safepoint), which counts time other processes held the CPU too.
//   CPU: the process's CPU time over the fetch (every thread: GC, JIT, zlib; process.cpuUsage() and
//     OperatingSystemMXBean.getProcessCpuTime()), and the fetching thread's (Node: the event loop's, from
//     /proc/thread-self/schedstat; Java: ThreadMXBean of the thread that fetched and applied it). CPU time does
//     not count the time other processes held the CPU, unlike the wall times.
//   bytes on the wire: the body bytes this server sent for the measured GET /apps (compressed or not, as asked).
//   deltas (EUREKA_JAVA_DELTAS, default 10, one a second): Java's own 1 s fetch interval, timed from its GET
//     /apps/delta to the view applied, with its fetching thread's CPU; karyon-ts: refresh() once a second, timed from
//     the call to the view updated, with the event loop's CPU; eureka-js-client: fetchRegistry() once a second
//     with shouldUseDelta (its delta path is known to mis-apply modifications, see docs: timed, not trusted).
// Rounds: EUREKA_JAVA_ROUNDS (default 3); the order of the clients rotates every round; medians are reported.
// Run: npx tsx bench/eureka-java-client.bench.ts
//      EUREKA_JAVA_SIZES=10000 EUREKA_JAVA_ROUNDS=1 npx tsx bench/eureka-java-client.bench.ts
// Needs java and mvn (skips itself, saying so, without them).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PerformanceObserver } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { EurekaRegistry } from '../src/registry/eureka/index.js';
import type { FetchEvent } from '../src/index.js';
import { buildInterop, interopMissing, killAll, startEurekaFetch } from '../test/interop/harness.js';
import type { EurekaFetchLine } from '../test/interop/harness.js';
import { appsOf, fleet, makeJsClient, payload } from './eureka-payload.js';
import type { FleetInstance, JsClient } from './eureka-payload.js';
import { fmt, gapTicker, gc, median, table } from './support.js';

const SIZES = (process.env.EUREKA_JAVA_SIZES ?? '10000,100000').split(',').map(Number);
const ROUNDS = Number(process.env.EUREKA_JAVA_ROUNDS ?? 3);
const DELTAS = Number(process.env.EUREKA_JAVA_DELTAS ?? 10);
const CHANGES = 100;
/** Instances of the warm-up registry: a body over 512 KiB, so karyon-ts warms its worker-thread decoding path too. */
const WARMUP_SIZE = 2000;
const JVM = ['-Xmx2g', '-XX:+UseG1GC'];
const VARIANTS = ['karyon-ts', 'eureka-js-client', 'Java DiscoveryClient'] as const;
type Variant = (typeof VARIANTS)[number];

// ---- child: one Node client, one process; it prints the same JSON lines as interop/eureka-fetch -------------

const send = (line: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(line)}\n`);

/** CPU time of the calling thread (ms), from /proc/thread-self/schedstat; NaN where there is none. */
function threadCpuMs(): number {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return NaN;
  }
}

/** Heap and off-heap memory in use after two full collections. */
function memoryUsed(): number {
  gc();
  gc();
  const { heapUsed, external } = process.memoryUsage();
  return heapUsed + external;
}

/** A client under test, as the child drives it. */
interface NodeClient {
  /** Fetches (the first call: the full registry); resolves with the fetch's own time when the client reports one. */
  fetch(): Promise<{ ms: number | undefined; kind: string }>;
  held(): number;
  close(): Promise<void>;
}

function makeClient(variant: Variant, url: string): NodeClient {
  if (variant === 'karyon-ts') {
    const registry = new EurekaRegistry({
      serviceUrls: [url],
      registryFetchIntervalMs: 3_600_000,
      maxResponseBytes: 1024 * 1024 * 1024,
      requestTimeoutMs: 120_000,
    });
    const events: FetchEvent[] = [];
    registry.on('fetch', (event) => events.push(event));
    return {
      async fetch() {
        events.length = 0;
        await registry.refresh();
        const last = events.at(-1);
        return { ms: last?.durationMs, kind: last?.kind ?? '?' };
      },
      held: () => registry.instances().length,
      close: () => registry.close(),
    };
  }
  const client: JsClient & { config?: { shouldUseDelta?: boolean } } = makeJsClient(url, true);
  // Its refreshes after the first fetch ask for deltas (off by default).
  if (client.config !== undefined) client.config.shouldUseDelta = true;
  let fetched = false;
  return {
    fetch: () =>
      new Promise((resolve, reject) =>
        client.fetchRegistry((error) => {
          if (error) return reject(error);
          const kind = fetched ? 'delta' : 'full';
          fetched = true;
          resolve({ ms: undefined, kind });
        }),
      ),
    held: () => Object.values(client.cache.app).reduce((n, list) => n + list.length, 0),
    close: async () => undefined,
  };
}

async function child(variant: Variant, url: string, warmupUrl: string, emptyUrl: string): Promise<void> {
  send({ event: 'start', node: process.version });
  for (const [event, other] of [['warmup', warmupUrl], ['empty', emptyUrl]] as const) {
    const started = performance.now();
    const client = makeClient(variant, other);
    const { ms } = await client.fetch();
    const constructMs = performance.now() - started;
    send({ event, instances: client.held(), fetchMs: ms ?? constructMs, constructMs });
    await client.close();
    // What a closed client frees in the background (karyon-ts: its worker thread and the buffers it held) is
    // freed before the measurement starts, not during it.
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }

  const before = memoryUsed();
  const rssBefore = process.memoryUsage().rss;
  const pauses: { ms: number; kind: number }[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) pauses.push({ ms: entry.duration, kind: (entry as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0 });
  });
  observer.observe({ entryTypes: ['gc'] });
  const ticker = gapTicker();
  const cpu = process.cpuUsage();
  const loopCpu = threadCpuMs();
  const started = performance.now();
  const client = makeClient(variant, url);
  const first = await client.fetch();
  const constructMs = performance.now() - started;
  const processCpuMs = (() => {
    const used = process.cpuUsage(cpu);
    return (used.user + used.system) / 1000;
  })();
  const fetchThreadCpuMs = threadCpuMs() - loopCpu;
  const { maxGapMs } = ticker.stop();
  // GC entries are delivered in a later task.
  await new Promise((resolve) => setImmediate(resolve));
  observer.disconnect();
  const held = client.held();
  const heapBytes = memoryUsed() - before;
  send({
    event: 'full',
    kind: first.kind,
    instances: held,
    fetchMs: first.ms ?? constructMs,
    constructMs,
    fetchThreadCpuMs,
    processCpuMs,
    gcCount: pauses.length,
    gcTotalMs: pauses.reduce((sum, p) => sum + p.ms, 0),
    gcMaxMs: pauses.reduce((max, p) => Math.max(max, p.ms), 0),
    tickerMaxGapMs: maxGapMs,
    heapBytes,
    heapBytesPerInstance: held === 0 ? 0 : heapBytes / held,
    rssBytes: process.memoryUsage().rss - rssBefore,
  });

  for (let i = 1; i <= DELTAS; i++) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const cpuBefore = threadCpuMs();
    const t0 = performance.now();
    const { ms, kind } = await client.fetch();
    const wall = performance.now() - t0;
    send({ event: 'delta', index: i, kind, instances: client.held(), ms: ms ?? wall, callMs: wall, threadCpuMs: threadCpuMs() - cpuBefore });
  }
  await client.close();
  // A worker thread a client ended goes away in the background.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  memoryUsed();
  send({ event: 'closed', rssBytes: process.memoryUsage().rss - rssBefore });
  send({ event: 'done' });
  process.exit(0);
}

// ---- parent: the registry, the clients, the tables ---------------------------------------------------------------

/** A client process's JSON lines, read in order. */
interface LineSource {
  next(event: string): Promise<EurekaFetchLine>;
  kill(): Promise<void>;
}

function startNodeChild(variant: Variant, url: string, warmupUrl: string, emptyUrl: string): LineSource {
  const script = fileURLToPath(import.meta.url);
  const proc: ChildProcess = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', script, 'child', variant, url, warmupUrl, emptyUrl], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  return {
    async next(event) {
      for (;;) {
        const { value, done } = await lines.next();
        if (done === true) throw new Error(`the ${variant} child ended before a ${event} line`);
        if (!value.startsWith('{')) continue;
        const line = JSON.parse(value) as EurekaFetchLine;
        if (line.event === event) return line;
      }
    },
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await once(proc, 'exit');
      }
    },
  };
}

/** What one client did in one round. */
interface Run {
  readonly empty: EurekaFetchLine;
  readonly full: EurekaFetchLine;
  readonly deltas: readonly EurekaFetchLine[];
  /** The resident set's growth once the client is closed. */
  readonly closed: EurekaFetchLine;
  /** The body bytes sent for the measured GET /apps, and whether they were gzipped. */
  readonly wireBytes: number;
  readonly gzip: boolean;
}

/** Per client process (a tag in its URLs): what the server sent it. */
interface Served {
  fullBytes: number;
  gzip: boolean;
  deltas: number;
}

/** The body of the `k`th delta of a registry: CHANGES instances of `instances` MODIFIED, statuses unchanged. */
function deltaBody(instances: readonly FleetInstance[], hashcode: string, k: number): string {
  const byApp = new Map<string, FleetInstance[]>();
  const stride = Math.max(1, Math.floor(instances.length / CHANGES));
  for (let j = 0; j < Math.min(CHANGES, instances.length); j++) {
    const original = instances[(k * 7919 + j * stride) % instances.length]!;
    const changed: FleetInstance = {
      ...original,
      metadata: { ...original.metadata, version: `2.${k}.${j}` },
      lastDirtyTimestamp: String(Number(original.lastDirtyTimestamp) + k * 1000),
      lastUpdatedTimestamp: String(Number(original.lastUpdatedTimestamp) + k * 1000),
      actionType: 'MODIFIED',
    };
    const list = byApp.get(changed.app) ?? [];
    list.push(changed);
    byApp.set(changed.app, list);
  }
  const application = [...byApp].map(([name, instance]) => ({ name, instance }));
  return JSON.stringify({ applications: { versions__delta: String(k + 1), apps__hashcode: hashcode, application } });
}

async function parent(): Promise<void> {
  if (interopMissing !== undefined) {
    console.log(`skipped: ${interopMissing} (the Java client is a peer of this benchmark)`);
    return;
  }
  await buildInterop();
  const fulls = new Map<string, { plain: Buffer; gz: Buffer; hashcode: string; instances: FleetInstance[] }>();
  const add = (name: string, size: number, rename = false): void => {
    // The warm-up registry names other apps and hosts, so that nothing the measured client holds was made for it.
    const made = payload(size, appsOf(size));
    const text = rename ? made.replaceAll('SERVICE-', 'WARMUP-').replaceAll('service-', 'warmup-').replaceAll('ip-10-', 'ip-11-').replaceAll('"10.', '"11.') : made;
    const plain = Buffer.from(text);
    const hashcode = /"apps__hashcode":"([^"]*)"/.exec(text.slice(0, 400))?.[1] ?? '';
    fulls.set(name, { plain, gz: gzipSync(plain), hashcode, instances: size > 0 && !rename ? fleet(size, appsOf(size)) : [] });
  };
  add('small', WARMUP_SIZE, true);
  add('empty', 0);
  for (const size of SIZES) add(String(size), size);
  const served = new Map<string, Served>();
  const server = createServer((req, res) => {
    // /{tag}/{registry}/apps[/delta]: the tag names the client process, so bytes are counted per client.
    const [, tag = '', name = '', apps, delta] = new URL(req.url ?? '/', 'http://x').pathname.replace(/\/+$/, '').split('/');
    const registry = fulls.get(name);
    if (registry === undefined || apps !== 'apps' || (delta !== undefined && delta !== 'delta')) {
      res.writeHead(404).end();
      return;
    }
    const gzip = String(req.headers['accept-encoding'] ?? '').includes('gzip');
    const stats = served.get(tag) ?? { fullBytes: 0, gzip: false, deltas: 0 };
    served.set(tag, stats);
    let body: Buffer;
    if (delta === undefined) {
      body = gzip ? registry.gz : registry.plain;
      if (name !== 'small' && name !== 'empty') {
        stats.fullBytes += body.length;
        stats.gzip = gzip;
      }
    } else {
      const plain = Buffer.from(deltaBody(registry.instances, registry.hashcode, ++stats.deltas));
      body = gzip ? gzipSync(plain) : plain;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length, ...(gzip ? { 'content-encoding': 'gzip' } : {}) });
    res.end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  console.log(
    `registry sizes ${SIZES.join(', ')} (${SIZES.map((s) => `${fmt(fulls.get(String(s))!.plain.length / 1048576, 1)} MiB of JSON, ${fmt(fulls.get(String(s))!.gz.length / 1048576, 2)} MiB gzipped`).join('; ')}); ` +
      `${ROUNDS} round(s); ${DELTAS} deltas of ${CHANGES} changes each; JVM ${JVM.join(' ')}; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
  );

  let tags = 0;
  const runOnce = async (variant: Variant, size: number): Promise<Run> => {
    const tag = `c${++tags}`;
    const [url, warmupUrl, emptyUrl] = [String(size), 'small', 'empty'].map((name) => `${base}/${tag}/${name}`) as [string, string, string];
    const source: LineSource =
      variant === 'Java DiscoveryClient'
        ? startEurekaFetch({ url, warmupUrl, emptyUrl, deltas: DELTAS, fetchIntervalSeconds: 1, timeoutSeconds: 600, jvm: JVM })
        : startNodeChild(variant, url, warmupUrl, emptyUrl);
    try {
      await source.next('warmup');
      const empty = await source.next('empty');
      const full = await source.next('full');
      const deltas: EurekaFetchLine[] = [];
      for (let i = 0; i < DELTAS; i++) deltas.push(await source.next('delta'));
      const closed = await source.next('closed');
      const stats = served.get(tag);
      return { empty, full, deltas, closed, wireBytes: stats?.fullBytes ?? NaN, gzip: stats?.gzip ?? false };
    } finally {
      await source.kill();
    }
  };

  const runs = new Map<string, Run[]>();
  const key = (size: number, variant: Variant): string => `${size}/${variant}`;
  for (const size of SIZES) {
    for (let round = 0; round < ROUNDS; round++) {
      const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]!);
      for (const variant of order) {
        const run = await runOnce(variant, size);
        runs.set(key(size, variant), [...(runs.get(key(size, variant)) ?? []), run]);
        console.log(
          `  ${size} ${variant} round ${round + 1}: ${String(run.full['instances'])} held, fetch ${fmt(run.full['fetchMs'] as number, 0)} ms, ` +
            `process CPU ${fmt(run.full['processCpuMs'] as number, 0)} ms, ${fmt(run.full['heapBytesPerInstance'] as number, 0)} B/instance`,
        );
      }
    }
  }
  server.close();
  await killAll();

  const num = (line: EurekaFetchLine, field: string): number => Number(line[field]);
  const med = (list: readonly Run[], pick: (run: Run) => number): number => median(list.map(pick));
  interface Summary {
    size: number;
    variant: Variant;
    held: number;
    fetchMs: number;
    constructMs: number;
    emptyMs: number;
    processCpuMs: number;
    threadCpuMs: number;
    bytesPerInstance: number;
    gcMaxMs: number;
    gcTotalMs: number;
    gcCount: number;
    tickerMaxGapMs: number;
    wireBytes: number;
    rssBytes: number;
    rssClosedBytes: number;
    gzip: boolean;
    deltaMs: number;
    deltaCpuMs: number;
    deltaKinds: string;
  }
  const summaries: Summary[] = [];
  for (const size of SIZES) {
    for (const variant of VARIANTS) {
      const list = runs.get(key(size, variant)) ?? [];
      const deltaMs = list.flatMap((r) => r.deltas.map((d) => num(d, 'ms')));
      const deltaCpu = list.flatMap((r) => r.deltas.map((d) => num(d, 'threadCpuMs')));
      const kinds = new Map<string, number>();
      for (const d of list.flatMap((r) => r.deltas)) kinds.set(String(d['kind']), (kinds.get(String(d['kind'])) ?? 0) + 1);
      summaries.push({
        size,
        variant,
        held: num(list[0]!.full, 'instances'),
        fetchMs: med(list, (r) => num(r.full, 'fetchMs')),
        constructMs: med(list, (r) => num(r.full, 'constructMs')),
        emptyMs: med(list, (r) => num(r.empty, 'constructMs')),
        processCpuMs: med(list, (r) => num(r.full, 'processCpuMs')),
        threadCpuMs: med(list, (r) => num(r.full, 'fetchThreadCpuMs')),
        bytesPerInstance: med(list, (r) => num(r.full, 'heapBytesPerInstance')),
        gcMaxMs: med(list, (r) => num(r.full, 'gcMaxMs')),
        gcTotalMs: med(list, (r) => num(r.full, 'gcTotalMs')),
        gcCount: med(list, (r) => num(r.full, 'gcCount')),
        tickerMaxGapMs: med(list, (r) => num(r.full, 'tickerMaxGapMs')),
        wireBytes: med(list, (r) => r.wireBytes),
        rssBytes: med(list, (r) => num(r.full, 'rssBytes')),
        rssClosedBytes: med(list, (r) => num(r.closed, 'rssBytes')),
        gzip: list.every((r) => r.gzip),
        deltaMs: median(deltaMs),
        deltaCpuMs: median(deltaCpu),
        deltaKinds: [...kinds].map(([k, n]) => `${n} ${k}`).join(', '),
      });
    }
  }
  table(
    'First full fetch (medians over rounds; ms unless said)',
    summaries.map((s) => ({
      instances: s.size,
      client: s.variant,
      held: s.held,
      'fetch: time': fmt(s.fetchMs, 0),
      'from constructor': fmt(s.constructMs, 0),
      'empty registry, from constructor': fmt(s.emptyMs, 1),
      'process CPU': fmt(s.processCpuMs, 0),
      'fetching thread CPU': fmt(s.threadCpuMs, 0),
      'bytes / instance': fmt(s.bytesPerInstance, 0),
      'RSS growth (MiB)': fmt(s.rssBytes / 1048576, 1),
      'after close (MiB)': fmt(s.rssClosedBytes / 1048576, 1),
      'longest GC pause': fmt(s.gcMaxMs, 1),
      'GC pauses: sum / count': `${fmt(s.gcTotalMs, 0)} / ${s.gcCount}`,
      'longest 1 ms ticker gap': fmt(s.tickerMaxGapMs, 1),
      'bytes on the wire': `${fmt(s.wireBytes / 1048576, 2)} MiB${s.gzip ? ' gzip' : ' plain'}`,
    })),
  );
  table(
    `Deltas of ${CHANGES} modified instances, one a second (medians over every delta of every round)`,
    summaries.map((s) => ({
      instances: s.size,
      client: s.variant,
      'time per delta': fmt(s.deltaMs, 1),
      'fetching thread CPU per delta': fmt(s.deltaCpuMs, 1),
      'applied as': s.deltaKinds,
    })),
  );
  // Both zero (no GC pause at all): no ratio.
  const ratio = (ours: number, peer: number, decimals = 2): string => (ours === 0 && peer === 0 ? '-' : fmt(ours / peer, decimals));
  const ratios: Record<string, string | number>[] = [];
  for (const size of SIZES) {
    const ours = summaries.find((s) => s.size === size && s.variant === 'karyon-ts')!;
    for (const peer of summaries.filter((s) => s.size === size && s.variant !== 'karyon-ts')) {
      ratios.push({
        instances: size,
        peer: peer.variant,
        'fetch time': ratio(ours.fetchMs, peer.fetchMs),
        'process CPU': ratio(ours.processCpuMs, peer.processCpuMs),
        'fetching thread CPU': ratio(ours.threadCpuMs, peer.threadCpuMs),
        'bytes / instance': ratio(ours.bytesPerInstance, peer.bytesPerInstance, 3),
        'longest GC pause': ratio(ours.gcMaxMs, peer.gcMaxMs),
        'longest ticker gap': ratio(ours.tickerMaxGapMs, peer.tickerMaxGapMs),
        'bytes on the wire': ratio(ours.wireBytes, peer.wireBytes, 3),
        'delta time': ratio(ours.deltaMs, peer.deltaMs),
        'delta thread CPU': ratio(ours.deltaCpuMs, peer.deltaCpuMs),
      });
    }
  }
  table('karyon-ts / peer (below 1: karyon-ts spends less)', ratios);
  for (const size of SIZES) {
    const list = runs.get(key(size, 'Java DiscoveryClient')) ?? [];
    console.log(
      `Java, ${size} instances: longest GC pauses ${list.map((r) => `${String(r.full['gcMaxMs'])} ms ${String(r.full['gcMaxName'])}`).join('; ')}; ` +
        `allocated by the fetching thread: ${fmt(med(list, (r) => num(r.full, 'fetchAllocatedBytes')) / size, 0)} B per instance`,
    );
  }
  console.log(`load average at the end: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
}

if (process.argv[2] === 'child') {
  const [, , , variant, url, warmupUrl, emptyUrl] = process.argv as [string, string, string, Variant, string, string, string];
  await child(variant, url, warmupUrl, emptyUrl);
} else {
  await parent();
}
