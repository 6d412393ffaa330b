// The Eureka client's registry cache against eureka-js-client 4.5.0 loading the same payload, in the same run:
//  1. the cache: heap retained per instance, and time, to apply a decompressed `GET /apps` body of 10,000
//     instances (and look one VIP up): our decode + compact records + instance cache, against eureka-js-client's
//     own path for a fetched registry, `transformRegistry(JSON.parse(body))` (the median of 5 applies);
//  2. the whole client: heap retained per instance after its first full fetch over HTTP, and its time from the
//     call until the view is usable (request, gunzip, parse, apply; code warmed on a 500-instance registry).
// Each measurement runs in a child process started with --expose-gc, so heaps do not mix; the payload is
// served gzipped by this (parent) process, as Eureka servers serve /apps. Variants rotate order every round.
// eureka-js-client is measured twice: with filterUpInstances: false it keeps every status as we do (the fair
// comparison); with its defaults it drops the non-UP instances.
// Run: npx tsx bench/eureka-client.bench.ts   (EUREKA_CLIENT_INSTANCES=100000 for another size: apps of 50)
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { decodeApplications } from '../src/registry/eureka/wire.js';
import { EurekaRegistry } from '../src/registry/eureka/index.js';
import { InstancePool, eurekaInstanceEquals } from '../src/registry/eureka/EurekaInstance.js';
import { InstanceCache } from '../src/registry/InstanceCache.js';
import { makeJsClient, payload } from './eureka-payload.js';
import type { JsClient } from './eureka-payload.js';
import { fmt, heapUsed, median, table } from './support.js';

const INSTANCES = Number(process.env['EUREKA_CLIENT_INSTANCES'] ?? 10_000);
const APPS = Math.max(1, Math.round(INSTANCES / 50));
const ROUNDS = 5;
const APPLY_REPEATS = 5;
const VARIANTS = ['karyon-ts', 'eureka-js-client (all statuses)', 'eureka-js-client (defaults: UP only)'] as const;
type Variant = (typeof VARIANTS)[number];

// ---- child: one variant, one process ------------------------------------------------------------------

interface ChildResult {
  /** Heap retained by the whole client after its full fetch over HTTP, per instance of the payload. */
  readonly fetchBytes: number;
  readonly fetchMs: number;
  /** Heap retained by the cache alone after applying the body without HTTP, per instance. */
  readonly applyBytes: number;
  readonly applyMs: number;
  readonly cached: number;
}

/** Applies the body `APPLY_REPEATS` times: the median time, and the heap the last result retains. */
function measureApply(apply: () => unknown): { applyMs: number; applyBytes: number } {
  const times: number[] = [];
  let kept: unknown;
  for (let i = 0; i < APPLY_REPEATS; i++) {
    kept = undefined;
    const before = heapUsed();
    const started = performance.now();
    kept = apply();
    times.push(performance.now() - started);
    if (i === APPLY_REPEATS - 1) {
      const applyBytes = (heapUsed() - before) / INSTANCES;
      // Keep the result alive until after the measurement.
      if (kept === undefined) throw new Error('nothing applied');
      return { applyMs: median(times), applyBytes };
    }
  }
  throw new Error('unreachable');
}

async function child(variant: Variant, url: string, smallUrl: string): Promise<ChildResult> {
  // The decompressed body, off the JS heap until parsed.
  const body = Buffer.from(await (await fetch(`${url}/apps`)).arrayBuffer());
  if (variant === 'karyon-ts') {
    const make = (serviceUrl: string) => new EurekaRegistry({ serviceUrls: [serviceUrl], registryFetchIntervalMs: 3_600_000 });
    // Warm up the code path on a small registry, so the measured fetch is not the first one compiled.
    const warm = make(smallUrl);
    await warm.refresh();
    await warm.close();
    const registry = make(url);
    const before = heapUsed();
    const started = performance.now();
    await registry.refresh();
    const fetchMs = performance.now() - started;
    registry.upInstancesByVip('service-001');
    const fetchBytes = (heapUsed() - before) / INSTANCES;
    const cached = registry.instances().length;
    await registry.close();
    // The same steps as the registry's full fetch, from the decompressed body.
    const apply = measureApply(() => {
      const pool = new InstancePool();
      const cache = new InstanceCache({ equals: eurekaInstanceEquals });
      const decoded = decodeApplications(JSON.parse(body.toString('utf8')), Date.now());
      cache.replaceAll(decoded.instances.map((entry) => pool.compact(entry.instance)));
      cache.upByVip('service-001');
      return { pool, cache };
    });
    return { fetchBytes, fetchMs, cached, ...apply };
  }
  const make = (serviceUrl: string): JsClient => makeJsClient(serviceUrl, variant === 'eureka-js-client (all statuses)');
  const load = (client: JsClient): Promise<void> =>
    new Promise((resolve, reject) => client.fetchRegistry((error) => (error ? reject(error) : resolve())));
  await load(make(smallUrl));
  const client = make(url);
  const before = heapUsed();
  const started = performance.now();
  await load(client);
  const fetchMs = performance.now() - started;
  client.getInstancesByVipAddress('service-001');
  const fetchBytes = (heapUsed() - before) / INSTANCES;
  const cached = Object.values((client as unknown as { cache: { app: Record<string, unknown[]> } }).cache.app).reduce((n, list) => n + list.length, 0);
  // eureka-js-client's own path for a fetched registry (fetchFullRegistry's callback), on a fresh client.
  const apply = measureApply(() => {
    const fresh = make(url);
    fresh.transformRegistry(JSON.parse(body.toString('utf8')));
    fresh.getInstancesByVipAddress('service-001');
    return fresh;
  });
  return { fetchBytes, fetchMs, cached, ...apply };
}

