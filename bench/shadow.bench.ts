// Shadow traffic: what teeing costs the primary path, measured in one run.
// A primary service (node:http + shadowMiddleware, answering JSON after 5 ms of simulated I/O) serves an open
// loop of requests (latency counted from when each request was due: no coordinated omission). Each round
// measures every mode once, in rotating order, so the drift of a shared machine hits them alike:
//   no middleware the handler alone (what the middleware costs when teeing is off)
//   off          teeing switched off (the kill switch): the baseline
//   tee 100%     every request copied to a healthy shadow (same speed as the primary)
//   tee+compare  the same, with Diffy-style comparison of every answer
//   dead shadow  every request copied to a shadow VIP whose only instance refuses connections
//   10x slow     every request copied to a shadow answering in 50 ms: the queue fills, copies are dropped
// Reported: primary p50 and p99 per round, as medians over rounds, with the added latency against `off` in
// the same round (median of the per-round ratios: robust to drift); the p99 of each mode's least disturbed
// round and its ratio to `off`'s (on a shared machine a stall of another process lands in some rounds and
// moves their p99 by tens of ms, whatever the mode); the primary process's CPU per request and event loop lag;
// and what became of the copies.
// The primary, the shadows and the load generator each run in their own process.
// Run: npx tsx bench/shadow.bench.ts [--rate=400] [--rounds=10] [--seconds=3] [--dist]
// --dist measures the compiled library (`npm run build` first), as users run it: under tsx every closure the
// library creates per request also goes through esbuild's name-keeping helper, which costs on the hot path.
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import type * as Library from '../src/index.js';
import type { InstanceDescriptor, ShadowReport, ShadowTrafficOptions } from '../src/index.js';
import type * as Testing from '../src/testing/index.js';
import { fmt, median, percentile, table } from './support.js';

const self = fileURLToPath(import.meta.url);
const dist = process.argv.includes('--dist');
// The specifiers are computed so the type checker does not look for a build that may not exist.
const library = (await import(dist ? '../dist/index.js' : '../src/index.js')) as typeof Library;
const testing = (await import(dist ? '../dist/testing/index.js' : '../src/testing/index.js')) as typeof Testing;
const { createShadowTraffic, shadowMiddleware } = library;
const { InMemoryRegistry } = testing;
const PRIMARY_DELAY_MS = 5;
const modes = ['no middleware', 'off', 'tee 100%', 'tee+compare', 'dead shadow', '10x slow'] as const;
type Mode = (typeof modes)[number];

function arg(name: string, fallback: number): number {
  const found = process.argv.find((a) => a.startsWith(`--${name}=`));
  return found === undefined ? fallback : Number(found.slice(name.length + 3));
}

// ---------------------------------------------------------------------------------------------------------
// Child processes.

type ParentMessage = { type: 'mode'; mode: Mode } | { type: 'stats' } | { type: 'exit' };
type ChildMessage =
  | { type: 'ready'; ports: Record<string, number> }
  | { type: 'moded' }
  | { type: 'stats'; cpuUs: number; lagP99Ms: number; report: ShadowReport };

/** A JSON answer of about 1 KB after `delayMs`, as a service that waits on a store would give. */
function jsonService(delayMs: number, name: string): RequestListener {
  const items = Array.from({ length: 12 }, (_, i) => ({ sku: `sku-${i}`, price: 10 + i, stock: i * 3 }));
  return (req, res) => {
    req.resume();
    req.on('end', () => {
      setTimeout(() => {
        const body = JSON.stringify({ path: req.url, servedBy: name, items });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      }, delayMs);
    });
  };
}

async function listenOn(listener: RequestListener): Promise<number> {
  const server = createServer(listener);
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** The shadow servers: one as fast as the primary, one 10x slower, and a port nobody listens on. */
async function serveShadows(): Promise<void> {
  const next = await listenOn(jsonService(PRIMARY_DELAY_MS, 'next'));
  const slow = await listenOn(jsonService(PRIMARY_DELAY_MS * 10, 'slow'));
  const gone = createServer();
  const dead = await new Promise<number>((resolve) => gone.listen(0, '127.0.0.1', () => resolve((gone.address() as AddressInfo).port)));
  await new Promise<void>((resolve) => gone.close(() => resolve()));
  process.send!({ type: 'ready', ports: { next, slow, dead } } satisfies ChildMessage);
  process.on('disconnect', () => process.exit(0)); // the parent failed or was killed
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'exit') process.exit(0);
  });
}

