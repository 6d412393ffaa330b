// What the interop tests do around the real servers: write a registration as the Java client does, read an
// instance back from a Eureka server, put a capturing proxy between a client and a server, and run Node services
// registered in the real cluster.
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { createService } from '../../src/index.js';
import type { Service, ServiceOptions, EurekaRegistryOptions } from '../../src/index.js';

/** What a Eureka server answers for one instance. */
export interface ServerView {
  /** HTTP status of `GET /apps/{APP}/{ID}`. */
  readonly code: number;
  readonly status?: string;
  readonly overriddenStatus?: string;
  readonly raw?: Record<string, unknown>;
}

/** Reads `GET {serviceUrl}/apps/{APP}/{ID}` (the server's registry itself, not its response cache). */
export async function readInstance(serviceUrl: string, app: string, id: string): Promise<ServerView> {
  const res = await request(`${serviceUrl}/apps/${app.toUpperCase()}/${encodeURIComponent(id)}`, { headers: { accept: 'application/json' } });
  if (res.statusCode !== 200) {
    await res.body.dump();
    return { code: res.statusCode };
  }
  const body = (await res.body.json()) as { instance: Record<string, unknown> };
  const instance = body.instance;
  return {
    code: 200,
    status: String(instance['status']),
    overriddenStatus: String(instance['overriddenStatus'] ?? instance['overriddenstatus']),
    raw: instance,
  };
}

/** `status/overriddenStatus` of an instance on a server, or `absent`. */
export async function shownAs(serviceUrl: string, app: string, id: string): Promise<string> {
  const view = await readInstance(serviceUrl, app, id);
  return view.code === 200 ? `${view.status}/${view.overriddenStatus}` : view.code === 404 ? 'absent' : `HTTP ${view.code}`;
}

