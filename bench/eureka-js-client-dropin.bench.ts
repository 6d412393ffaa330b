// The drop-in `Eureka` of karyon-ts/eureka-js-client against eureka-js-client 4.5.0 itself, each built from the
// same eureka-js-client configuration, in the same run:
//  1. memory: heap retained per instance by the whole client after its first full fetch (start(cb));
//  2. full apply: from the moment the server finished sending the gzipped `GET /apps` body to the client's
//     start callback (receive, gunzip, parse, apply); the payload server runs in the parent process, the
//     client in a child, and both stamp time with performance.timeOrigin + now();
//  3. delta apply: the same for `GET /apps/delta` (100 MODIFIED instances, a consistent apps__hashcode), through
//     fetchRegistry(cb) with shouldUseDelta: true, 5 deltas per child, the median;
//  4. heartbeat CPU: a registered client (fetchRegistry: false) heartbeating every 20 ms; the child's CPU time
//     (process.cpuUsage) per `heartbeat` event over 100 heartbeats.
// Payload: 10,000 instances in 200 apps (a Spring Cloud fleet's records, 2% DOWN, some OUT_OF_SERVICE and
// STARTING), filterUpInstances: false on both so both keep every status. One child process per variant and round
// (heaps do not mix), started with --expose-gc; 3 rounds with the order alternating; medians.
// Run: npx tsx bench/eureka-js-client-dropin.bench.ts
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { appsHashcode } from '../src/registry/eureka/wire.js';
import { fleet } from './eureka-payload.js';
import type { FleetInstance } from './eureka-payload.js';
import { fmt, heapUsed, median, table } from './support.js';

const INSTANCES = 10_000;
const APPS = 200;
const DELTA_SIZE = 100;
const ROUNDS = 3;
const DELTAS = 5;
const HEARTBEATS = 100;
const VARIANTS = ['karyon-ts/eureka-js-client', 'eureka-js-client'] as const;
type Variant = (typeof VARIANTS)[number];

const now = (): number => performance.timeOrigin + performance.now();

function body(instances: readonly FleetInstance[], hashcode: string): Buffer {
  const byApp = new Map<string, FleetInstance[]>();
  for (const instance of instances) byApp.set(instance.app, [...(byApp.get(instance.app) ?? []), instance]);
  const application = [...byApp].map(([name, instance]) => ({ name, instance }));
  return gzipSync(JSON.stringify({ applications: { versions__delta: '1', apps__hashcode: hashcode, application } }));
}

// ---- child ---------------------------------------------------------------------------------------------

interface JsClient {
  start(cb: (error?: Error | null) => void): void;
  stop(cb: (error?: Error | null) => void): void;
  fetchRegistry(cb: (error?: Error | null) => void): void;
  getInstancesByVipAddress(vip: string): unknown[];
  on(event: string, listener: () => void): unknown;
}
type JsClientConstructor = new (config: Record<string, unknown>) => JsClient;

interface ChildResult {
  readonly bytesPerInstance: number;
  /** When start(cb) was called back, and when each delta's fetchRegistry(cb) was (epoch ms). */
  readonly fullDoneAt: number;
  readonly deltaDoneAt: number[];
  readonly heartbeatCpuUs: number;
  readonly cached: number;
}

