// The quickstart: a development Eureka server, three instances of an example service registered in it, and a
// caller whose balanced client finds them through Eureka, while one instance turns slow, one loses its database
// (its health check takes it DOWN, then back UP), one is taken out of service and one stops, all in one process. Run with `npm start`; pass --keep-running to keep it up (Ctrl-C
// stops everything gracefully).
import { createServer } from 'node:http';
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
const PHASE_MS = 1200;

/** Instances that are shutting down: the DOWN they send Eureka is their goodbye, not a failure. */
const leaving = new Set<string>();
const labelled = (message: string): string => {
  const down = /\/(\S+) \S+ -> DOWN/.exec(message);
  return down !== null && leaving.has(down[1]!) ? `${message}  = ${down[1]} shutting down (DOWN first, then cancel), not failing` : message;
};
const eurekaLog: Logger = {
  debug: () => undefined,
  info: (message) => say('eureka', labelled(message)),
  warn: (message) => say('eureka', message),
  error: (message) => say('eureka', message),
};

console.log('\nkaryon-ts quickstart: a Eureka server, three greeter instances, a caller, an operator\n');
const eureka = new EurekaServer({ port: 0, host: '127.0.0.1', logger: eurekaLog });
await eureka.listen();
say('eureka', `development Eureka server: ${eureka.url}/apps`);

let slowGreeter1 = false;
let greeter2DatabaseUp = true;
const greeters: Service[] = ['greeter-1', 'greeter-2', 'greeter-3'].map((label, i) =>
  createGreeter({
    label,
    eurekaUrl: eureka.url,
    heartbeatIntervalMs: HEARTBEAT_MS,
    registryFetchIntervalMs: FETCH_MS,
    deregistrationDelayMs: DEREGISTRATION_DELAY_MS,
    warmUpMs: i === 2 ? 1500 : 0,
    latencyMs: () => (i === 0 && slowGreeter1 ? 40 : 4),
    databaseUp: () => i !== 1 || greeter2DatabaseUp,
  }),
);
for (const greeter of greeters) {
  const label = greeter.instanceId!;
  greeter.on('stateChange', ({ from, to, reason }) => {
    if (to === 'SHUTTING_DOWN') leaving.add(label);
    say(label, `${from} -> ${to}  (${reason})`);
  });
  greeter.on('healthChange', ({ name, from, to }) => say(label, `health check '${name}' ${from} -> ${to}`));
}

// The caller is a service too: it registers itself at the port its own server listens on (GET / answers its
// tally), and its client balances over the greeters it sees in Eureka.
const callerServer = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ calls, failures }));
});
const caller = createService({
  name: 'caller',
  server: callerServer,
  port: 0,
  host: '127.0.0.1',
  hostName: '127.0.0.1',
  ipAddr: '127.0.0.1',
  registry: { eureka: { serviceUrls: [eureka.url], heartbeatIntervalMs: HEARTBEAT_MS, registryFetchIntervalMs: FETCH_MS } },
  admin: { port: 0, host: '127.0.0.1' },
  lifecycle: { deregistrationDelayMs: 0 },
  logger: false,
});
caller.on('stateChange', ({ to }) => {
  if (to === 'SHUTTING_DOWN') leaving.add(caller.instanceId!);
});
await caller.start();
say('caller', `registered at http://127.0.0.1:${caller.instance!.port}/ (its own server: GET / answers its tally)`);
const greeterClient = caller.client('greeter'); // p2c-ewma, outlier ejection, retries within a budget

const tally = new Map<string, number>();
const latencies: number[] = [];
let calls = 0;
let failures = 0;
/** When the current phase began: calls started before it (still in flight at an operator's action) are not tallied. */
let phaseStartedAt = performance.now();
async function callGreeter(): Promise<void> {
  calls++;
  const started = performance.now();
  try {
    const res = await greeterClient.request({ path: '/hello' });
    const body = (await res.body.json()) as { from: string };
    if (started < phaseStartedAt) return;
    latencies.push(performance.now() - started);
    tally.set(body.from, (tally.get(body.from) ?? 0) + 1);
  } catch (error) {
    // Before any greeter is UP there is nobody to call; anything else would be a lost request.
    if ((error as { code?: string }).code === 'ERR_NO_INSTANCES') calls--;
    else {
      failures++;
      say('caller', `call failed: ${(error as Error).message}`);
    }
  }
}
// About 100 calls a second, up to 4 at a time.
const loop = setInterval(() => {
  for (let i = 0; i < 4; i++) void callGreeter();
}, 40);