function descriptor(id: string, vip: string, port: number): InstanceDescriptor {
  return testing.testInstance({ instanceId: id, app: vip.toUpperCase(), zone: 'z1', port });
}

/** The primary service, teeing through the middleware; the parent switches the mode between measurements. */
async function servePrimary(shadowPorts: Record<string, number>): Promise<void> {
  const registry = new InMemoryRegistry();
  await registry.register(descriptor('next-1', 'next', shadowPorts.next!), 'UP');
  await registry.register(descriptor('slow-1', 'slow', shadowPorts.slow!), 'UP');
  await registry.register(descriptor('dead-1', 'dead', shadowPorts.dead!), 'UP');
  // Library defaults for the bounds (16 in flight, 64 queued); a new shadow per mode so counts start at 0.
  let shadow = createShadowTraffic({ registry, vip: 'next', enabled: false });
  const handler = jsonService(PRIMARY_DELAY_MS, 'primary');
  let listener = shadowMiddleware(shadow)(handler);
  const port = await listenOn((req, res) => listener(req, res));
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  let cpu = process.cpuUsage();
  process.send!({ type: 'ready', ports: { primary: port } } satisfies ChildMessage);
  process.on('disconnect', () => process.exit(0)); // the parent failed or was killed
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'exit') process.exit(0);
    if (message.type === 'mode') {
      const settings: Record<Mode, Omit<ShadowTrafficOptions, 'registry'>> = {
        'no middleware': { vip: 'next', enabled: false },
        off: { vip: 'next', enabled: false },
        'tee 100%': { vip: 'next' },
        'tee+compare': { vip: 'next', compare: { ignore: ['body.servedBy'] } },
        'dead shadow': { vip: 'dead' },
        '10x slow': { vip: 'slow' },
      };
      const previous = shadow;
      shadow = createShadowTraffic({ registry, ...settings[message.mode] });
      listener = message.mode === 'no middleware' ? handler : shadowMiddleware(shadow)(handler);
      void previous.close().then(() => {
        lag.reset();
        cpu = process.cpuUsage();
        process.send!({ type: 'moded' } satisfies ChildMessage);
      });
    }
    if (message.type === 'stats') {
      const used = process.cpuUsage(cpu);
      process.send!({ type: 'stats', cpuUs: used.user + used.system, lagP99Ms: lag.percentile(99) / 1e6, report: shadow.report() } satisfies ChildMessage);
    }
  });
}

interface Child {
  readonly process: ChildProcess;
  readonly ports: Record<string, number>;
}

