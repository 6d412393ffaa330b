// A client's first full fetches, each client in a fresh process, against eureka-js-client 4.5.0 in the same run:
// the time of each fetch and where its CPU went, by thread.
//
// Set-up: this (parent) process serves a synthetic `GET /apps` (see eureka-payload.ts) gzipped over loopback, as
// Eureka servers do, in EUREKA_COLD_VERSIONS (4) versions answered in turn that differ in every lease's
// lastRenewalTimestamp (30 s apart), as a server writes its registry again after any change; and a 500-instance
// registry on which each client warms its code up first. Each round starts one child process per client (with
// --expose-gc; the clients' order alternates from round to round), which fetches the large registry
// EUREKA_COLD_FETCHES (4) times back to back, a full GC and 300 ms between fetches: karyon-ts as configured by
// default but with `fetchDeltas: false` (each fetch a full one, over the view it holds from the second on),
// eureka-js-client fetching its full registry. No request load: this is the fetch alone, closed loop, one at a
// time. Per fetch: the wall time from the call until the view is usable, and on Linux the CPU time of each of
// the process's threads (/proc/self/task/*/schedstat) in three groups: the event loop; threads started during
// the fetches (karyon-ts's decoding worker); the process's other threads (V8's compiler and GC threads, libuv's).
// Results: medians over the rounds, per fetch in order; the ratio of the wall times is the figure to read.
// Run: npx tsx bench/eureka-cold-fetch.bench.ts
//      EUREKA_COLD_INSTANCES=30000 EUREKA_COLD_ROUNDS=8 npx tsx bench/eureka-cold-fetch.bench.ts
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { EurekaRegistry } from '../src/registry/eureka/index.js';
import { appsOf, makeJsClient, payload } from './eureka-payload.js';
import { fmt, gc, median, table } from './support.js';

const INSTANCES = Number(process.env['EUREKA_COLD_INSTANCES'] ?? 10_000);
const FETCHES = Number(process.env['EUREKA_COLD_FETCHES'] ?? 4);
const ROUNDS = Number(process.env['EUREKA_COLD_ROUNDS'] ?? 6);
const VERSIONS = Number(process.env['EUREKA_COLD_VERSIONS'] ?? 4);
const CLIENTS = ['karyon-ts', 'eureka-js-client'] as const;
type Client = (typeof CLIENTS)[number];

/** One fetch: its wall time, and CPU time by thread group (ms; undefined off Linux). */
interface Fetch {
  readonly ms: number;
  readonly loop?: number;
  readonly started?: number;
  readonly others?: number;
}

// ---- child: one client, one process ----------------------------------------------------------------------

/** CPU time (ms) of each thread of this process, by thread id; undefined where /proc has no schedstat. */
function threadCpu(): Map<string, number> | undefined {
  if (!existsSync('/proc/self/task')) return undefined;
  const cpu = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      cpu.set(tid, Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e6);
    } catch {
      // The thread ended meanwhile.
    }
  }
  return cpu;
}

