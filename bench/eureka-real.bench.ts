// How long changes take to reach callers on the real Spring Cloud Netflix Eureka server with every default:
// the server's read-only response cache (30 s refresh), our client's 30 s fetch, and a Spring Boot service with
// the Java Eureka client (30 s fetch) and Spring Cloud LoadBalancer (35 s cache), in the same run.
// Set-up: one Eureka server, one Java caller (java-vip), one Node caller (our client, service.client), and Node
// instances of node-svc; every process on loopback, each caller calling node-svc every 200 ms (low load).
// Each round measures, for the same event, when each caller's traffic reflects it:
//   registration-to-visible: a new Node instance starts -> the first call each caller sends it;
//   status-change-to-traffic-stopped: markOutOfService() -> the last call each caller sends it;
//   graceful stop with the service's default deregistration delay: failed calls of each caller.
// The ratio to read is ours / Java's for the same event. Needs java and mvn (builds interop/ first).
// Run: npx tsx bench/eureka-real.bench.ts [--rounds=2]
import { createService } from '../src/index.js';
import type { Service } from '../src/index.js';
import { buildInterop, interopMissing, killAll, startEurekaCluster, startJavaService } from '../test/interop/harness.js';
import { eurekaRequest, nodeService } from '../test/interop/peers.js';
import { fmt, median, table } from './support.js';

const rounds = Number(process.argv.find((arg) => arg.startsWith('--rounds='))?.slice('--rounds='.length) ?? 2);
const CALL_EVERY_MS = 200;

if (interopMissing !== undefined) {
  console.log(`skipped: ${interopMissing}`);
  process.exit(0);
}

await buildInterop();
const [peer] = await startEurekaCluster(1);
const url = peer?.serviceUrl ?? '';
const java = await startJavaService([url], 'java-caller');
const caller = createService({ name: 'node-caller', port: 0, host: '127.0.0.1', hostName: '127.0.0.1', ipAddr: '127.0.0.1', admin: false, registry: { eureka: { serviceUrls: [url] } } });
await caller.start();
const client = caller.client('node-svc', { balancer: 'round-robin' });

/** Per caller: when each Node instance last and first got a call, and failed calls. */
interface Traffic {
  first: Map<string, number>;
  last: Map<string, number>;
  failed: number;
}
const traffic: Record<'node' | 'java', Traffic> = {
  node: { first: new Map(), last: new Map(), failed: 0 },
  java: { first: new Map(), last: new Map(), failed: 0 },
};
function record(t: Traffic, id: string): void {
  const now = Date.now();
  if (!t.first.has(id)) t.first.set(id, now);
  t.last.set(id, now);
}
let calling = true;
async function callLoop(kind: 'node' | 'java'): Promise<void> {
  while (calling) {
    const started = Date.now();
    try {
      if (kind === 'node') {
        const res = await client.request({ path: '/' });
        const body = await res.body.text();
        if (res.statusCode === 200) record(traffic.node, body);
        else traffic.node.failed++;
      } else {
        const res = await eurekaRequest('GET', `${java.url}/call?vip=node-svc&n=1`);
        const out = JSON.parse(res.body) as { counts: Record<string, number>; failed: number; errors: Record<string, number> };
        for (const id of Object.keys(out.counts)) record(traffic.java, id);
        // "No instances available" before the first instance is known is not a failed call to an instance.
        if (out.failed > 0 && !Object.keys(out.errors).some((e) => e.includes('No instances available'))) traffic.java.failed += out.failed;
      }
    } catch {
      if (kind === 'node') traffic.node.failed++;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, CALL_EVERY_MS - (Date.now() - started))));
  }
}

const base = nodeService({ instanceId: 'node-base', eureka: { serviceUrls: [url] } });
await base.start();
const loops = [callLoop('node'), callLoop('java')];

async function until(condition: () => boolean, timeoutMs = 240_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
// Both callers reach the base instance first.
await until(() => traffic.node.first.has('node-base') && traffic.java.first.has('node-base'));

const visible: { node: number; java: number }[] = [];
const stopped: { node: number; java: number }[] = [];
const stopFailures: { node: number; java: number }[] = [];
for (let round = 0; round < rounds; round++) {
  const id = `node-r${round}`;
  const service: Service = nodeService({ instanceId: id, eureka: { serviceUrls: [url] } });
  const startedAt = Date.now();
  await service.start();
  await until(() => traffic.node.first.has(id) && traffic.java.first.has(id));
  visible.push({ node: (traffic.node.first.get(id) ?? 0) - startedAt, java: (traffic.java.first.get(id) ?? 0) - startedAt });

  const outAt = Date.now();
  await service.markOutOfService();
  // Stopped: no call for 40 s (two hundred call periods) after the last one seen since the change; a caller
  // that sent nothing more since the change counts from the change itself.
  const quiet = (t: Traffic): boolean => Date.now() - Math.max(outAt, t.last.get(id) ?? 0) > 40_000;
  await until(() => quiet(traffic.node) && quiet(traffic.java), 300_000);
  stopped.push({ node: Math.max(0, (traffic.node.last.get(id) ?? outAt) - outAt), java: Math.max(0, (traffic.java.last.get(id) ?? outAt) - outAt) });

  await service.markUp();
  const upAt = Date.now();
  await until(() => (traffic.node.last.get(id) ?? 0) > upAt && (traffic.java.last.get(id) ?? 0) > upAt);
  const before = { node: traffic.node.failed, java: traffic.java.failed };
  await service.stop();
  await new Promise((resolve) => setTimeout(resolve, 100_000));
  stopFailures.push({ node: traffic.node.failed - before.node, java: traffic.java.failed - before.java });
  console.log(`round ${round + 1}: visible ${JSON.stringify(visible.at(-1))}, stopped ${JSON.stringify(stopped.at(-1))}, failed during stop ${JSON.stringify(stopFailures.at(-1))}`);
}

calling = false;
await Promise.all(loops);
await client.close();
await base.stop();
await caller.stop();
await killAll();

const row = (what: string, samples: { node: number; java: number }[]): Record<string, string | number> => {
  const node = median(samples.map((s) => s.node));
  const javaMs = median(samples.map((s) => s.java));
  return { event: what, rounds: samples.length, 'node caller median ms': Math.round(node), 'java caller median ms': Math.round(javaMs), 'node / java': fmt(node / Math.max(1, javaMs)) };
};
table('real Eureka server, every default (median over rounds)', [row('registration to first call', visible), row('markOutOfService to last call', stopped)]);
table('failed calls during a graceful stop with the default deregistration delay', stopFailures.map((f, i) => ({ round: i + 1, 'node caller': f.node, 'java caller': f.java })));
