// What the built-in client metrics cost a call: CPU time per `client.request()` of a bare `createServiceClient`
// client (no service, no metrics, no breaker), of the same with the client metrics reported to Prometheus, and
// of a service's client with Prometheus metrics on and off, all in the same run with the variants interleaved
// round by round. The transport is a fetch function answering a body-less 200 at once in-process, so what is measured is the client's own path (balancer pick,
// breaker command, retries bookkeeping, metrics) and not a network. Costs are CPU time of this process
// (process.cpuUsage) per call, medians over rounds; ratios are taken within a round, then the median.
// Run: npx tsx bench/client-metrics.bench.ts
import * as extend from '../src/extend/index.js';
import { clientMetrics } from '../src/extend/index.js';
import { createMetrics, createService, createServiceClient } from '../src/index.js';
import type { FetchResponseLike, ServiceClient } from '../src/index.js';
import { InMemoryRegistry, testInstance } from '../src/testing/index.js';
import { fmt, median, table } from './support.js';

const CALLS = 20_000;
const ROUNDS = 15;

const registry = new InMemoryRegistry();
for (let i = 1; i <= 3; i++) await registry.register(testInstance({ instanceId: `b${i}`, app: 'BACKEND', port: 9000 + i }), 'UP');

// Answers at once with a body-less 200 (a plain object shaped as a fetch Response), so the client's own path
// dominates what is measured.
const answer: FetchResponseLike = Object.freeze({
  status: 200,
  headers: { forEach: () => undefined },
  body: null,
  text: () => Promise.resolve(''),
  json: () => Promise.resolve(null),
  arrayBuffer: () => Promise.resolve(new ArrayBuffer(0)),
});
const transport = (): Promise<FetchResponseLike> => Promise.resolve(answer);

/** A bare client reporting the built-in client metrics to Prometheus, however this version wires them. */
function measuredClient(): ServiceClient {
  const family = clientMetrics(createMetrics({ prometheus: true }));
  const ext = extend as Partial<Record<'bindClientMetrics', (client: ServiceClient, family: unknown) => unknown>>;
  if (ext.bindClientMetrics === undefined) return createServiceClient({ registry, vip: 'backend', transport, metrics: family });
  const client = createServiceClient({ registry, vip: 'backend', transport });
  ext.bindClientMetrics(client, family);
  return client;
}

const withMetrics = createService({ name: 'caller-metrics', registry, admin: false, metrics: { prometheus: true } });
const withoutMetrics = createService({ name: 'caller-plain', registry, admin: false });

const variants: { readonly name: string; readonly client: ServiceClient }[] = [
  { name: 'bare createServiceClient', client: createServiceClient({ registry, vip: 'backend', transport }) },
  { name: 'bare client, Prometheus client metrics', client: measuredClient() },
  { name: 'service client, metrics off', client: withoutMetrics.client('backend', { transport }) },
  { name: 'service client, Prometheus metrics', client: withMetrics.client('backend', { transport }) },
];

async function run(client: ServiceClient, calls: number): Promise<number> {
  const before = process.cpuUsage();
  for (let i = 0; i < calls; i++) {
    const res = await client.request({ path: '/' });
    await res.body.dump();
  }
  const used = process.cpuUsage(before);
  return ((used.user + used.system) * 1000) / calls; // ns per call
}

for (const v of variants) await run(v.client, CALLS); // warm up

const costs = new Map<string, number[]>(variants.map((v) => [v.name, []]));
const ratios = new Map<string, number[]>(variants.map((v) => [v.name, []]));
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? variants : [...variants].reverse();
  const got = new Map<string, number>();
  for (const v of order) got.set(v.name, await run(v.client, CALLS));
  const bare = got.get(variants[0]!.name)!;
  for (const [name, ns] of got) {
    costs.get(name)!.push(ns);
    ratios.get(name)!.push(ns / bare);
  }
}

table(
  `client.request() CPU cost per call, ${ROUNDS} rounds of ${CALLS} calls (medians)`,
  variants.map((v) => ({
    variant: v.name,
    'ns/call': fmt(median(costs.get(v.name)!), 0),
    'x bare': fmt(median(ratios.get(v.name)!), 3),
  })),
);
const on = ratios.get(variants[3]!.name)!;
const off = ratios.get(variants[2]!.name)!;
console.log(`service client, metrics on / metrics off: ${fmt(median(on.map((r, i) => r / off[i]!)), 3)}`);

for (const v of variants) await v.client.close();
await Promise.all([withMetrics.stop(), withoutMetrics.stop()]);