async function child(client: Client, url: string, smallUrl: string): Promise<Fetch[]> {
  let fetchOnce: () => Promise<void>;
  let close: () => Promise<void>;
  if (client === 'karyon-ts') {
    const make = (serviceUrl: string): EurekaRegistry =>
      new EurekaRegistry({ serviceUrls: [serviceUrl], registryFetchIntervalMs: 3_600_000, fetchDeltas: false, requestTimeoutMs: 120_000 });
    const warm = make(smallUrl);
    await warm.refresh();
    warm.upInstancesByVip('service-001');
    await warm.close();
    // Made at the first fetch: a registry starts fetching as it is made.
    let registry: EurekaRegistry | undefined;
    fetchOnce = async () => {
      registry ??= make(url);
      await registry.refresh();
      registry.upInstancesByVip('service-001');
    };
    close = async () => registry?.close();
  } else {
    const load = (peer: ReturnType<typeof makeJsClient>): Promise<void> =>
      new Promise((resolve, reject) => peer.fetchRegistry((error) => (error ? reject(error) : resolve())));
    const warm = makeJsClient(smallUrl, true);
    await load(warm);
    warm.getInstancesByVipAddress('service-001');
    let peer: ReturnType<typeof makeJsClient> | undefined;
    fetchOnce = async () => {
      peer ??= makeJsClient(url, true);
      await load(peer);
      peer.getInstancesByVipAddress('service-001');
    };
    close = async () => {};
  }
  gc();
  gc();
  await new Promise((resolve) => setTimeout(resolve, 300));
  const atStart = threadCpu();
  const fetches: Fetch[] = [];
  for (let k = 0; k < FETCHES; k++) {
    const before = threadCpu();
    const started = performance.now();
    await fetchOnce();
    const ms = performance.now() - started;
    const after = threadCpu();
    if (before === undefined || after === undefined || atStart === undefined) {
      fetches.push({ ms });
    } else {
      const groups = { loop: 0, started: 0, others: 0 };
      for (const [tid, cpu] of after) {
        const spent = cpu - (before.get(tid) ?? 0);
        if (tid === String(process.pid)) groups.loop += spent;
        else if (atStart.has(tid)) groups.others += spent;
        else groups.started += spent;
      }
      fetches.push({ ms, ...groups });
    }
    gc();
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  await close();
  return fetches;
}

// ---- parent: serve the registries, run the children, print the table ---------------------------------------

async function parent(): Promise<void> {
  const apps = appsOf(INSTANCES);
  const text = payload(INSTANCES, apps);
  // Every lease renewed 30 s later in each version, the rest of the text as it was.
  const versions = Array.from({ length: VERSIONS }, (_, v) =>
    gzipSync(text.replace(/"lastRenewalTimestamp":(\d+)/g, (_match, at: string) => `"lastRenewalTimestamp":${Number(at) + v * 30_000}`)),
  );
  const small = gzipSync(payload(500, 20));
  let served = 0;
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/\/+$/, '');
    const body = path === '/big/apps' ? versions[served++ % versions.length] : path === '/small/apps' ? small : undefined;
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': body.length });
    res.end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  console.log(
    `payload: ${INSTANCES} instances in ${apps} apps, ${fmt(text.length / 1024 / 1024, 1)} MiB of JSON (${fmt(versions[0]!.length / 1024, 0)} KiB gzipped), ` +
      `${VERSIONS} versions in turn; ${FETCHES} full fetches per process, ${ROUNDS} rounds; load average at the start: ${loadavg().map((l) => fmt(l)).join(' ')}`,
  );
  const script = fileURLToPath(import.meta.url);
  const results = new Map<Client, Fetch[][]>(CLIENTS.map((client) => [client, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? CLIENTS : [...CLIENTS].reverse();
    for (const client of order) {
      served = 0;
      const proc = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', script, 'child', client, `http://127.0.0.1:${port}/big`, `http://127.0.0.1:${port}/small`], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      const [code] = (await once(proc, 'exit')) as [number | null];
      if (code !== 0) throw new Error(`the ${client} process exited with ${code}`);
      results.get(client)!.push(JSON.parse(out.trim().split('\n').pop()!) as Fetch[]);
    }
  }
  server.close();
  const ours = results.get('karyon-ts')!;
  const peer = results.get('eureka-js-client')!;
  const at = (runs: Fetch[][], k: number, key: keyof Fetch): string => {
    const values = runs.map((fetches) => fetches[k]?.[key]).filter((v): v is number => v !== undefined);
    return values.length === 0 ? '-' : fmt(median(values), 1);
  };
  table(
    'Full fetches in a fresh process (ms, medians over the rounds): wall time, and CPU of the event loop, of the threads started during the fetches (the decoding worker) and of the other threads (V8 compiler and GC, libuv)',
    Array.from({ length: FETCHES }, (_, k) => ({
      fetch: k + 1,
      'karyon-ts': at(ours, k, 'ms'),
      'eureka-js-client': at(peer, k, 'ms'),
      'karyon-ts / eureka-js-client': fmt(median(ours.map((f) => f[k]!.ms)) / median(peer.map((f) => f[k]!.ms)), 2),
      'karyon-ts loop': at(ours, k, 'loop'),
      'karyon-ts worker': at(ours, k, 'started'),
      'karyon-ts other threads': at(ours, k, 'others'),
      'eureka-js-client loop': at(peer, k, 'loop'),
      'eureka-js-client other threads': at(peer, k, 'others'),
    })),
  );
  console.log(`load average at the end: ${loadavg().map((l) => fmt(l)).join(' ')}`);
}

if (process.argv[2] === 'child') {
  const [, , , client, url, smallUrl] = process.argv as [string, string, string, Client, string, string];
  console.log(JSON.stringify(await child(client, url, smallUrl)));
  // eureka-js-client's keep-alive sockets would hold the child; the measurement is done.
  process.exit(0);
} else {
  await parent();
}
