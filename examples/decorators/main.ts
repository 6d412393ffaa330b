// The greeter service written with decorators: the class says what to do at start, how to tell it is
// healthy, and what to release at stop; the service runs it. Run with `npx tsx examples/decorators/main.ts`.
import { createServer } from 'node:http';
import { request } from 'undici';
import { createService, healthCheck, initialize, installSignalHandlers, onShutdown } from 'karyon-ts';
import type { HealthResult } from 'karyon-ts';

class Greeter {
  #greetings: Map<string, string> | undefined;
  #served = 0;

  @initialize({ timeoutMs: 5000 })
  async loadGreetings(signal: AbortSignal): Promise<void> {
    // Stands in for reading from a database: the instance stays STARTING until this resolves.
    await new Promise((resolve) => setTimeout(resolve, 200));
    signal.throwIfAborted();
    this.#greetings = new Map([
      ['en', 'hello'],
      ['fr', 'bonjour'],
    ]);
  }

  @healthCheck('greetings', { intervalMs: 1000 })
  greetingsLoaded(): HealthResult {
    return { status: this.#greetings?.size ? 'UP' : 'DOWN', details: { languages: this.#greetings?.size ?? 0 } };
  }

  @onShutdown()
  close(): void {
    console.log(`greeter: served ${this.#served} greetings, releasing them`);
    this.#greetings = undefined;
  }

  greet(language: string): string | undefined {
    this.#served++;
    return this.#greetings?.get(language);
  }
}

const greeter = new Greeter();
const server = createServer((req, res) => {
  const language = new URL(req.url ?? '/', 'http://localhost').searchParams.get('lang') ?? 'en';
  const greeting = greeter.greet(language);
  res.writeHead(greeting === undefined ? 404 : 200, { 'content-type': 'text/plain' }).end(greeting ?? 'unknown language');
});

const service = createService({
  name: 'greeter',
  server,
  port: 0,
  host: '127.0.0.1',
  admin: { port: 0, host: '127.0.0.1' },
  lifecycle: { deregistrationDelayMs: 0 },
}).register(greeter);
service.on('stateChange', ({ from, to, reason }) => console.log(`lifecycle: ${from} -> ${to} (${reason})`));

installSignalHandlers(service); // before start(): a signal while starting stops gracefully too
await service.start();
const origin = `http://127.0.0.1:${service.instance!.port}`;
console.log(`app ${origin}/?lang=fr  admin ${service.adminUrl}/healthcheck`);

const hello = await request(`${origin}/?lang=fr`);
console.log(`GET /?lang=fr -> ${hello.statusCode} ${await hello.body.text()}`);
const health = await request(`${service.adminUrl}/healthcheck`);
const report = (await health.body.json()) as { status: string; checks: Record<string, { status: string }> };
console.log(`GET /healthcheck -> ${health.statusCode} ${report.status}, greetings check ${report.checks.greetings?.status}`);

if (!process.argv.includes('--keep-running')) await service.stop();