// ---- parent: serve the payload, run the children, print the table --------------------------------------

async function parent(): Promise<void> {
  const big = Buffer.from(payload(INSTANCES, APPS));
  const small = Buffer.from(payload(500, 20));
  const bigGz = gzipSync(big);
  const smallGz = gzipSync(small);
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/\/+$/, '');
    const [plain, gz] = path === '/big/apps' ? [big, bigGz] : path === '/small/apps' ? [small, smallGz] : [undefined, undefined];
    if (plain === undefined || gz === undefined) {
      res.writeHead(404).end();
      return;
    }
    const gzip = String(req.headers['accept-encoding'] ?? '').includes('gzip');
    const body = gzip ? gz : plain;
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': body.length,
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
    });
    res.end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}/big`;
  const smallUrl = `http://127.0.0.1:${port}/small`;
  console.log(
    `payload: ${INSTANCES} instances in ${APPS} apps, ${fmt(big.length / 1024 / 1024, 1)} MiB JSON (${fmt(bigGz.length / 1024, 0)} KiB gzipped); ` +
      `${ROUNDS} rounds, one child process per measurement`,
  );

  const script = fileURLToPath(import.meta.url);
  const results = new Map<Variant, ChildResult[]>(VARIANTS.map((variant) => [variant, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]!);
    for (const variant of order) {
      const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', script, 'child', variant, url, smallUrl], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      const [code] = (await once(child, 'exit')) as [number | null];
      if (code !== 0) throw new Error(`child for ${variant} exited with ${code}`);
      results.get(variant)!.push(JSON.parse(out.trim().split('\n').pop()!) as ChildResult);
    }
  }
  server.close();

  const summary = VARIANTS.map((variant) => {
    const runs = results.get(variant)!;
    return {
      variant,
      applyBytes: median(runs.map((r) => r.applyBytes)),
      fetchBytes: median(runs.map((r) => r.fetchBytes)),
      fetchMs: median(runs.map((r) => r.fetchMs)),
      applyMs: median(runs.map((r) => r.applyMs)),
      cached: runs[0]!.cached,
    };
  });
  table(
    'Registry cache after a full fetch of the payload (medians)',
    summary.map((s) => ({
      client: s.variant,
      'instances cached': s.cached,
      'cache bytes / instance': fmt(s.applyBytes, 0),
      'client bytes / instance after HTTP fetch': fmt(s.fetchBytes, 0),
      'apply (ms)': fmt(s.applyMs, 1),
      'first full fetch over HTTP (ms)': fmt(s.fetchMs, 1),
    })),
  );
  const ours = summary[0]!;
  table(
    'karyon-ts / eureka-js-client (lower is better; memory goal <= 0.25)',
    summary.slice(1).map((peer) => ({
      against: peer.variant,
      'cache memory': fmt(ours.applyBytes / peer.applyBytes, 3),
      'memory after HTTP fetch': fmt(ours.fetchBytes / peer.fetchBytes, 3),
      'apply time': fmt(ours.applyMs / peer.applyMs, 2),
      'first fetch time': fmt(ours.fetchMs / peer.fetchMs, 2),
    })),
  );
}

if (process.argv[2] === 'child') {
  const [, , , variant, url, smallUrl] = process.argv as [string, string, string, Variant, string, string];
  const result = await child(variant, url, smallUrl);
  console.log(JSON.stringify(result));
  // eureka-js-client's keep-alive sockets would hold the child; the measurement is done.
  process.exit(0);
} else {
  await parent();
}
