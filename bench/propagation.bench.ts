// How long until other clients see a status change: from `service.markOutOfService()` (and `markUp()`) until
// another process's view of the instance shows it, with a 1 s fetch interval, against eureka-js-client 4.5.0
// watching the same instance with the same interval, in the same run.
// A service registers in the development Eureka server (in-process, response cache off, as a real server
// with its read-only cache disabled); two observers fetch every second: our Eureka client (deltas) and
// eureka-js-client (full fetches; it has no change event, so it is read after each 'registryUpdated'). Each
// round waits a random part of the fetch interval, flips the status, and times when each observer sees it.
// Reported: mean, median, p90 and max per observer and direction, the mean against half the fetch interval
// (the floor of any polling client: a change lands on average half an interval before the next fetch), and the
// ratio of our mean to eureka-js-client's. Both observers' fetch timers drift in phase, so a run of few rounds
// may favour either one; over 30 rounds the ratio of means stays near 1 (0.88 to 1.2 in runs on a shared machine).
// Run: npx tsx bench/propagation.bench.ts [--rounds=30] [--samples]
import { createRequire } from 'node:module';
import { createServer } from 'node:http';
import { createService } from '../src/index.js';
import { EurekaRegistry } from '../src/registry/eureka/EurekaRegistry.js';
import { EurekaServer } from '../src/testing/index.js';
import { fmt, median, percentile, table } from './support.js';

const FETCH_MS = 1000;
const rounds = Number(process.argv.find((arg) => arg.startsWith('--rounds='))?.slice('--rounds='.length) ?? 30);

interface JsInstance {
  readonly instanceId?: string;
  readonly status?: string;
}
interface JsClient {
  start(callback: (error?: Error) => void): void;
  stop(callback: () => void): void;
  on(event: 'registryUpdated', listener: () => void): void;
  getInstancesByAppId(app: string): JsInstance[];
}
type JsClientConstructor = new (config: object) => JsClient;

const mean = (values: readonly number[]): number => values.reduce((sum, v) => sum + v, 0) / values.length;
const silent = { debug() {}, info() {}, warn() {}, error() {} };

async function main(): Promise<void> {
  await using eureka = new EurekaServer({ port: 0, host: '127.0.0.1' });
  await eureka.listen();
  const server = createServer((_req, res) => res.end('ok'));
  const service = createService({
    name: 'watched',
    server,
    port: 0,
    host: '127.0.0.1',
    ipAddr: '127.0.0.1',
    admin: false,
    registry: { eureka: { serviceUrls: [eureka.url], heartbeatIntervalMs: 30_000, fetchRegistry: false } },
    lifecycle: { deregistrationDelayMs: 0 },
  });
  await service.start();
  const instanceId = service.instanceId!;

  // Observer 1: our client, told of each change by its change event.
  const ours = new EurekaRegistry({ serviceUrls: [eureka.url], registryFetchIntervalMs: FETCH_MS });
  const ourStatus = (): string | undefined => ours.instancesByApp('watched').find((i) => i.instanceId === instanceId)?.status;
  let onOurs: (() => void) | undefined;
  ours.onChange(() => onOurs?.());

  // Observer 2: eureka-js-client, read after each of its fetches.
  const { Eureka } = createRequire(import.meta.url)('eureka-js-client') as { Eureka: JsClientConstructor };
  const url = new URL(eureka.url);
  const js = new Eureka({
    logger: silent,
    instance: {},
    eureka: {
      host: url.hostname,
      port: Number(url.port),
      servicePath: `${url.pathname}/apps/`,
      registerWithEureka: false,
      fetchRegistry: true,
      filterUpInstances: false,
      registryFetchInterval: FETCH_MS,
    },
  });
  const jsStatus = (): string | undefined => js.getInstancesByAppId('WATCHED').find((i) => i.instanceId === instanceId)?.status;
  let onJs: (() => void) | undefined;
  js.on('registryUpdated', () => onJs?.());
  await new Promise<void>((resolve, reject) => js.start((error) => (error ? reject(error) : resolve())));

  /** Resolves with the ms from `t0` until `read()` shows `status`, re-read whenever `subscribe` fires. */
  const seen = (read: () => string | undefined, subscribe: (fn: (() => void) | undefined) => void, status: string, t0: number) =>
    new Promise<number>((resolve) => {
      const check = (): void => {
        if (read() !== status) return;
        subscribe(undefined);
        resolve(performance.now() - t0);
      };
      subscribe(check);
      check();
    });

  const samples: Record<string, number[]> = {};
  const record = (name: string, ms: number): void => void (samples[name] ??= []).push(ms);
  // Both observers see the instance UP first.
  await Promise.all([seen(ourStatus, (fn) => (onOurs = fn), 'UP', performance.now()), seen(jsStatus, (fn) => (onJs = fn), 'UP', performance.now())]);
  for (let round = 0; round < rounds; round++) {
    for (const [target, flip] of [
      ['OUT_OF_SERVICE', () => service.markOutOfService()],
      ['UP', () => service.markUp()],
    ] as const) {
      await new Promise((resolve) => setTimeout(resolve, Math.random() * FETCH_MS));
      const t0 = performance.now();
      const oursSeen = seen(ourStatus, (fn) => (onOurs = fn), target, t0);
      const jsSeen = seen(jsStatus, (fn) => (onJs = fn), target, t0);
      await flip();
      const [a, b] = await Promise.all([oursSeen, jsSeen]);
      record(`karyon-ts ${target}`, a);
      record(`eureka-js-client ${target}`, b);
    }
  }

  const rows = Object.entries(samples).map(([name, values]) => ({
    'observer, status seen': name,
    'mean ms': fmt(mean(values), 0),
    'mean / half interval': fmt(mean(values) / (FETCH_MS / 2), 2),
    'median ms': fmt(median(values), 0),
    'p90 ms': fmt(percentile(values, 90), 0),
    'max ms': fmt(Math.max(...values), 0),
  }));
  if (process.argv.includes("--samples")) for (const [name, values] of Object.entries(samples)) console.log(name, values.map((v) => Math.round(v)).join(" "));
  table(`Status change -> another client's view, fetch interval ${FETCH_MS} ms, ${rounds} rounds per direction`, rows);
  const ratio = (status: string): string => fmt(mean(samples[`karyon-ts ${status}`]!) / mean(samples[`eureka-js-client ${status}`]!), 2);
  console.log(`karyon-ts / eureka-js-client mean: OUT_OF_SERVICE ${ratio('OUT_OF_SERVICE')}, UP ${ratio('UP')} (lower is better)`);

  await new Promise<void>((resolve) => js.stop(resolve));
  await ours.close();
  await service.stop();
}

await main();
process.exit(0);
