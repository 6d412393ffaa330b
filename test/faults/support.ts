import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import type { InstanceDescriptor } from '../../src/index.js';

// Helpers of the fault suite: real child processes (the `karyon` command), killed for real, and polls of what a
// registry holds. Every process started here is killed by `killAll()`, which each test file runs after each test.

export const root = fileURLToPath(new URL('../..', import.meta.url));

const children = new Set<ChildProcess>();

/** A child process with its output collected. */
export interface Child {
  readonly child: ChildProcess;
  readonly out: { stdout: string; stderr: string };
  readonly exited: Promise<number | null>;
}

/** Runs `node --import tsx <script> ...args` from the repository root, optionally inside a network namespace. */
export function spawnNode(script: string, args: readonly string[], options: { netns?: string; env?: NodeJS.ProcessEnv } = {}): Child {
  return spawnChild([process.execPath, '--import', 'tsx', script, ...args], options);
}

/** Runs a command from the repository root with its output collected, optionally inside a network namespace. */
export function spawnChild(command: readonly string[], options: { netns?: string; env?: NodeJS.ProcessEnv } = {}): Child {
  const [file, ...rest] = options.netns === undefined ? command : ['ip', 'netns', 'exec', options.netns, ...command];
  const child = spawn(file!, rest, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
  children.add(child);
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk: Buffer) => (out.stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out.stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  void exited.then(() => children.delete(child));
  return { child, out, exited };
}

/** Kills (SIGKILL) every child still running; for afterEach. */
export async function killAll(): Promise<void> {
  const running = [...children].filter((child) => child.exitCode === null && child.signalCode === null);
  for (const child of running) child.kill('SIGKILL');
  await Promise.all(running.map((child) => once(child, 'exit').catch(() => undefined)));
  children.clear();
}

/** Kills a child with SIGKILL and waits until it is gone. */
export async function kill9(child: Child): Promise<void> {
  if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill('SIGKILL');
  await child.exited;
}

/** A TCP port free right now on 127.0.0.1. */
export { freePort } from '../support/ports.js';

/** Waits until `condition()` holds, polling every `pollMs`; fails naming `what` after `timeoutMs`. */
export async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000, pollMs = 20): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** Starts `karyon registry` on `port` and resolves once it listens. */
export async function startRegistryProcess(port: number, flags: readonly string[] = [], netns?: string): Promise<Child> {
  const registry = spawnNode('src/cli/main.ts', ['registry', '--port', String(port), ...flags], netns === undefined ? {} : { netns });
  await waitUntil(() => registry.out.stdout.includes('listening on') || registry.child.exitCode !== null, 'the registry to listen', 30_000);
  if (registry.child.exitCode !== null) throw new Error(`the registry exited: ${registry.out.stderr}`);
  return registry;
}

/** What a registry lists: `APP/id -> status`, or undefined when it does not answer 200. */
export async function listed(serviceUrl: string): Promise<Map<string, string> | undefined> {
  try {
    const res = await request(`${serviceUrl}/apps`, { headers: { accept: 'application/json' }, headersTimeout: 2000, bodyTimeout: 2000 });
    if (res.statusCode !== 200) {
      await res.body.dump();
      return undefined;
    }
    const body = (await res.body.json()) as { applications: { application: { name: string; instance: { instanceId: string; status: string }[] }[] } };
    const seen = new Map<string, string>();
    for (const app of body.applications.application) for (const instance of app.instance) seen.set(`${app.name}/${instance.instanceId}`, instance.status);
    return seen;
  } catch {
    return undefined;
  }
}

/** An instance descriptor for app `app` on `host:port`. */
export function descriptorFor(app: string, host: string, port: number, overrides: Partial<InstanceDescriptor> = {}): InstanceDescriptor {
  const instanceId = `${host}:${app.toLowerCase()}:${port}`;
  return {
    instanceId,
    app: app.toUpperCase(),
    vipAddress: app.toLowerCase(),
    secureVipAddress: app.toLowerCase(),
    hostName: host,
    ipAddr: host,
    port,
    portEnabled: true,
    securePort: 443,
    securePortEnabled: false,
    zone: 'default',
    metadata: {},
    homePageUrl: `http://${host}:${port}/`,
    statusPageUrl: `http://${host}:${port}/status`,
    healthCheckUrl: `http://${host}:${port}/healthcheck`,
    leaseRenewalIntervalMs: 1000,
    leaseDurationMs: 5000,
    ...overrides,
  };
}
