import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EurekaServer } from 'karyon-ts/testing';
import { waitFor } from '../support/logger.js';
import { freePort, killSpawnedProcesses, missingPrograms } from '../support/processes.js';

// `karyon sidecar` as users run it: a real child process running real children, with real signals.

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'karyon-sidecar-cli-'));
// The sidecars' applications run in process groups of their own: kill them too, whatever failed.
const { track } = killSpawnedProcesses();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A registry for each test: a test run again after a failure (CI retries once) starts from an empty one, not
// from the instances the killed run left behind.
let eureka: EurekaServer;
beforeEach(async () => {
  eureka = new EurekaServer({ port: 0, host: '127.0.0.1' });
  await eureka.listen();
});
afterEach(() => eureka.close());

function karyon(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  track(child);
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk: Buffer) => (out.stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out.stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out, exited };
}

function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}


// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON of several shapes, checked by the assertions
async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await request(url, { headers: { accept: 'application/json' } });
  const text = await res.body.text();
  return { status: res.statusCode, body: res.headers['content-type']?.includes('json') === true ? JSON.parse(text) : text };
}

async function statusesOf(app: string): Promise<string[]> {
  const { status, body } = await getJson(`${eureka.url}/apps/${app.toUpperCase()}`);
  if (status !== 200) return [];
  return [body.application.instance].flat().map((instance: { status: string }) => instance.status);
}