/** A registration body as the Java client sends it. */
export function registration(app: string, id: string, fields: Record<string, unknown> = {}): { instance: Record<string, unknown> } {
  return {
    instance: {
      instanceId: id,
      hostName: `${id}.local`,
      app,
      ipAddr: '127.0.0.1',
      status: 'UP',
      overriddenStatus: 'UNKNOWN',
      port: { $: 8080, '@enabled': 'true' },
      securePort: { $: 443, '@enabled': 'false' },
      countryId: 1,
      dataCenterInfo: { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' },
      leaseInfo: { renewalIntervalInSecs: 30, durationInSecs: 90 },
      metadata: { version: '1' },
      vipAddress: `${app.toLowerCase()}-vip`,
      secureVipAddress: `${app.toLowerCase()}-svip`,
      homePageUrl: 'http://127.0.0.1:8080/',
      statusPageUrl: 'http://127.0.0.1:8080/info',
      healthCheckUrl: 'http://127.0.0.1:8080/health',
      lastDirtyTimestamp: '1000',
      actionType: 'ADDED',
      ...fields,
    },
  };
}

/** A raw request to a Eureka server (what an operator or another client sends). */
export async function eurekaRequest(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown): Promise<{ code: number; body: string }> {
  const res = await request(url, {
    method,
    headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { code: res.statusCode, body: await res.body.text() };
}

/** A write to a Eureka server, for {@link writeAll}: a path under its service URL, and a JSON body if any. */
export interface EurekaWrite {
  readonly method: 'POST' | 'PUT' | 'DELETE';
  readonly path: string;
  readonly body?: unknown;
}

/**
 * Sends `writes` to the Eureka server at `serviceUrl`, `lanes` at a time over keep-alive connections (thousands
 * of registrations take seconds); throws at the first answer other than `expected`.
 */
export async function writeAll(serviceUrl: string, writes: Iterable<EurekaWrite>, expected: number, lanes = 16): Promise<void> {
  const agent = new Agent({ connections: lanes });
  const queue = writes[Symbol.iterator]();
  const lane = async (): Promise<void> => {
    for (let next = queue.next(); next.done !== true; next = queue.next()) {
      const { method, path, body } = next.value;
      const res = await request(`${serviceUrl}${path}`, {
        method,
        dispatcher: agent,
        headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      await res.body.dump();
      if (res.statusCode !== expected) throw new Error(`${method} ${path} answered ${res.statusCode}, not ${expected}`);
    }
  };
  try {
    await Promise.all(Array.from({ length: lanes }, lane));
  } finally {
    await agent.close();
  }
}

/** An instance as a Eureka server's `GET /apps` lists it (the fields the tests read). */
export interface WireInstance {
  readonly instanceId: string;
  readonly status: string;
  readonly leaseInfo: { readonly lastRenewalTimestamp?: number };
}

interface WireApplications {
  readonly applications: { readonly apps__hashcode: string; readonly application: readonly { readonly instance: readonly WireInstance[] }[] };
}

/** Every instance of a `GET /apps` body. */
export function wireInstances(text: string): WireInstance[] {
  return (JSON.parse(text) as WireApplications).applications.application.flatMap((app) => app.instance);
}

/**
 * Waits until the Eureka server at `serviceUrl` answers `GET /apps` with instances of which `ready` holds, and, with
 * `delta`, until its `GET /apps/delta` carries the same registry hash (a client applying it then finds no mismatch);
 * resolves with that `GET /apps` text. A real server answers from its response cache, which a burst of writes can
 * leave a few writes behind until its entries expire (see docs/eureka.md), so the wait is for what was written.
 */
export async function untilServed(
  serviceUrl: string,
  ready: (instances: readonly WireInstance[]) => boolean,
  what: string,
  { timeoutMs = 60_000, delta = false }: { readonly timeoutMs?: number; readonly delta?: boolean } = {},
): Promise<string> {
  const deltaHash = async (): Promise<string> => (JSON.parse((await eurekaRequest('GET', `${serviceUrl}/apps/delta`)).body) as WireApplications).applications.apps__hashcode;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await eurekaRequest('GET', `${serviceUrl}/apps`);
    if (res.code === 200) {
      const { applications } = JSON.parse(res.body) as WireApplications;
      if (ready(applications.application.flatMap((app) => app.instance)) && (!delta || (await deltaHash()) === applications.apps__hashcode)) return res.body;
    }
    if (Date.now() > deadline) throw new Error(`the server's GET /apps never showed ${what} within ${timeoutMs / 1000} s (last answer ${res.code})`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** One request that passed through a {@link CapturingProxy}. */
export interface Captured {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly status: number;
  readonly at: number;
}

/** An HTTP proxy in front of one Eureka server that keeps every request and the status it got. */
export class CapturingProxy {
  readonly captured: Captured[] = [];
  readonly #server: Server;
  #port = 0;

  readonly target: string;

  constructor(target: string) {
    this.target = target;
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const base = new URL(target);
        const headers = { ...req.headers, host: base.host };
        request(`${base.origin}${req.url ?? '/'}`, { method: req.method as 'GET', headers, body: body.length === 0 ? null : body })
          .then(async (upstream) => {
            const payload = Buffer.from(await upstream.body.arrayBuffer());
            this.captured.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: body.toString(), status: upstream.statusCode, at: Date.now() });
            const out: Record<string, string | string[]> = {};
            for (const [name, value] of Object.entries(upstream.headers)) {
              if (value !== undefined && !['transfer-encoding', 'connection', 'keep-alive'].includes(name)) out[name] = value;
            }
            out['content-length'] = String(payload.length);
            res.writeHead(upstream.statusCode, out);
            res.end(payload);
          })
          .catch(() => {
            this.captured.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: body.toString(), status: 502, at: Date.now() });
            res.writeHead(502).end();
          });
      });
    });
  }

  /** Listens on a free loopback port. */
  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.#port = (this.#server.address() as AddressInfo).port;
  }

  /** The proxy's Eureka service URL (same path as the target's). */
  get serviceUrl(): string {
    return `http://127.0.0.1:${this.#port}${new URL(this.target).pathname}`;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}

/** Options of {@link nodeService}. */
export interface NodeServiceOptions extends Partial<Omit<ServiceOptions, 'registry'>> {
  readonly eureka: EurekaRegistryOptions;
  /** What GET / and every other path answer; the instance id by default. */
  readonly answer?: string;
}

/**
 * A Node service on loopback registered in Eureka, whose HTTP server answers every path with its instance id
 * (so callers can count where they went).
 */
export function nodeService(options: NodeServiceOptions): Service {
  const { eureka, answer, ...rest } = options;
  let id = answer ?? '';
  const server = createServer((req, res) => {
    req.resume();
    res.setHeader('content-type', 'text/plain');
    res.end(id);
  });
  const service = createService({
    name: 'node-svc',
    server,
    port: 0,
    host: '127.0.0.1',
    hostName: '127.0.0.1',
    ipAddr: '127.0.0.1',
    admin: false,
    registry: { eureka },
    ...rest,
  });
  service.onInitialize(() => {
    if (id === '') id = service.instanceId ?? '';
  });
  return service;
}
