// Runs the real Java peers of interop/ (Spring Cloud Netflix Eureka server, a Spring Boot service with the
// Eureka client and Spring Cloud LoadBalancer, Spring Cloud Config Server, and the Netflix Eureka client alone
// fetching a registry and reporting what it cost) for the interop suite and the benchmarks: builds them
// once per change of their sources (a stamp of the sources; Maven's own cache in ~/.m2), starts them on free
// loopback ports, waits until they answer, and kills every one of them after the test file, when the test
// process exits, and (through -Dinterop.parent-pid) when the test process dies without exiting.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { delimiter, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { freePort } from '../support/ports.js';

/** The folder of the Maven projects. */
export const interopDir = fileURLToPath(new URL('../../interop/', import.meta.url));

function onPath(name: string): boolean {
  return (process.env['PATH'] ?? '').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, name)));
}

/**
 * Why the interop suite cannot run here, or undefined when it can. Each file names the reason in its title
 * and is skipped; in CI a missing tool fails instead.
 */
export const interopMissing: string | undefined = !onPath('java')
  ? 'java is not installed: install OpenJDK 17 or newer (apt-get install openjdk-17-jdk-headless) and Maven (apt-get install maven) to run it'
  : !onPath('mvn')
    ? 'mvn is not installed: install Maven 3.8 or newer (apt-get install maven) to run it'
    : undefined;

const modules = ['eureka-server', 'java-service', 'config-server', 'eureka-fetch'] as const;
/** One of the Java programs under interop/. */
export type InteropModule = (typeof modules)[number];

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    if (entry === 'target' || entry.startsWith('.')) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else out.push(path);
  }
  return out;
}

function sourcesStamp(): string {
  const hash = createHash('sha256');
  for (const file of sourceFiles(interopDir)) hash.update(relative(interopDir, file)).update('\0').update(readFileSync(file)).update('\0');
  return hash.digest('hex');
}

const stampFile = join(interopDir, '.build-stamp');
const lockDir = join(interopDir, '.build-lock');

function jarOf(module: InteropModule): string {
  return join(interopDir, module, 'target', `${module}.jar`);
}

function upToDate(stamp: string): boolean {
  return existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp && modules.every((m) => existsSync(jarOf(m)));
}

/**
 * Builds the Java programs unless the jars were built from the same sources. Test files running in parallel
 * share one build through a lock folder.
 */
