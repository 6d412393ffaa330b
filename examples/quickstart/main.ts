// The quickstart: a development Eureka server, three instances of an example service registered in it, a
// caller that discovers and calls them through Eureka, and an operator who takes one out of service and stops
// another, all in one process. Run with `npm start`; pass --keep-running to keep it up (Ctrl-C stops
// everything gracefully).
import { request } from 'undici';
import { createService, installSignalHandlers } from 'karyon-ts';
import type { Logger, Service } from 'karyon-ts';
import { EurekaServer } from 'karyon-ts/testing';
import { createGreeter } from './greeter.js';

const keepRunning = process.argv.includes('--keep-running');
const t0 = Date.now();
const stamp = (): string => `+${((Date.now() - t0) / 1000).toFixed(1)}s`.padStart(7);
const say = (who: string, what: string): void => console.log(`${stamp()}  ${who.padEnd(10)} ${what}`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// Short intervals so the story takes seconds; production Eureka defaults are 30 s.
const HEARTBEAT_MS = 1000;
const FETCH_MS = 250;
// Stay in service after saying DOWN until every client has fetched at least once more.
const DEREGISTRATION_DELAY_MS = 3 * FETCH_MS;

const eurekaLog: Logger = {
  debug: () => undefined,
  info: (message) => say('eureka', message),
  warn: (message) => say('eureka', message),
  error: (message) => say('eureka', message),
};

console.log('\nkaryon-ts quickstart: a Eureka server, three greeter instances, one caller, one operator\n');
const eureka = new EurekaServer({ port: 0, host: '127.0.0.1', logger: eurekaLog });
await eureka.listen();
say('eureka', `development Eureka server: ${eureka.url}/apps`);

const greeters: Service[] = ['greeter-1', 'greeter-2', 'greeter-3'].map((label, i) =>
  createGreeter({
    label,
    eurekaUrl: eureka.url,
    heartbeatIntervalMs: HEARTBEAT_MS,
    registryFetchIntervalMs: FETCH_MS,
    deregistrationDelayMs: DEREGISTRATION_DELAY_MS,
    warmUpMs: i === 2 ? 1500 : 0,
  }),
);
for (const greeter of greeters) {
  const label = greeter.instanceId!;
  greeter.on('stateChange', ({ from, to, reason }) => say(label, `${from} -> ${to}  (${reason})`));
}

// The caller is a service too: it registers itself and finds greeters through its own Eureka client.
const caller = createService({
  name: 'caller',
  port: 9999,
  hostName: '127.0.0.1',
  ipAddr: '127.0.0.1',
  registry: { eureka: { serviceUrls: [eureka.url], heartbeatIntervalMs: HEARTBEAT_MS, registryFetchIntervalMs: FETCH_MS } },
  admin: false,
  lifecycle: { deregistrationDelayMs: 0 },
});
await caller.start();

const tally = new Map<string, number>();
let calls = 0;
let failures = 0;
let next = 0;
async function callGreeter(): Promise<void> {
  const candidates = caller.registry.upInstancesByVip('greeter');
  if (candidates.length === 0) return;
  const target = candidates[next++ % candidates.length]!;
  calls++;
  try {
    const res = await request(`http://${target.ipAddr}:${target.port}/hello`);
    const body = (await res.body.json()) as { from: string };
    tally.set(body.from, (tally.get(body.from) ?? 0) + 1);
  } catch (error) {
    failures++;
    say('caller', `call to ${target.instanceId} failed: ${(error as Error).message}`);
  }
}
const loop = setInterval(() => void callGreeter(), 25);

function report(phase: string): void {
  const shares = ['greeter-1', 'greeter-2', 'greeter-3'].map((label) => `${label} ${String(tally.get(label) ?? 0).padStart(3)}`);
  say('caller', `${phase.padEnd(34)} calls landed: ${shares.join('  ')}`);
  tally.clear();
}

/** Waits until the caller's view of greeter instances (through Eureka) satisfies `seen`, and says how long it took. */
async function untilCallerSees(what: string, seen: (upIds: string[]) => boolean): Promise<void> {
  const since = Date.now();
  while (!seen(caller.registry.upInstancesByVip('greeter').map((i) => i.instanceId))) await sleep(10);
  say('caller', `sees ${what} after ${Date.now() - since} ms`);
  tally.clear();
}

const starting = greeters.map((greeter) => greeter.start());
await sleep(100);
for (const greeter of greeters) say(greeter.instanceId!, `admin ${greeter.adminUrl}/status`);
await sleep(700);
report('while greeter-3 warms up (STARTING)');
await Promise.all(starting);
await untilCallerSees('greeter-3 UP', (ids) => ids.includes('greeter-3'));
await sleep(800);
report('all three UP');

say('operator', 'PUT /status {"status":"OUT_OF_SERVICE"} on greeter-2');
await request(`${greeters[1]!.adminUrl}/status`, { method: 'PUT', body: '{"status":"OUT_OF_SERVICE"}' }).then((r) => r.body.dump());
await untilCallerSees('greeter-2 OUT_OF_SERVICE', (ids) => !ids.includes('greeter-2'));
await sleep(800);
report('greeter-2 OUT_OF_SERVICE');
say('operator', 'PUT /status {"status":"UP"} on greeter-2');
await request(`${greeters[1]!.adminUrl}/status`, { method: 'PUT', body: '{"status":"UP"}' }).then((r) => r.body.dump());
await untilCallerSees('greeter-2 UP again', (ids) => ids.includes('greeter-2'));
await sleep(800);
report('greeter-2 back UP');

say('operator', 'greeter-3 stops gracefully: DOWN first, wait for clients, drain, deregister');
await greeters[2]!.stop();
// By the time stop() returns, every client has seen greeter-3 leave: nothing more lands there.
tally.clear();
await sleep(800);
report('greeter-3 stopped');

if (keepRunning) {
  console.log('\nStill running (--keep-running). Open:');
  console.log(`  Eureka registry: ${eureka.url}/apps`);
  for (const greeter of greeters.slice(0, 2)) console.log(`  ${greeter.instanceId}: ${greeter.adminUrl}/status  ${greeter.adminUrl}/healthcheck`);
  console.log('Ctrl-C stops everything gracefully.\n');
  installSignalHandlers({ stop: () => shutdown() });
  setInterval(() => report('last 5 s'), 5000).unref();
} else {
  await shutdown();
}

async function shutdown(): Promise<void> {
  clearInterval(loop);
  await Promise.all([...greeters.map((g) => g.stop()), caller.stop()]);
  await eureka.close();
  console.log(`\n${calls} calls, ${failures} failed. Every instance stopped; the process exits by itself.`);
}
