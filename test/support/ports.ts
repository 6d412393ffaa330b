import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

// Ports for what a test must tell its port before it listens (a child process, a Java server), and for URLs that
// must be refused. A port free a moment ago on port 0 is one the kernel hands out again: to the next listener on
// port 0 in a test file running beside this one (an admin server, a fake registry) and to outgoing connections.
// So these ports come from below the ephemeral range (net.ipv4.ip_local_port_range), which the kernel never hands
// out by itself. Each test worker (VITEST_POOL_ID) takes its own block of them, so two files running at once do
// not pick the same port, and a process gives a port out once, after binding it succeeded.

const LOWEST = 10_000;
const BLOCKS = 16;

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) ? low : 32_768;
  } catch {
    return 32_768; // not Linux: the IANA dynamic range starts at 49152, Linux's default at 32768
  }
}

const blockSize = Math.floor((ephemeralLow() - LOWEST) / BLOCKS);
const block = Number(process.env['VITEST_POOL_ID'] ?? process.pid) % BLOCKS;
const first = LOWEST + block * blockSize;
let cursor = Math.floor(Math.random() * Math.max(blockSize, 1));
const given = new Set<number>();

function bindable(port: number): Promise<number | undefined> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const bound = (server.address() as { port: number }).port;
      server.close(() => resolve(bound));
    });
  });
}

/** A port free on loopback that no other caller in this run is given, for a server to be told its port. */
export async function freePort(): Promise<number> {
  // An ephemeral range reaching down near LOWEST leaves no room below it: take a port free a moment ago.
  if (blockSize < 64) return (await bindable(0)) ?? Promise.reject(new Error('no free port on 127.0.0.1'));
  for (let tries = 0; tries < blockSize; tries++) {
    const port = first + (cursor++ % blockSize);
    if (given.has(port) || (await bindable(port)) === undefined) continue;
    given.add(port);
    return port;
  }
  throw new Error(`no free port left in ${first}-${first + blockSize - 1}`);
}