export async function buildInterop(timeoutMs = 15 * 60_000): Promise<void> {
  const stamp = sourcesStamp();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (upToDate(stamp)) return;
    try {
      mkdirSync(lockDir);
      break;
    } catch {
      // Another file is building; a lock older than the build timeout was left by a killed process.
      try {
        if (Date.now() - statSync(lockDir).mtimeMs > timeoutMs) rmSync(lockDir, { recursive: true, force: true });
      } catch {
        // It went away meanwhile.
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for another build of ${interopDir}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  try {
    if (upToDate(stamp)) return;
    const child = spawn('mvn', ['-B', '-q', '-DskipTests', 'package'], { cwd: interopDir, stdio: ['ignore', 'pipe', 'pipe'] });
    const output: string[] = [];
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    if (code !== 0) throw new Error(`mvn package in ${interopDir} failed (exit ${code}):\n${output.join('').slice(-4000)}`);
    writeFileSync(stampFile, stamp);
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

export { freePort };


const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** The JVM options of the tests' Java programs: a quick start in little memory. */
const QUICK_JVM: readonly string[] = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-Xmx256m'];

/** A running Java program. */
export class JavaProcess {
  readonly #child: ChildProcess;
  readonly #output: string[] = [];
  readonly exited: Promise<number | null>;
  #exitCode: number | null | undefined;

  readonly module: InteropModule;
  readonly port: number;

  /**
   * @param jvm - the JVM's options; by default a quick start in little memory (C1 only, the serial collector, a
   * 256 MB heap), enough for the tests
   */
  constructor(module: InteropModule, port: number, args: readonly string[], jvm: readonly string[] = QUICK_JVM) {
    this.module = module;
    this.port = port;
    this.#child = spawn('java', [...jvm, `-Dinterop.parent-pid=${process.pid}`, '-jar', jarOf(module), `--server.port=${port}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(this.#child);
    const keep = (chunk: Buffer): void => {
      this.#output.push(chunk.toString());
      if (this.#output.length > 400) this.#output.splice(0, 200);
    };
    this.#child.stdout?.on('data', keep);
    this.#child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      this.#child.on('exit', (code) => {
        live.delete(this.#child);
        this.#exitCode = code;
        resolve(code);
      });
    });
  }

  /** Loopback base URL. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The process id. */
  get pid(): number {
    return this.#child.pid ?? -1;
  }

  /** True until the process exited. */
  get running(): boolean {
    return this.#exitCode === undefined;
  }

  /** The end of what the process printed. */
  output(): string {
    return this.#output.join('').slice(-6000);
  }

  /** Waits until `path` answers 2xx, failing with the process output when it exits or `timeoutMs` passes. */
  async waitReady(path: string, timeoutMs = 300_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`${this.module} exited (${this.#exitCode}) before it was ready:\n${this.output()}`);
      try {
        const res = await request(`${this.url}${path}`, { headers: { accept: 'application/json' }, headersTimeout: 5000, bodyTimeout: 5000 });
        await res.body.dump();
        if (res.statusCode >= 200 && res.statusCode < 300) return;
      } catch {
        // Not listening yet.
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`${this.module} on port ${this.port} not ready within ${timeoutMs} ms:\n${this.output()}`);
  }

  /** kill -9. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.#child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM (Spring's graceful shutdown), then kill -9 after `graceMs`. */
  async stop(graceMs = 20_000): Promise<void> {
    if (!this.running) return;
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Options of one Eureka server peer. */
export interface EurekaPeerOptions {
  /** Extra Spring properties (`eureka.server.enable-self-preservation: 'false'`). */
  readonly properties?: Readonly<Record<string, string>>;
  /** The JVM's options, instead of the tests' quick start in a 256 MB heap (a benchmark's registry of 100,000 instances needs more). */
  readonly jvm?: readonly string[];
}

function propertyArgs(properties: Readonly<Record<string, string>> | undefined): string[] {
  return Object.entries(properties ?? {}).map(([key, value]) => `--${key}=${value}`);
}

/** A real Eureka server: its process and its service URL. */
export interface EurekaPeer {
  readonly process: JavaProcess;
  /** `http://127.0.0.1:PORT/eureka` */
  readonly serviceUrl: string;
}

/**
 * Starts `count` Eureka servers on loopback, each the replica peer of the others (eureka.server.my-url tells each
 * one which URL is its own, since they share a host name). Every other setting is the server's default
 * unless `properties` says otherwise.
 */
export async function startEurekaCluster(count: number, options: EurekaPeerOptions = {}, ports?: readonly number[]): Promise<EurekaPeer[]> {
  const chosen = ports ?? (await Promise.all(Array.from({ length: count }, () => freePort())));
  const urls = chosen.map((port) => `http://127.0.0.1:${port}/eureka`);
  const peers = chosen.map((port, i) => {
    const others = urls.filter((_, j) => j !== i);
    const args = [
      `--eureka.server.my-url=${urls[i]}/`,
      `--eureka.instance.instance-id=eureka-${i}-${port}`,
      ...(others.length === 0
        ? ['--eureka.client.register-with-eureka=false', '--eureka.client.fetch-registry=false']
        : [`--eureka.client.service-url.defaultZone=${others.map((u) => `${u}/`).join(',')}`]),
      ...propertyArgs(options.properties),
    ];
    return { process: new JavaProcess('eureka-server', port, args, options.jvm), serviceUrl: urls[i] ?? '' };
  });
  try {
    await Promise.all(peers.map((peer) => peer.process.waitReady('/eureka/apps')));
  } catch (error) {
    await Promise.all(peers.map((peer) => peer.process.kill()));
    throw error;
  }
  return peers;
}

/** Starts one Java service (`java-vip` unless `properties` name another app) registered in `serviceUrls`. */
export async function startJavaService(serviceUrls: readonly string[], instanceId: string, properties: Readonly<Record<string, string>> = {}): Promise<JavaProcess> {
  const port = await freePort();
  const java = new JavaProcess('java-service', port, [
    `--eureka.client.service-url.defaultZone=${serviceUrls.map((u) => `${u}/`).join(',')}`,
    `--eureka.instance.instance-id=${instanceId}`,
    ...propertyArgs(properties),
  ]);
  try {
    await java.waitReady('/hello');
  } catch (error) {
    await java.kill();
    throw error;
  }
  return java;
}

/** Starts a Spring Cloud Config Server reading the native (file) backend in `searchLocation`. */
export async function startConfigServer(searchLocation: string, properties: Readonly<Record<string, string>> = {}): Promise<JavaProcess> {
  const port = await freePort();
  const server = new JavaProcess('config-server', port, [`--spring.cloud.config.server.native.search-locations=file:${searchLocation}/`, ...propertyArgs(properties)]);
  try {
    await server.waitReady('/interop/default');
  } catch (error) {
    await server.kill();
    throw error;
  }
  return server;
}

/** Options of one run of the Netflix Eureka client's fetch program (interop/eureka-fetch). */
export interface EurekaFetchOptions {
  /** The Eureka service URL it fetches (`http://127.0.0.1:PORT/eureka`). */
  readonly url: string;
  /** A registry a throw-away client fetches first, to load the classes and compile the code. */
  readonly warmupUrl?: string;
  /** An empty registry a throw-away client fetches next: what a client costs around no registry. */
  readonly emptyUrl?: string;
  /** Refreshes (deltas) to report after the first full fetch. @default 0 */
  readonly deltas?: number;
  /** The client's registryFetchIntervalSeconds. @default 1 */
  readonly fetchIntervalSeconds?: number;
  /** How long it waits for each fetch before it fails. @default 600 */
  readonly timeoutSeconds?: number;
  /** JVM flags (heap, collector). @default ['-Xmx512m'] */
  readonly jvm?: readonly string[];
}

/** One JSON line the fetch program prints: `start`, `warmup`, `empty`, `full`, `delta`, `done` or `error`. */
export interface EurekaFetchLine {
  readonly event: string;
  readonly [field: string]: unknown;
}

/** A running fetch program: its JSON lines, in order. */
export class EurekaFetchRun {
  readonly #child: ChildProcess;
  readonly #lines: EurekaFetchLine[] = [];
  readonly #other: string[] = [];
  #wake: (() => void) | undefined;
  #exitCode: number | null | undefined;
  readonly exited: Promise<number | null>;

  constructor(options: EurekaFetchOptions) {
    const args = [
      `--url=${options.url}`,
      ...(options.warmupUrl === undefined ? [] : [`--warmup-url=${options.warmupUrl}`]),
      ...(options.emptyUrl === undefined ? [] : [`--empty-url=${options.emptyUrl}`]),
      `--deltas=${options.deltas ?? 0}`,
      `--fetch-interval-seconds=${options.fetchIntervalSeconds ?? 1}`,
      `--timeout-seconds=${options.timeoutSeconds ?? 600}`,
    ];
    const jvm = [...(options.jvm ?? ['-Xmx512m']), `-Dinterop.parent-pid=${process.pid}`];
    this.#child = spawn('java', [...jvm, '-jar', jarOf('eureka-fetch'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(this.#child);
    let buffered = '';
    this.#child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let at: number;
      while ((at = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, at);
        buffered = buffered.slice(at + 1);
        if (line.startsWith('{')) this.#lines.push(JSON.parse(line) as EurekaFetchLine);
        else this.#keep(line);
      }
      this.#wake?.();
    });
    this.#child.stderr?.on('data', (chunk: Buffer) => this.#keep(chunk.toString()));
    this.exited = new Promise((resolve) => {
      this.#child.on('exit', (code) => {
        live.delete(this.#child);
        this.#exitCode = code;
        this.#wake?.();
        resolve(code);
      });
    });
  }

  #keep(text: string): void {
    this.#other.push(text);
    if (this.#other.length > 200) this.#other.splice(0, 100);
  }

  /** The process id. */
  get pid(): number {
    return this.#child.pid ?? -1;
  }

  /** What it printed besides its JSON lines (the end of it). */
  output(): string {
    return this.#other.join('\n').slice(-6000);
  }

  /**
   * The next line of `event` (lines of other events before it are passed over); rejects with the program's
   * message on an `error` line, and with its output when it exits first.
   */
  async next(event: string): Promise<EurekaFetchLine> {
    for (;;) {
      const line = this.#lines.shift();
      if (line !== undefined) {
        if (line.event === 'error') throw new Error(`eureka-fetch failed: ${String(line['message'])}\n${this.output()}`);
        if (line.event === event) return line;
        continue;
      }
      if (this.#exitCode !== undefined) throw new Error(`eureka-fetch exited (${this.#exitCode}) before a ${event} line:\n${this.output()}`);
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
  }

  /** kill -9 (nothing when it has exited). */
  async kill(): Promise<void> {
    if (this.#exitCode !== undefined) return;
    this.#child.kill('SIGKILL');
    await this.exited;
  }
}

/** Starts the Netflix Eureka client's fetch program (interop/eureka-fetch); the jars must be built. */
export function startEurekaFetch(options: EurekaFetchOptions): EurekaFetchRun {
  return new EurekaFetchRun(options);
}

/** Kills every Java process this test process started and that still runs. */
export async function killAll(): Promise<void> {
  await Promise.all(
    [...live].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}

/** The Java version line, for the suite's log. */
export function javaVersion(): string {
  const result = spawnSync('java', ['-version'], { encoding: 'utf8' });
  return (result.stderr || result.stdout).split('\n')[0] ?? '';
}
