// The quickstart: several instances of an example service, a caller that discovers and calls them, and
// an operator who takes one out of service and stops another, all in one process. Run with `npm start`;
// pass --keep-running to keep it up (Ctrl-C stops everything gracefully).
import { request } from 'undici';
import { InMemoryRegistry, createService, installSignalHandlers } from 'karyon-ts';
import type { RegistryInstance, Service } from 'karyon-ts';
import { createGreeter } from './greeter.js';

const keepRunning = process.argv.includes('--keep-running');
const t0 = Date.now();
const stamp = (): string => `+${((Date.now() - t0) / 1000).toFixed(1)}s`.padStart(7);
const say = (who: string, what: string): void => console.log(`${stamp()}  ${who.padEnd(10)} ${what}`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

console.log('\nkaryon-ts quickstart: three greeter instances, one caller, one operator\n');
const registry = new InMemoryRegistry();
say('registry', 'in-memory registry shared by every instance in this process');
registry.onChange(({ added, removed }) => {
  for (const instance of added) say('registry', `${instance.instanceId} registered as ${instance.status}`);
  for (const instance of removed) say('registry', `${instance.instanceId} deregistered`);
});

const greeters: Service[] = [
  createGreeter({ label: 'greeter-1', registry }),
  createGreeter({ label: 'greeter-2', registry }),
  createGreeter({ label: 'greeter-3', registry, warmUpMs: 1500 }),
];
for (const greeter of greeters) {
  const label = greeter.instanceId!;
  greeter.on('stateChange', ({ from, to, reason }) => say(label, `${from} -> ${to}  (${reason})`));
}

// The caller is a service too: it registers itself and finds greeters through the registry.
const caller = createService({ name: 'caller', registry, admin: false, lifecycle: { deregistrationDelayMs: 0 } });
await caller.start();

const tally = new Map<string, number>();
let calls = 0;
let failures = 0;
let next = 0;
async function callGreeter(): Promise<void> {
  const candidates: readonly RegistryInstance[] = caller.registry.upInstancesByVip('greeter');
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

const starting = greeters.map((greeter) => greeter.start());
await sleep(100);
for (const greeter of greeters) say(greeter.instanceId!, `admin ${greeter.adminUrl}/status`);
await sleep(700);
report('while greeter-3 warms up (STARTING)');
await Promise.all(starting);
await sleep(800);
report('all three UP');

say('operator', 'PUT /status {"status":"OUT_OF_SERVICE"} on greeter-2');
await request(`${greeters[1]!.adminUrl}/status`, { method: 'PUT', body: '{"status":"OUT_OF_SERVICE"}' }).then((r) => r.body.dump());
await sleep(800);
report('greeter-2 OUT_OF_SERVICE');
say('operator', 'PUT /status {"status":"UP"} on greeter-2');
await request(`${greeters[1]!.adminUrl}/status`, { method: 'PUT', body: '{"status":"UP"}' }).then((r) => r.body.dump());
await sleep(800);
report('greeter-2 back UP');

say('operator', 'greeter-3 stops gracefully: DOWN first, then drain');
await greeters[2]!.stop();
await sleep(600);
report('greeter-3 stopped');

if (keepRunning) {
  console.log('\nStill running (--keep-running). Admin URLs:');
  for (const greeter of greeters.slice(0, 2)) console.log(`  ${greeter.instanceId}: ${greeter.adminUrl}/status  ${greeter.adminUrl}/healthcheck`);
  console.log('Ctrl-C stops everything gracefully.\n');
  const stopAll = { stop: () => shutdown() };
  installSignalHandlers(stopAll);
  setInterval(() => report('last 5 s'), 5000).unref();
} else {
  await shutdown();
}

async function shutdown(): Promise<void> {
  clearInterval(loop);
  await Promise.all([...greeters.map((g) => g.stop()), caller.stop()]);
  console.log(`\n${calls} calls, ${failures} failed. Every instance stopped; the process exits by itself.`);
}