function report(phase: string): void {
  const total = [...tally.values()].reduce((a, b) => a + b, 0) || 1;
  const shares = ['greeter-1', 'greeter-2', 'greeter-3'].map((label) => `${label} ${String(Math.round(((tally.get(label) ?? 0) * 100) / total)).padStart(3)}%`);
  const sorted = latencies.sort((a, b) => a - b);
  const p99 = sorted[Math.floor(sorted.length * 0.99)] ?? 0;
  say('caller', `${phase.padEnd(28)} traffic: ${shares.join('  ')}   p99 ${p99.toFixed(0).padStart(3)} ms`);
  beginPhase();
}

/** Resolves when the service reaches the state. */
function waitForState(service: Service, state: string): Promise<void> {
  if (service.status === state) return Promise.resolve();
  return new Promise((resolve) => {
    const onChange = ({ to }: { to: string }): void => {
      if (to !== state) return;
      service.off('stateChange', onChange);
      resolve();
    };
    service.on('stateChange', onChange);
  });
}

function beginPhase(): void {
  phaseStartedAt = performance.now();
  tally.clear();
  latencies.length = 0;
}

const starting = greeters.map((greeter) => greeter.start());
await sleep(100);
for (const greeter of greeters) say(greeter.instanceId!, `admin console ${greeter.adminUrl}/`);
say('caller', `admin console ${caller.adminUrl}/ (its balancer's view: ${caller.adminUrl}/instances)`);
await sleep(PHASE_MS);
report('greeter-3 warming up');
await Promise.all(starting);
await sleep(PHASE_MS);
report('all three UP');

say('operator', 'greeter-1 turns 10x slower');
slowGreeter1 = true;
await sleep(2 * PHASE_MS);
report('greeter-1 slow (p2c-ewma)');
slowGreeter1 = false;
say('operator', 'greeter-1 is fast again (its latency estimate decays over ~10 s, then it wins picks again)');
await sleep(2 * PHASE_MS);
report('greeter-1 healed, decaying');

say('operator', "greeter-2's database stops answering: its health check fails");
greeter2DatabaseUp = false;
await waitForState(greeters[1]!, 'DOWN');
beginPhase(); // calls already in flight on greeter-2 finish there
await sleep(PHASE_MS);
report('greeter-2 DOWN (health)');
say('operator', "greeter-2's database is back");
greeter2DatabaseUp = true;
await waitForState(greeters[1]!, 'UP');
await sleep(PHASE_MS);
report('greeter-2 healthy again');

say('operator', 'PUT /status {"status":"OUT_OF_SERVICE"} on greeter-2');
await fetch(`${greeters[1]!.adminUrl}/status`, { method: 'PUT', body: '{"status":"OUT_OF_SERVICE"}' });
beginPhase(); // calls already in flight on greeter-2 finish there: nothing is cut
await sleep(PHASE_MS);
report('greeter-2 OUT_OF_SERVICE');
say('operator', 'PUT /status {"status":"UP"} on greeter-2');
await fetch(`${greeters[1]!.adminUrl}/status`, { method: 'PUT', body: '{"status":"UP"}' });
await sleep(PHASE_MS);
report('greeter-2 back UP');

say('operator', 'greeter-3 stops gracefully: DOWN first, wait for clients, drain, deregister');
await greeters[2]!.stop();
beginPhase();
await sleep(PHASE_MS);
report('greeter-3 stopped');

if (keepRunning) {
  console.log('\nStill running (--keep-running). Open:');
  console.log(`  Eureka registry: ${eureka.url}/apps`);
  console.log(`  the caller's admin console (web UI): ${caller.adminUrl}/`);
  console.log(`  the caller's view of each greeter (EWMA, pending, ejections): ${caller.adminUrl}/instances`);
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
