// The sidecar's egress proxy against calling the upstream directly, in the same run.
// An application calls another service either straight at one of its instances (no balancing, no retries:
// the floor), or through its `karyon sidecar` at http://127.0.0.1:PORT/{vip}/{path}, which balances over the
// instances (p2c-ewma), ejects outliers, retries within the budget, runs the VIP's breaker and records the
// client metrics. Every piece is a real process, as in production: two upstream instances (plain Node HTTP
// servers, each under its own `karyon sidecar`), the caller's `karyon sidecar` (proxy only), and this process
// as the application making the calls over keep-alive connections (undici).
//  1. latency: one call at a time; p50 and p99 of each path and their difference (what the hop costs);
//  2. throughput: 32 calls in flight for a fixed time; requests/s of each path and their ratio.
// Rounds alternate the two paths; the figures are medians of the rounds (the machine is 2 shared cores).
// Run: npx tsx bench/sidecar.bench.ts
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool, request } from 'undici';
import { EurekaServer } from '../src/registry/server/index.js';
import { fmt, median, percentile, table } from './support.js';

const ROUNDS = 5;
const LATENCY_CALLS = 2_000;
const LOAD_MS = 3_000;
const CONCURRENCY = 32;

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'karyon-sidecar-bench-'));
const upstream = join(dir, 'upstream.mjs');
writeFileSync(
  upstream,
  [
    "import { createServer } from 'node:http';",
    'const body = JSON.stringify({ hello: "world", port: Number(process.env.PORT) });',
    "createServer((req, res) => { res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }); res.end(body); })",
    "  .listen(Number(process.env.PORT), '127.0.0.1');",
    "process.on('SIGTERM', () => process.exit(0));",
  ].join('\n'),
);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const children: ChildProcess[] = [];
function sidecar(config: unknown): ChildProcess {
  const file = join(dir, `sidecar-${children.length}.json`);
  writeFileSync(file, JSON.stringify(config));
  // Through tsx, so the benchmark needs no build: it only transpiles at load, the code that runs is the same.
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'sidecar', '--config', file], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  return child;
}

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** One call at a time: each call's latency in ms. */
async function latencies(pool: Pool, path: string, calls: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < calls; i++) {
    const start = performance.now();
    const res = await pool.request({ method: 'GET', path });
    await res.body.text();
    if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode} from ${path}`);
    samples.push(performance.now() - start);
  }
  return samples;
}

/** `CONCURRENCY` calls in flight for `LOAD_MS`: requests per second. */
async function throughput(pool: Pool, path: string): Promise<number> {
  let done = 0;
  const end = performance.now() + LOAD_MS;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const res = await pool.request({ method: 'GET', path });
      await res.body.text();
      if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode} from ${path}`);
      done++;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return (done / (performance.now() - start)) * 1000;
}

async function main(): Promise<void> {
  const eureka = new EurekaServer({ port: 0, host: '127.0.0.1' });
  await eureka.listen();
  const eurekaSection = { serviceUrls: [eureka.url], heartbeatIntervalMs: 1000, registryFetchIntervalMs: 200 };
  const upstreamPorts = [await freePort(), await freePort()];
  for (const port of upstreamPorts) {
    sidecar({
      port: 0,
      app: { name: 'upstream', port, ipAddr: '127.0.0.1' },
      eureka: eurekaSection,
      admin: false,
      lifecycle: { deregistrationDelayMs: 0 },
      process: { command: process.execPath, args: [upstream] },
      checks: [{ name: 'http', http: `http://127.0.0.1:${port}/`, intervalMs: 1000 }],
    });
  }
  const callerPort = await freePort();
  sidecar({ port: callerPort, app: { name: 'caller', port: await freePort(), ipAddr: '127.0.0.1' }, eureka: eurekaSection, admin: false, lifecycle: { deregistrationDelayMs: 0 } });
  await until(async () => {
    try {
      const res = await request(`http://127.0.0.1:${callerPort}/instances?vip=upstream`);
      return ((await res.body.json()) as unknown[]).length === upstreamPorts.length;
    } catch {
      return false;
    }
  }, 'the caller to see both upstream instances');

  const direct = new Pool(`http://127.0.0.1:${upstreamPorts[0]!}`, { connections: CONCURRENCY });
  const proxy = new Pool(`http://127.0.0.1:${callerPort}`, { connections: CONCURRENCY });
  const paths = { direct: { pool: direct, path: '/hello' }, proxy: { pool: proxy, path: '/upstream/hello' } } as const;
  // Warm up both paths (JIT, connections, the balancer's latency estimates).
  for (const { pool, path } of Object.values(paths)) {
    await latencies(pool, path, 500);
    await throughput(pool, path);
  }

  const results = { direct: { p50: [] as number[], p99: [] as number[], rps: [] as number[] }, proxy: { p50: [] as number[], p99: [] as number[], rps: [] as number[] } };
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? (['direct', 'proxy'] as const) : (['proxy', 'direct'] as const);
    for (const name of order) {
      const { pool, path } = paths[name];
      const samples = await latencies(pool, path, LATENCY_CALLS);
      results[name].p50.push(percentile(samples, 50));
      results[name].p99.push(percentile(samples, 99));
      results[name].rps.push(await throughput(pool, path));
    }
  }

  const d = { p50: median(results.direct.p50), p99: median(results.direct.p99), rps: median(results.direct.rps) };
  const p = { p50: median(results.proxy.p50), p99: median(results.proxy.p99), rps: median(results.proxy.rps) };
  table(`Sidecar egress proxy vs direct calls (2 upstream instances; medians of ${ROUNDS} interleaved rounds; ${LATENCY_CALLS} sequential calls, then ${CONCURRENCY} in flight for ${LOAD_MS / 1000} s)`, [
    { path: 'direct to one instance', 'p50 ms': fmt(d.p50, 3), 'p99 ms': fmt(d.p99, 3), 'req/s': fmt(d.rps, 0) },
    { path: 'through the sidecar proxy', 'p50 ms': fmt(p.p50, 3), 'p99 ms': fmt(p.p99, 3), 'req/s': fmt(p.rps, 0) },
    { path: 'proxy - direct (ms) / proxy : direct', 'p50 ms': fmt(p.p50 - d.p50, 3), 'p99 ms': fmt(p.p99 - d.p99, 3), 'req/s': `${fmt(p.rps / d.rps, 2)}x` },
  ]);

  await direct.close();
  await proxy.close();
  for (const child of children) child.kill('SIGTERM');
  await Promise.all(children.map((child) => new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(undefined)))));
  await eureka.close();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((error: unknown) => {
  for (const child of children) child.kill('SIGKILL');
  console.error(error);
  process.exitCode = 1;
});
