// Fetching only the VIPs a service calls (`fetchMode: 'vips'`) against fetching the whole registry (`'full'`), in
// the same run: bytes received and CPU time per refresh, for a service that calls 3 VIPs in a registry of 100,000
// instances (2,000 apps of 50 instances, see eureka-payload.ts).
// Set-up: this (parent) process serves, gzipped when asked (as Eureka servers do), `GET /apps` (the whole
// registry), `GET /apps/delta` (a steady-state delta: 100 instances re-sent unchanged, with the registry's hash) and
// `GET /vips/{vip}` (the VIP's instances with its own hash, versions__delta -1, as the real server answers). Each
// mode runs in its own child process (--expose-gc): the first refresh, then 20 refreshes one after another; CPU time
// is the child's process.cpuUsage() (user + system, all threads) across each refresh; bytes are as received
// (compressed), from the registry's fetch events; heap held after the first refresh, after a GC.
// Run: npx tsx bench/eureka-vips.bench.ts
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { EurekaRegistry } from '../src/registry/eureka/index.js';
import type { FetchEvent } from '../src/registry/eureka/index.js';
import { appsHashcode } from '../src/registry/eureka/wire.js';
import { payload } from './eureka-payload.js';
import { fmt, gc, median, table } from './support.js';

const INSTANCES = 100_000;
const APPS = 2_000;
const VIPS = ['service-001', 'service-777', 'service-1500'];
const REFRESHES = 20;
const MODES = ['full', 'vips'] as const;
type Mode = (typeof MODES)[number];

interface ChildResult {
  readonly firstBytes: number;
  readonly firstCpuMs: number;
  readonly bytesPerRefresh: number;
  readonly cpuMsPerRefresh: number;
  readonly heapMiB: number;
  readonly cached: number;
  readonly kinds: string;
}

const cpuMs = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

async function child(mode: Mode, url: string): Promise<ChildResult> {
  const registry = new EurekaRegistry({
    serviceUrls: [url],
    registryFetchIntervalMs: 3_600_000,
    maxResponseBytes: 1024 * 1024 * 1024,
    requestTimeoutMs: 120_000,
    fetchMode: mode,
    fetchVips: VIPS,
  });
  const events: FetchEvent[] = [];
  registry.on('fetch', (event) => events.push(event));
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  let cpu = cpuMs();
  await registry.refresh();
  const firstCpuMs = cpuMs() - cpu;
  for (const vip of VIPS) registry.upInstancesByVip(vip);
  gc();
  const heapMiB = (process.memoryUsage().heapUsed - heapBefore) / 1024 / 1024;
  const firstBytes = events.reduce((n, e) => n + e.bytes, 0);
  const bytes: number[] = [];
  const cpus: number[] = [];
  for (let i = 0; i < REFRESHES; i++) {
    const seen = events.length;
    cpu = cpuMs();
    await registry.refresh();
    for (const vip of VIPS) registry.upInstancesByVip(vip);
    cpus.push(cpuMs() - cpu);
    bytes.push(events.slice(seen).reduce((n, e) => n + e.bytes, 0));
  }
  const kinds = [...new Set(events.slice(1).map((e) => e.kind))].join(',');
  const cached = registry.instances().length;
  await registry.close();
  return { firstBytes, firstCpuMs, bytesPerRefresh: median(bytes), cpuMsPerRefresh: median(cpus), heapMiB, cached, kinds };
}

async function parent(): Promise<void> {
  const full = payload(INSTANCES, APPS);
  const doc = JSON.parse(full) as { applications: { apps__hashcode: string; application: { name: string; instance: { status: string; vipAddress: string }[] }[] } };
  const bodies = new Map<string, Buffer>();
  bodies.set('/eureka/apps', Buffer.from(full));
  const resent = doc.applications.application.slice(0, 100).map((app) => ({ name: app.name, instance: [{ ...app.instance[0]!, actionType: 'MODIFIED' }] }));
  bodies.set('/eureka/apps/delta', Buffer.from(JSON.stringify({ applications: { versions__delta: '2', apps__hashcode: doc.applications.apps__hashcode, application: resent } })));
  for (const app of doc.applications.application) {
    const vip = app.instance[0]!.vipAddress;
    const hash = appsHashcode(app.instance.map((i) => i.status));
    bodies.set(`/eureka/vips/${vip}`, Buffer.from(JSON.stringify({ applications: { versions__delta: '-1', apps__hashcode: hash, application: [app] } })));
  }
  const gz = new Map<string, Buffer>();
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/\/+$/, '');
    const plain = bodies.get(path);
    if (plain === undefined) {
      res.writeHead(404).end();
      return;
    }
    const gzip = String(req.headers['accept-encoding'] ?? '').includes('gzip');
    let body = plain;
    if (gzip) {
      body = gz.get(path) ?? gzipSync(plain);
      gz.set(path, body);
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length, ...(gzip ? { 'content-encoding': 'gzip' } : {}) });
    res.end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/eureka`;
  console.log(`registry: ${INSTANCES} instances in ${APPS} apps (${fmt(bodies.get('/eureka/apps')!.length / 1024 / 1024, 1)} MiB JSON); the service calls ${VIPS.join(', ')}; ${REFRESHES} refreshes after the first`);
  const script = fileURLToPath(import.meta.url);
  const results = new Map<Mode, ChildResult>();
  for (const mode of MODES) {
    const proc = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', script, 'child', mode, url], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const [code] = (await once(proc, 'exit')) as [number | null];
    if (code !== 0) throw new Error(`child for ${mode} exited with ${code}`);
    results.set(mode, JSON.parse(out.trim().split('\n').pop()!) as ChildResult);
  }
  server.close();
  table(
    'Per refresh (medians) and at start',
    MODES.map((mode) => {
      const r = results.get(mode)!;
      return {
        fetchMode: mode,
        'refreshes are': r.kinds,
        'instances held': r.cached,
        'first refresh: KiB received': fmt(r.firstBytes / 1024, 1),
        'first refresh: CPU ms': fmt(r.firstCpuMs, 0),
        'heap held (MiB)': fmt(r.heapMiB, 1),
        'refresh: KiB received': fmt(r.bytesPerRefresh / 1024, 1),
        'refresh: CPU ms': fmt(r.cpuMsPerRefresh, 2),
      };
    }),
  );
  const whole = results.get('full')!;
  const vips = results.get('vips')!;
  table('vips / full (lower is better)', [
    {
      'first refresh bytes': fmt(vips.firstBytes / whole.firstBytes, 5),
      'first refresh CPU': fmt(vips.firstCpuMs / whole.firstCpuMs, 4),
      'heap held': fmt(vips.heapMiB / whole.heapMiB, 4),
      'refresh bytes': fmt(vips.bytesPerRefresh / whole.bytesPerRefresh, 3),
      'refresh CPU': fmt(vips.cpuMsPerRefresh / whole.cpuMsPerRefresh, 3),
    },
  ]);
}

if (process.argv[2] === 'child') {
  console.log(JSON.stringify(await child(process.argv[3] as Mode, process.argv[4]!)));
  process.exit(0);
} else {
  await parent();
}
