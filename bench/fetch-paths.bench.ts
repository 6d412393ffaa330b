// What moving a fetch / node-fetch caller to `service.client(vip)` costs, path by path, against plain global
// fetch and node-fetch 3 in the same run. The upstream is one node:http server in a child process (so it does
// not share the caller's event loop) answering a 27-byte JSON body at once over loopback keep-alive; every
// call reads and parses the body. Regime: closed loop, 1 caller and 16 concurrent callers, each variant run
// for 1 s per round after a warm-up, variants interleaved round by round (5 rounds), medians reported.
// Figures: requests/s (wall) and the caller's CPU time per request (process.cpuUsage, which does not count
// time another process holds the cores of this shared machine); ratios are against global fetch and
// node-fetch measured in the same round.
// Variants: global fetch; node-fetch with a keep-alive agent; client.request() (undici pool, the default
// transport); client.fetch() on the default transport (a WHATWG Response); client.fetch() with
// `transport: fetch` and with `transport: nodeFetch` (for teams that keep their HTTP stack).
// Run: npx tsx bench/fetch-paths.bench.ts
import { fork } from 'node:child_process';
import { Agent as HttpAgent, createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import nodeFetch from 'node-fetch';
import { createService } from '../src/index.js';
import { InMemoryRegistry, testInstance } from '../src/testing/index.js';
import { fmt, median, table } from './support.js';

if (process.argv[2] === 'serve') {
  const body = JSON.stringify({ ok: true, price: 3.25 });
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as { port: number }).port }));
  process.on('disconnect', () => process.exit(0));
} else {
  await main();
}

async function main(): Promise<void> {
  const ROUNDS = 5;
  const ROUND_MS = 1000;
  const child = fork(fileURLToPath(import.meta.url), ['serve'], { execArgv: ['--import', 'tsx'] });
  const port = await new Promise<number>((resolve) => child.once('message', (m: { port: number }) => resolve(m.port)));
  const url = `http://127.0.0.1:${port}/price`;

  const registry = new InMemoryRegistry();
  await registry.register(testInstance({ instanceId: 'pricing-1', app: 'pricing', vipAddress: 'pricing', port }), 'UP');
  const service = createService({ name: 'bench', registry, admin: false, logger: false });
  const viaUndici = service.client('pricing');
  const viaFetch = service.client('pricing', { transport: fetch });
  const viaNodeFetch = service.client('pricing', { transport: nodeFetch });
  const agent = new HttpAgent({ keepAlive: true, maxSockets: 64 });

  const variants: { name: string; call: () => Promise<unknown> }[] = [
    { name: 'fetch (global)', call: async () => (await fetch(url)).json() },
    { name: 'node-fetch', call: async () => (await nodeFetch(url, { agent })).json() },
    { name: 'client.request()', call: async () => (await viaUndici.request({ path: '/price' })).body.json() },
    { name: 'client.fetch()', call: async () => (await viaUndici.fetch('/price')).json() },
    { name: 'client.fetch(), transport: fetch', call: async () => (await viaFetch.fetch('/price')).json() },
    { name: 'client.fetch(), transport: nodeFetch', call: async () => (await viaNodeFetch.fetch('/price')).json() },
  ];

  /** Runs `concurrency` closed-loop callers for `ms`; requests per second and CPU µs per request. */
  async function run(call: () => Promise<unknown>, concurrency: number, ms: number): Promise<{ rps: number; cpuUs: number }> {
    let done = 0;
    const cpu = process.cpuUsage();
    const started = performance.now();
    const end = started + ms;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < end) {
          await call();
          done++;
        }
      }),
    );
    const elapsed = performance.now() - started;
    const used = process.cpuUsage(cpu);
    return { rps: (done / elapsed) * 1000, cpuUs: (used.user + used.system) / done };
  }

  for (const concurrency of [1, 16]) {
    for (const v of variants) await run(v.call, concurrency, 300); // warm-up: connections, JIT
    const rps = new Map<string, number[]>(variants.map((v) => [v.name, []]));
    const cpu = new Map<string, number[]>(variants.map((v) => [v.name, []]));
    const vsFetch = new Map<string, number[]>(variants.map((v) => [v.name, []]));
    const vsNodeFetch = new Map<string, number[]>(variants.map((v) => [v.name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      const results = new Map<string, { rps: number; cpuUs: number }>();
      for (const v of round % 2 === 0 ? variants : [...variants].reverse()) results.set(v.name, await run(v.call, concurrency, ROUND_MS));
      for (const v of variants) {
        const r = results.get(v.name)!;
        rps.get(v.name)!.push(r.rps);
        cpu.get(v.name)!.push(r.cpuUs);
        vsFetch.get(v.name)!.push(r.cpuUs / results.get('fetch (global)')!.cpuUs);
        vsNodeFetch.get(v.name)!.push(r.cpuUs / results.get('node-fetch')!.cpuUs);
      }
    }
    table(
      `${concurrency} caller(s), closed loop, ${ROUNDS} rounds of ${ROUND_MS} ms (medians; CPU = this process's CPU time per request)`,
      variants.map((v) => ({
        path: v.name,
        'req/s': fmt(median(rps.get(v.name)!), 0),
        'CPU µs/req': fmt(median(cpu.get(v.name)!), 1),
        'CPU vs fetch': `${fmt(median(vsFetch.get(v.name)!))}x`,
        'CPU vs node-fetch': `${fmt(median(vsNodeFetch.get(v.name)!))}x`,
      })),
    );
  }

  await service.stop().catch(() => undefined);
  for (const c of [viaUndici, viaFetch, viaNodeFetch]) await c.close();
  agent.destroy();
  child.disconnect();
}