describe('karyon sidecar: configuration mistakes exit 2 naming the key', () => {
  const cases: [string, unknown, Record<string, string>, RegExp][] = [
    ['a value of the wrong type', { app: { name: 'a', port: 1 }, process: { command: 'x', stopTimeoutMs: 'soon' } }, {}, /key 'process\.stopTimeoutMs' in .*bad\.json must be milliseconds, or a duration with a unit/],
    ['a bad per-VIP duration', { app: { name: 'a', port: 1 }, proxy: { vips: { 'slow-report': { timeoutMs: '30 s' } } } }, {}, /key 'proxy\.vips\.slow-report\.timeoutMs' in .*bad\.json must be milliseconds, or a duration with a unit/],
    ['a typo in per-VIP client options', { app: { name: 'a', port: 1 }, proxy: { vips: { 'slow-report': { timeoutMS: 500 } } } }, {}, /unknown key 'proxy\.vips\.slow-report\.timeoutMS' in .*bad\.json \(known in 'proxy\.vips\.slow-report': rule, balancer, .*\btimeoutMs\b/],
    ['an unknown key', { app: { name: 'a', port: 1 }, proces: {} }, {}, /unknown key 'proces' in .*bad\.json \(known: port, host, app, eureka, admin, lifecycle, process, checks, proxy, metrics, statsdRelay, config\)/],
    ['an unknown key in a section', { app: { name: 'a', port: 1, nmae: 'b' } }, {}, /unknown key 'app\.nmae'/],
    ['a check with two kinds', { app: { name: 'a', port: 1 }, checks: [{ name: 'c', http: 'http://x/', tcp: 'x:1' }] }, {}, /key 'checks\[0\]' must be exactly one of 'script', 'http', 'tcp' or 'ttlMs' \(got "http and tcp"\)/],
    ['a bad environment variable', { app: { name: 'a', port: 1 } }, { KARYON_SIDECAR_PROCESS_MAX_RESTARTS: 'many' }, /KARYON_SIDECAR_PROCESS_MAX_RESTARTS \(key 'process\.maxRestarts'\) must be an integer \(got "many"\)/],
    ['a missing application name', { app: { port: 1 } }, {}, /key 'app\.name' in .*bad\.json is required/],
    ['an unknown variable', { app: { name: 'a', port: 1 }, checks: [{ name: 'c', http: 'http://127.0.0.1:${app.prot}/' }] }, {}, /key 'checks\[0\]\.http' in .*bad\.json uses \$\{app\.prot\}; the variables are \$\{app\.name\}, \$\{app\.port\}, \$\{port\}/],
    ['not JSON', '{"app": ', {}, /bad\.json is not valid JSON/],
  ];
  for (const [what, content, env, message] of cases) {
    it(what, async () => {
      const path = file('bad.json', content);
      const { out, exited } = karyon(['sidecar', '--config', path, '--check'], env);
      expect(await exited).toBe(2);
      expect(out.stderr).toMatch(message);
    });
  }

  it('without --config nor the environment', async () => {
    const { out, exited } = karyon(['sidecar'], { KARYON_APP_NAME: '', KARYON_SIDECAR_APP_NAME: '' });
    expect(await exited).toBe(2);
    expect(out.stderr).toBe("karyon sidecar: --config <file> is required (or every key from the environment: at least KARYON_APP_NAME and PORT)\nRun 'karyon sidecar --help' for usage.\n");
  });

  it('--check accepts a valid file, and the environment completes it', async () => {
    const path = file('good.json', { app: { name: 'good' }, process: { command: 'sleep', args: ['60'] } });
    const { out, exited } = karyon(['sidecar', '--config', path, '--check'], { PORT: '8123', KARYON_SIDECAR_PROCESS_STOP_SIGNAL: 'SIGINT' });
    expect(await exited).toBe(0);
    expect(out.stdout).toContain('is valid');
  });

  it('--check accepts the complete example of docs/sidecar.md, per-VIP durations included', async () => {
    const doc = readFileSync(join(root, 'docs', 'sidecar.md'), 'utf8');
    const example = /A complete example:\n\n```json\n([\s\S]*?)\n```/.exec(doc)?.[1];
    expect(example).toContain('"slow-report": { "timeoutMs": "30s"');
    const path = file('doc-example.json', example);
    const { out, exited } = karyon(['sidecar', '--config', path, '--check']);
    expect(await exited).toBe(0);
    expect(out.stdout).toContain('is valid');
  });

  it('--keys lists every key with its environment variables', async () => {
    const { out, exited } = karyon(['sidecar', '--keys']);
    expect(await exited).toBe(0);
    expect(out.stdout).toMatch(/^app\.port\s+KARYON_SIDECAR_APP_PORT, PORT\s+/m);
    expect(out.stdout).toMatch(/^process\.stopTimeoutMs\s+KARYON_SIDECAR_PROCESS_STOP_TIMEOUT_MS\s+/m);
  });
});

describe('karyon sidecar running a process', () => {
  it('exits with the code of a process that ended by itself, after deregistering it', async () => {
    const path = file('crash.json', {
      app: { name: 'crasher', port: await freePort(), ipAddr: '127.0.0.1' },
      port: 0,
      admin: { port: 0 },
      eureka: { serviceUrls: [eureka.url], registryFetchIntervalMs: 200 },
      lifecycle: { deregistrationDelayMs: 100 },
      process: { command: 'sh', args: ['-c', 'sleep 1; exit 7'] },
    });
    const { out, exited } = karyon(['sidecar', '--config', path]);
    await waitFor(async () => (await statusesOf('crasher')).includes('UP'), 20_000, 'UP in Eureka');
    expect(await exited).toBe(7);
    expect(out.stderr).toMatch(/crasher's process \d+ exited with code 7 after \d+ ms: going DOWN and stopping/);
    expect(out.stderr).toContain('the process ended by itself; exiting with 7');
    expect(await statusesOf('crasher')).toEqual([]);
  });

  it('exits with the code of a process that ended before it was ready, and 1 when that code was 0', async () => {
    const runs = [5, 0].map(async (code) => {
      const path = file(`early-${code}.json`, {
        app: { name: `early-${code}`, port: await freePort() },
        port: 0,
        admin: false,
        process: { command: 'sh', args: ['-c', `sleep 0.2; exit ${code}`] },
        checks: [{ name: 'never', ttlMs: '1m' }],
      });
      const { out, exited } = karyon(['sidecar', '--config', path]);
      return { code: await exited, stderr: out.stderr };
    });
    const [five, zero] = await Promise.all(runs);
    expect(five?.code).toBe(5);
    expect(five?.stderr).toMatch(/karyon sidecar: start failed: .*the process exited with code 5 before it was ready/);
    expect(zero?.code).toBe(1);
    expect(zero?.stderr).toMatch(/karyon sidecar: start failed: .*the process exited with code 0 before it was ready/);
  });

  it('forwards SIGHUP, and on SIGTERM stops in order and exits 0', async () => {
    const marker = join(dir, 'hup');
    const path = file('hup.json', {
      app: { name: 'hupper', port: await freePort(), ipAddr: '127.0.0.1' },
      port: 0,
      admin: { port: 0 },
      lifecycle: { deregistrationDelayMs: 0 },
      process: { command: 'sh', args: ['-c', `trap 'echo got HUP > ${marker}' HUP; trap 'echo got TERM; exit 0' TERM; while true; do sleep 0.1; done`] },
    });
    const { child, out, exited } = karyon(['sidecar', '--config', path]);
    await waitFor(() => out.stdout.includes('hupper is UP'), 20_000, 'UP');
    child.kill('SIGHUP');
    await waitFor(() => out.stdout.includes('SIGHUP forwarded to the process'), 10_000, 'the forward');
    await waitFor(() => existsSync(marker) && readFileSync(marker, 'utf8').includes('got HUP'), 10_000, 'the process to get SIGHUP');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out.stdout).toContain('SIGTERM received, stopping');
    expect(out.stdout).toContain('got TERM');
    expect(out.stdout).toMatch(/UP -> SHUTTING_DOWN[\s\S]*sending SIGTERM to process[\s\S]*exited with code 0 after the stop signal[\s\S]*SHUTTING_DOWN -> STOPPED[\s\S]*karyon sidecar: stopped\n$/);
  });
});

const examplesSuite = 'the examples: two copies of the Python service and the shell service, from nothing';
// The Python example needs python3; the shell example serves with socat and calls with curl.
const missing = missingPrograms({ python3: 'python3', socat: 'socat', curl: 'curl' }, examplesSuite);

describe.skipIf(missing !== undefined)(`${examplesSuite}${missing === undefined ? '' : ` (skipped: ${missing})`}`, () => {
  it('register, balance through the proxy, relay across languages and stop cleanly', async () => {
    const common = { KARYON_EUREKA_URLS: eureka.url, KARYON_EUREKA_FETCH_MS: '200', KARYON_DEREGISTRATION_DELAY_MS: '100' };
    const ports = [await freePort(), await freePort(), await freePort()];
    const [pyA, pyB, sh] = ports as [number, number, number];
    const sidecarPorts = [await freePort(), await freePort(), await freePort()];
    const adminPorts = [await freePort(), await freePort(), await freePort()];
    const runs = [
      karyon(['sidecar', '--config', 'examples/sidecar-python/sidecar.json'], { ...common, PORT: String(pyA), KARYON_SIDECAR_PORT: String(sidecarPorts[0]), KARYON_ADMIN_PORT: String(adminPorts[0]), WARMUP_SECONDS: '0.5' }),
      karyon(['sidecar', '--config', 'examples/sidecar-python/sidecar.json'], { ...common, PORT: String(pyB), KARYON_SIDECAR_PORT: String(sidecarPorts[1]), KARYON_ADMIN_PORT: String(adminPorts[1]), WARMUP_SECONDS: '0.5' }),
      karyon(['sidecar', '--config', 'examples/sidecar-shell/sidecar.json'], { ...common, PORT: String(sh), KARYON_SIDECAR_PORT: String(sidecarPorts[2]), KARYON_ADMIN_PORT: String(adminPorts[2]) }),
    ];
    await waitFor(async () => (await statusesOf('hello-py')).filter((s) => s === 'UP').length === 2, 30_000, 'two hello-py UP');
    await waitFor(async () => (await statusesOf('hello-sh')).includes('UP'), 30_000, 'hello-sh UP');

    // The shell service's sidecar balances its calls over both Python copies.
    const shellProxy = `http://127.0.0.1:${sidecarPorts[2]}`;
    await waitFor(async () => (await getJson(`${shellProxy}/instances?vip=hello-py`)).body.length === 2, 20_000, 'the shell sidecar to see both');
    const answered = new Set<number>();
    for (let i = 0; i < 10; i++) {
      const { status, body } = await getJson(`${shellProxy}/hello-py/hello`);
      expect(status).toBe(200);
      expect(body.message).toBe('hello from python');
      answered.add(body.port);
    }
    expect([...answered].sort()).toEqual([pyA, pyB].sort());

    // The shell service itself calls Python through its sidecar; Python calls the shell service back through its own.
    const relay = await getJson(`http://127.0.0.1:${sh}/relay`);
    expect(relay.body).toMatchObject({ from: `shell:${sh}`, python: { message: 'hello from python' } });
    await waitFor(async () => (await getJson(`http://127.0.0.1:${sidecarPorts[0]}/instances?vip=hello-sh`)).body.length === 1, 20_000, 'python sidecar to see hello-sh');
    const back = await getJson(`http://127.0.0.1:${sidecarPorts[0]}/proxy?vip=hello-sh&path=/hello`);
    expect(back.body).toEqual({ message: 'hi from shell', port: sh });

    // The Python README's step 4 as written: four calls through a sidecar's proxy, and the port changes.
    await waitFor(async () => (await getJson(`http://127.0.0.1:${sidecarPorts[0]}/instances?vip=hello-py`)).body.length === 2, 20_000, 'the python sidecar to see both');
    const seen: number[] = [];
    for (let i = 0; i < 4; i++) seen.push((await getJson(`http://127.0.0.1:${sidecarPorts[0]}/hello-py/hello`)).body.port);
    expect(new Set(seen)).toEqual(new Set([pyA, pyB]));

    // Both READMEs' configuration step as written: PUT /config/greeting on the admin port, then /hello greets
    // with it; the shell service's listener (socat) survives the reload signal.
    const putGreeting = async (adminPort: number, value: string): Promise<number> => {
      const res = await fetch(`http://127.0.0.1:${adminPort}/config/greeting`, { method: 'PUT', body: JSON.stringify({ value }) });
      await res.arrayBuffer();
      return res.status;
    };
    expect(await putGreeting(adminPorts[2]!, 'hey')).toBe(200);
    await waitFor(() => runs[2]!.out.stdout.includes('SIGHUP: settings now'), 10_000, 'the shell service to reload');
    expect((await getJson(`http://127.0.0.1:${sh}/hello`)).body).toEqual({ message: 'hey from shell', port: sh });
    expect((await getJson(`http://127.0.0.1:${sh}/hello`)).body).toEqual({ message: 'hey from shell', port: sh });
    expect(runs[2]!.out.stdout).not.toContain('the listener died');
    expect(await putGreeting(adminPorts[0]!, 'bonjour')).toBe(200);
    await waitFor(async () => (await getJson(`http://127.0.0.1:${pyA}/hello`)).body.message === 'bonjour from python', 10_000, 'the python service to greet with bonjour');

    for (const run of runs) run.child.kill('SIGTERM');
    const codes = await Promise.all(runs.map((run) => run.exited));
    expect(codes).toEqual([0, 0, 0]);
    for (const run of runs) expect(run.out.stdout).toMatch(/karyon sidecar: stopped\n$/);
    expect(await statusesOf('hello-py')).toEqual([]);
    expect(await statusesOf('hello-sh')).toEqual([]);
    // What the runs rendered into the examples (git ignores them; a clean tree is nicer).
    for (const rendered of [`sidecar-python/app-${pyA}.properties`, `sidecar-python/app-${pyB}.properties`, `sidecar-shell/settings-${sh}.env`]) {
      rmSync(join(root, 'examples', rendered), { force: true });
    }
  }, 90_000);
});
