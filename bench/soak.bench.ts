// Soak: a caller calling five instances through Eureka for minutes, while the instances restart one by one
// (a rolling restart, one instance a minute), a breaker trips and heals, and configuration changes every few
// seconds. Reports failed calls (the goal is 0), heap and RSS after warm-up against the end of the run (the goal:
// flat, a ratio near 1), and the event loop's delay p99 under load against the same process idle, measured first.
//
// Set-up: one process; a development Eureka server (in memory, loopback), five `createService` instances of an
// HTTP service (1 s heartbeats, 250 ms fetches, 750 ms deregistration delay, the out-of-service guard), a caller
// service whose client balances over them (p2c-ewma, retries within a budget). Load: 4 concurrent call loops,
// about 400 calls/s in all. A command of the caller's breaker registry fails for 8 s every 40 s (it opens, then
// its trial call closes it), with a fallback. Every 3 s a configuration override changes the greeting the
// instances answer with.
//
// Run: npm run bench -- soak                       (10 minutes)
//      KARYON_SOAK_MS=120000 npm run bench -- soak (2 minutes; the rolling restart then comes every 20 s)
import { createServer } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { CommandRegistry, createService, defineConfig, outOfServiceGuard } from '../src/index.js';
import type { Service } from '../src/index.js';
import { EurekaServer } from '../src/testing/index.js';
import { fmt, table } from './support.js';

const SOAK_MS = Number(process.env.KARYON_SOAK_MS ?? 600_000);
const ROLL_MS = Math.min(60_000, SOAK_MS / 6);
const CONFIG_MS = 3000;
const WARMUP_MS = Math.min(60_000, SOAK_MS / 5);
const INSTANCES = 5;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

interface Settings {
  readonly greeting: string;
}
const config = defineConfig<Settings>({ schema: { greeting: { doc: 'what instances answer', format: String, default: 'hello' } } });
await config.start();
const greeting = config.property('greeting');

const eureka = new EurekaServer({ port: 0, host: '127.0.0.1' });
await eureka.listen();

function instance(index: number): Service {
  const guard = outOfServiceGuard(() => service.status);
  const server = createServer(
    guard((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`${greeting.get()} from ${index}`);
    }),
  );
  const service = createService({
    name: 'soak',
    server,
    port: 0,
    host: '127.0.0.1',
    hostName: '127.0.0.1',
    ipAddr: '127.0.0.1',
    instanceId: `soak-${index}`,
    registry: { eureka: { serviceUrls: [eureka.url], heartbeatIntervalMs: 1000, registryFetchIntervalMs: 250 } },
    lifecycle: { deregistrationDelayMs: 750 },
    admin: false,
    logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: (m) => console.error(`soak-${index}: ${m}`) },
  });
  return service;
}

const instances: Service[] = [];
for (let i = 0; i < INSTANCES; i++) {
  instances.push(instance(i));
  await instances[i]!.start();
}
const caller = createService({
  name: 'soak-caller',
  port: 9,
  hostName: '127.0.0.1',
  ipAddr: '127.0.0.1',
  registry: { eureka: { serviceUrls: [eureka.url], heartbeatIntervalMs: 1000, registryFetchIntervalMs: 250 } },
  lifecycle: { deregistrationDelayMs: 0 },
  admin: false,
  logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: (m) => console.error(`caller: ${m}`) },
});
await caller.start();
const client = caller.client('soak');
while ((await client.request({ path: '/' }).then((r) => (r.body.dump(), r.statusCode)).catch(() => 0)) !== 200) await sleep(50);

// The event loop idle first: the baseline of its delay.
const idle = monitorEventLoopDelay({ resolution: 10 });
idle.enable();
await sleep(Math.min(5000, SOAK_MS / 20));
idle.disable();

const commands = new CommandRegistry({ group: 'soak' });
let dependencyDown = false;
const dependency = commands.command('dependency', () => (dependencyDown ? Promise.reject(new Error('down')) : Promise.resolve('ok')), {
  requestVolumeThreshold: 10,
  errorThresholdPercentage: 50,
  sleepWindowMs: 1000,
  fallback: () => 'fallback',
});
let opened = 0;
let closed = 0;
dependency.on('open', () => opened++);
dependency.on('close', () => closed++);

const started = performance.now();
const end = started + SOAK_MS;
let calls = 0;
let failed = 0;
const failures: string[] = [];
const loaded = monitorEventLoopDelay({ resolution: 10 });
loaded.enable();