async function spawn(role: string, spec: unknown): Promise<Child> {
  const child = fork(self, [`--${role}`, JSON.stringify(spec), ...(dist ? ['--dist'] : [])], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ports = await new Promise<Record<string, number>>((resolve, reject) => {
    child.once('message', (message: ChildMessage) => {
      if (message.type === 'ready') resolve(message.ports);
    });
    child.once('exit', (code) => reject(new Error(`${role} process exited with ${String(code)}`)));
  });
  return { process: child, ports };
}

function ask<T extends ChildMessage['type']>(child: Child, message: ParentMessage, reply: T): Promise<Extract<ChildMessage, { type: T }>> {
  return new Promise((resolve) => {
    const listener = (answer: ChildMessage): void => {
      if (answer.type !== reply) return;
      child.process.off('message', listener);
      resolve(answer as Extract<ChildMessage, { type: T }>);
    };
    child.process.on('message', listener);
    child.process.send(message);
  });
}

// ---------------------------------------------------------------------------------------------------------
// Load generation (parent).

interface Run {
  readonly latenciesMs: number[];
  readonly errors: number;
  readonly cpuUsPerRequest: number;
  readonly lagP99Ms: number;
  readonly report: ShadowReport;
}

/** Open loop: `rate` requests per second for `durationMs`; latency from when each was due. */
async function openLoop(pool: Pool, rate: number, durationMs: number): Promise<{ latenciesMs: number[]; errors: number }> {
  const latencies: number[] = [];
  const pending: Promise<void>[] = [];
  let errors = 0;
  const started = performance.now();
  let sent = 0;
  while (performance.now() - started < durationMs) {
    const due = Math.floor(((performance.now() - started) / 1000) * rate);
    for (; sent < due; sent++) {
      const at = started + (sent / rate) * 1000;
      pending.push(
        pool.request({ method: 'GET', path: `/items/${sent % 50}?page=1` }).then(
          async (response) => {
            await response.body.dump();
            if (response.statusCode !== 200) errors++;
            latencies.push(performance.now() - at);
          },
          () => {
            errors++;
            latencies.push(performance.now() - at);
          },
        ),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(pending);
  return { latenciesMs: latencies, errors };
}

async function measure(primary: Child, pool: Pool, mode: Mode, rate: number, durationMs: number): Promise<Run> {
  await ask(primary, { type: 'mode', mode }, 'moded');
  const { latenciesMs, errors } = await openLoop(pool, rate, durationMs);
  // Copies still in flight settle before the counts are read (a 10x slow shadow answers within 50 ms).
  await new Promise((resolve) => setTimeout(resolve, 200));
  const stats = await ask(primary, { type: 'stats' }, 'stats');
  return { latenciesMs, errors, cpuUsPerRequest: stats.cpuUs / latenciesMs.length, lagP99Ms: stats.lagP99Ms, report: stats.report };
}

async function main(): Promise<void> {
  const rate = arg('rate', 400);
  const rounds = arg('rounds', 10);
  const durationMs = arg('seconds', 3) * 1000;
  const shadows = await spawn('shadows', {});
  const primary = await spawn('primary', shadows.ports);
  const pool = new Pool(`http://127.0.0.1:${primary.ports.primary!}`, { connections: 64, pipelining: 1 });
  console.log(
    `${dist ? 'compiled library (dist)' : 'library from src (tsx)'}; load average before: ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${rate} req/s, ${rounds} rounds of ${durationMs / 1000} s per mode`,
  );

  // Warm-up: connections, JIT, every path of every mode.
  for (const mode of modes) await measure(primary, pool, mode, rate, 1500);

  const runs = new Map<Mode, Run[]>(modes.map((mode) => [mode, []]));
  for (let round = 0; round < rounds; round++) {
    const order = [...modes.slice(round % modes.length), ...modes.slice(0, round % modes.length)];
    for (const mode of order) runs.get(mode)!.push(await measure(primary, pool, mode, rate, durationMs));
  }

  const baseline = runs.get('off')!;
  const p = (run: Run, q: number): number => percentile(run.latenciesMs, q);
  const bestP99 = (set: readonly Run[]): number => Math.min(...set.map((run) => p(run, 99)));
  const rows = modes.map((mode) => {
    const set = runs.get(mode)!;
    const med = (f: (run: Run) => number): number => median(set.map(f));
    const added = (q: number): number => median(set.map((run, i) => p(run, q) / p(baseline[i]!, q) - 1)) * 100;
    const requests = set.reduce((total, run) => total + run.latenciesMs.length, 0);
    const sum = (f: (run: Run) => number): number => set.reduce((total, run) => total + f(run), 0);
    const target = (run: Run) => run.report.targets[0]!;
    return {
      mode,
      'p50 ms': fmt(med((run) => p(run, 50)), 2),
      'added p50 %': mode === 'off' ? '-' : fmt(added(50), 1),
      'p99 ms': fmt(med((run) => p(run, 99)), 2),
      'added p99 %': mode === 'off' ? '-' : fmt(added(99), 1),
      'best p99 ms': fmt(bestP99(set), 2),
      'added best p99 %': mode === 'off' ? '-' : fmt((bestP99(set) / bestP99(baseline) - 1) * 100, 1),
      'CPU µs/req': fmt(med((run) => run.cpuUsPerRequest), 1),
      'lag p99 ms': fmt(med((run) => run.lagP99Ms), 1),
      'copies sent %': fmt((sum((run) => target(run).sent) / requests) * 100, 1),
      'dropped %': fmt((sum((run) => target(run).dropped) / requests) * 100, 1),
      'failed %': fmt((sum((run) => target(run).failed) / requests) * 100, 1),
      'compared %': fmt((sum((run) => target(run).compared) / requests) * 100, 1),
      errors: sum((run) => run.errors),
    };
  });
  table(
    `Primary path with shadow traffic: ${rate} req/s open loop, primary answers after ${PRIMARY_DELAY_MS} ms; medians over ${rounds} rounds (added %: against 'off' in the same round), and each mode's least disturbed round`,
    rows,
  );
  console.log(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  await pool.close();
  for (const child of [primary, shadows]) child.process.send({ type: 'exit' } satisfies ParentMessage);
}

const role = process.argv.find((a) => a === '--shadows' || a === '--primary');
if (role === '--shadows') await serveShadows();
else if (role === '--primary') await servePrimary(JSON.parse(process.argv[process.argv.indexOf('--primary') + 1]!) as Record<string, number>);
else await main();