async function child(variant: Variant, port: number): Promise<ChildResult> {
  const { Eureka } = (variant === 'eureka-js-client'
    ? createRequire(import.meta.url)('eureka-js-client')
    : await import('../src/eureka-js-client/index.js')) as unknown as { Eureka: JsClientConstructor };
  const silent = { debug() {}, info() {}, warn() {}, error() {} };
  const instance = {
    app: 'bench',
    instanceId: `127.0.0.1:bench:${process.pid}`,
    hostName: '127.0.0.1',
    ipAddr: '127.0.0.1',
    port: { $: 8080, '@enabled': true },
    vipAddress: 'bench',
    dataCenterInfo: { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' },
  };
  const make = (eureka: Record<string, unknown>, shouldUseDelta: boolean): JsClient =>
    new Eureka({ logger: silent, instance, shouldUseDelta, eureka: { host: '127.0.0.1', port, servicePath: '/eureka/v2/apps/', filterUpInstances: false, registryFetchInterval: 3_600_000, heartbeatInterval: 3_600_000, ...eureka } });
  const call = (fn: (cb: (error?: Error | null) => void) => void): Promise<void> => new Promise((resolve, reject) => fn((error) => (error ? reject(error) : resolve())));

  // Warm the code on a small registry first, so the measured fetch is not the first one compiled.
  const warm = make({ registerWithEureka: false, fetchRegistry: true, servicePath: '/small/eureka/v2/apps/' }, true);
  await call((cb) => warm.start(cb));
  await call((cb) => warm.fetchRegistry(cb));
  await call((cb) => warm.stop(cb));

  const client = make({ registerWithEureka: false, fetchRegistry: true }, true);
  const before = heapUsed();
  await call((cb) => client.start(cb));
  const fullDoneAt = now();
  client.getInstancesByVipAddress('service-001');
  const bytesPerInstance = (heapUsed() - before) / INSTANCES;
  const cached = Array.from({ length: APPS }, (_, i) => client.getInstancesByVipAddress(`service-${String(i).padStart(3, '0')}`).length).reduce((a, b) => a + b, 0);
  const deltaDoneAt: number[] = [];
  for (let i = 0; i < DELTAS; i++) {
    await call((cb) => client.fetchRegistry(cb));
    deltaDoneAt.push(now());
  }
  await call((cb) => client.stop(cb));

  const beating = make({ registerWithEureka: true, fetchRegistry: false, heartbeatInterval: 20 }, false);
  let beats = 0;
  let cpu: NodeJS.CpuUsage | undefined;
  const done = new Promise<number>((resolve) =>
    beating.on('heartbeat', () => {
      beats++;
      if (beats === 5) cpu = process.cpuUsage(); // after the first few, once the code is warm
      if (beats === 5 + HEARTBEATS) {
        const used = process.cpuUsage(cpu);
        resolve((used.user + used.system) / HEARTBEATS);
      }
    }),
  );
  await call((cb) => beating.start(cb));
  const heartbeatCpuUs = await done;
  await call((cb) => beating.stop(cb));
  return { bytesPerInstance, fullDoneAt, deltaDoneAt, heartbeatCpuUs, cached };
}

// ---- parent --------------------------------------------------------------------------------------------

async function parent(): Promise<void> {
  const instances = fleet(INSTANCES, APPS);
  const hashcode = appsHashcode(instances.map((i) => i.status));
  const full = body(instances, hashcode);
  const small = body(fleet(500, 20), appsHashcode(fleet(500, 20).map((i) => i.status)));
  // A delta: metadata changed on 100 instances, no status changed, so the view still hashes to `hashcode`.
  const modified = instances.filter((_, i) => i % (INSTANCES / DELTA_SIZE) === 1).map((i) => ({ ...i, actionType: 'MODIFIED', metadata: { ...i.metadata, version: '1.5.0' }, lastDirtyTimestamp: String(Number(i.lastDirtyTimestamp) + 60_000) }));
  const delta = body(modified, hashcode);
  const smallDelta = body([], appsHashcode(fleet(500, 20).map((i) => i.status)));
  let sentFull = 0;
  const sentDelta: number[] = [];
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/\/+$/, '');
    if (req.method !== 'GET') {
      // register (POST), heartbeat (PUT), cancel (DELETE)
      req.resume();
      res.writeHead(req.method === 'POST' ? 204 : 200, { 'content-length': 0 }).end();
      return;
    }
    const payload = path === '/eureka/v2/apps' ? full : path === '/eureka/v2/apps/delta' ? delta : path === '/small/eureka/v2/apps' ? small : path === '/small/eureka/v2/apps/delta' ? smallDelta : undefined;
    if (payload === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': payload.length });
    res.end(payload, () => {
      if (payload === full) sentFull = now();
      if (payload === delta) sentDelta.push(now());
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  console.log(`payload: ${INSTANCES} instances in ${APPS} apps (${fmt(full.length / 1024, 0)} KiB gzipped); delta: ${DELTA_SIZE} MODIFIED (${fmt(delta.length / 1024, 1)} KiB gzipped); ${ROUNDS} rounds`);

  const results = new Map<Variant, { bytes: number[]; fullMs: number[]; deltaMs: number[]; beatUs: number[]; cached: number }>(VARIANTS.map((v) => [v, { bytes: [], fullMs: [], deltaMs: [], beatUs: [], cached: 0 }]));
  const script = fileURLToPath(import.meta.url);
  for (let round = 0; round < ROUNDS; round++) {
    for (const variant of round % 2 === 0 ? VARIANTS : [...VARIANTS].reverse()) {
      sentDelta.length = 0;
      const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', script, 'child', variant, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      const [code] = (await once(child, 'exit')) as [number | null];
      if (code !== 0) throw new Error(`child for ${variant} exited with ${code}`);
      const r = JSON.parse(out.trim().split('\n').pop()!) as ChildResult;
      if (sentDelta.length !== DELTAS) throw new Error(`${variant}: ${sentDelta.length} delta fetches for ${DELTAS} fetchRegistry() calls`);
      const into = results.get(variant)!;
      into.bytes.push(r.bytesPerInstance);
      into.fullMs.push(r.fullDoneAt - sentFull);
      into.deltaMs.push(median(r.deltaDoneAt.map((t, i) => t - sentDelta[i]!)));
      into.beatUs.push(r.heartbeatCpuUs);
      into.cached = r.cached;
    }
  }
  server.close();
  const summary = VARIANTS.map((variant) => {
    const r = results.get(variant)!;
    return { variant, bytes: median(r.bytes), fullMs: median(r.fullMs), deltaMs: median(r.deltaMs), beatUs: median(r.beatUs), cached: r.cached };
  });
  table(
    'Each client after its first full fetch, then 5 deltas, then 100 heartbeats (medians)',
    summary.map((s) => ({
      client: s.variant,
      'instances cached': s.cached,
      'heap bytes / instance': fmt(s.bytes, 0),
      'full apply (ms)': fmt(s.fullMs, 1),
      'delta apply (ms)': fmt(s.deltaMs, 2),
      'CPU µs / heartbeat': fmt(s.beatUs, 0),
    })),
  );
  const [ours, theirs] = summary as [(typeof summary)[0], (typeof summary)[0]];
  table('drop-in / eureka-js-client (lower is better)', [
    { memory: fmt(ours.bytes / theirs.bytes, 3), 'full apply': fmt(ours.fullMs / theirs.fullMs, 2), 'delta apply': fmt(ours.deltaMs / theirs.deltaMs, 2), 'heartbeat CPU': fmt(ours.beatUs / theirs.beatUs, 2) },
  ]);
}

if (process.argv[2] === 'child') {
  // The drop-in's timers are unref'd, as a library's are: something must hold the process while it waits.
  setInterval(() => undefined, 1000);
  const result = await child(process.argv[3] as Variant, Number(process.argv[4]));
  console.log(JSON.stringify(result));
  process.exit(0); // eureka-js-client's keep-alive sockets would hold the child; the measurement is done.
} else {
  await parent();
}