async function callLoop(): Promise<void> {
  while (performance.now() < end) {
    calls++;
    try {
      const res = await client.request({ path: '/' });
      const text = await res.body.text();
      if (res.statusCode !== 200 || !text.includes(' from ')) throw new Error(`HTTP ${res.statusCode}: ${text.slice(0, 80)}`);
    } catch (error) {
      failed++;
      if (failures.length < 10) failures.push(`${fmt((performance.now() - started) / 1000, 1)} s: ${(error as Error).message}`);
    }
    await dependency();
    await sleep(8);
  }
}

async function rollingRestarts(): Promise<number> {
  let restarts = 0;
  for (let next = started + ROLL_MS; next < end - ROLL_MS / 2; next += ROLL_MS) {
    await sleep(next - performance.now());
    const index = restarts % INSTANCES;
    await instances[index]!.stop();
    instances[index] = instance(index);
    await instances[index].start();
    restarts++;
  }
  return restarts;
}

async function breakerFlaps(): Promise<void> {
  for (let next = started + 20_000; next < end - 10_000; next += 40_000) {
    await sleep(next - performance.now());
    dependencyDown = true;
    await sleep(8000);
    dependencyDown = false;
  }
}

async function configChanges(): Promise<number> {
  let changes = 0;
  while (performance.now() + CONFIG_MS < end) {
    await sleep(CONFIG_MS);
    config.setOverride('greeting', `hello-${++changes}`);
  }
  return changes;
}

const samples: { atS: number; heapMiB: number; rssMiB: number }[] = [];
async function sampleMemory(): Promise<void> {
  while (performance.now() < end) {
    await sleep(Math.min(10_000, SOAK_MS / 30));
    gc();
    const { heapUsed, rss } = process.memoryUsage();
    samples.push({ atS: (performance.now() - started) / 1000, heapMiB: heapUsed / 2 ** 20, rssMiB: rss / 2 ** 20 });
  }
}

const [restarts, , changes] = await Promise.all([rollingRestarts(), breakerFlaps(), configChanges(), sampleMemory(), ...Array.from({ length: 4 }, () => callLoop())]);
loaded.disable();

const afterWarmup = samples.filter((s) => s.atS * 1000 >= WARMUP_MS);
const first = afterWarmup[0] ?? samples[0]!;
const last = samples.at(-1)!;
const maxHeap = Math.max(...afterWarmup.map((s) => s.heapMiB));
const maxRss = Math.max(...afterWarmup.map((s) => s.rssMiB));
table(`soak: ${fmt(SOAK_MS / 1000, 0)} s, ${INSTANCES} instances, a rolling restart every ${fmt(ROLL_MS / 1000, 0)} s, config every ${CONFIG_MS / 1000} s`, [
  { measure: 'calls', value: calls },
  { measure: 'failed calls', value: failed },
  { measure: 'rolling restarts', value: restarts },
  { measure: 'config changes', value: changes },
  { measure: 'breaker opened / closed', value: `${opened} / ${closed}` },
  { measure: `heap after warm-up (${fmt(first.atS, 0)} s) -> end, MiB`, value: `${fmt(first.heapMiB, 1)} -> ${fmt(last.heapMiB, 1)} (x${fmt(last.heapMiB / first.heapMiB)}; max ${fmt(maxHeap, 1)})` },
  { measure: 'RSS after warm-up -> end, MiB', value: `${fmt(first.rssMiB, 1)} -> ${fmt(last.rssMiB, 1)} (x${fmt(last.rssMiB / first.rssMiB)}; max ${fmt(maxRss, 1)})` },
  { measure: 'event-loop delay p99 under load, ms', value: fmt(loaded.percentile(99) / 1e6) },
  { measure: 'event-loop delay p99 idle (same process, before), ms', value: fmt(idle.percentile(99) / 1e6) },
  { measure: 'event-loop delay p99 ratio load/idle', value: fmt(loaded.percentile(99) / idle.percentile(99)) },
]);
console.log('memory samples (s, heap MiB, RSS MiB):', samples.map((s) => `${fmt(s.atS, 0)}:${fmt(s.heapMiB, 1)}/${fmt(s.rssMiB, 0)}`).join(' '));
if (failures.length > 0) console.log('first failures:', failures);

await caller.stop();
await Promise.all(instances.map((service) => service.stop()));
await commands.close();
await config.close();
await eureka.close();
process.exitCode = failed === 0 ? 0 : 1;
