import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AdminTokenSet } from '../admin/AdminTokens.js';
import type { Clock } from '../common/Clock.js';
import { KaryonError } from '../common/KaryonError.js';
import type { Logger } from '../common/Logger.js';
import type { DynamicConfig } from '../config/DynamicConfig.js';
import type { TtlCheck, TtlStatus } from '../health/checks/TtlCheck.js';
import type { HealthReport } from '../health/types.js';
import { ServerTracker, listen } from '../inbound/ServerTracker.js';
import { errorMessage } from '../internal/async.js';
import { HttpError, readJson, requestUrl, sendError, sendJson, sendText } from '../internal/http.js';
import { isLoopbackAddress } from '../internal/net.js';
import { registryStatusOf } from '../lifecycle/LifecycleState.js';
import type { LifecycleState } from '../lifecycle/LifecycleState.js';
import type { RegistryInstance, ServiceRegistry } from '../registry/types.js';
import type { EgressProxy } from './EgressProxy.js';
import type { ProcessReport } from './SupervisedProcess.js';

/** What the sidecar's endpoints read and act on. */
export interface SidecarServerContext {
  /** The application's name. */
  readonly app: string;
  /** The lifecycle state. */
  status(): LifecycleState;
  /** Every check's state, without running any. */
  health(): HealthReport;
  /** The registry, for discovery. */
  readonly registry: ServiceRegistry;
  /** The dynamic configuration, if any. */
  readonly config: DynamicConfig<object> | undefined;
  /** The process's state, if the sidecar has one. */
  process(): ProcessReport | undefined;
  /** The TTL check of that name, if there is one. */
  ttlCheck(name: string): TtlCheck | undefined;
  /** True when a check of that name exists (of any kind). */
  hasCheck(name: string): boolean;
  /** While the start waits for readiness: each check not passing yet, with why. */
  waitingFor(): Readonly<Record<string, string>>;
  /** The egress proxy. */
  readonly proxy: EgressProxy;
  /** The admin tokens: TTL reports from other hosts than loopback must carry one with the `operate` role. */
  readonly tokens: AdminTokenSet | undefined;
  /** Time source. */
  readonly clock: Clock;
  /** Logger. */
  readonly logger: Logger;
}

/** First path segments the sidecar answers itself; any other first segment is a VIP to proxy to. */
const RESERVED = new Set(['', 'ping', 'healthcheck', 'status', 'dynamicproperties', 'eureka', 'instances', 'process', 'v1', 'proxy']);

const ENDPOINTS = [
  'GET /ping',
  'GET /healthcheck',
  'GET /status',
  'GET /dynamicproperties?id={key}&id={key}',
  'GET /eureka/hosts?appName={app}[&vip={vip}]',
  'GET /instances?vip={vip}|appName={app}[&status=any]',
  'GET /process',
  'PUT /v1/agent/check/{pass|warn|fail}/{check}[?note=...]',
  'PUT /v1/agent/check/update/{check}',
  '* /proxy?vip={vip}&path={path}',
  '* /proxy/{vip}/{path}',
  '* /{vip}/{path}',
];

const TTL_STATUS: Readonly<Record<string, TtlStatus>> = { pass: 'passing', warn: 'warning', fail: 'critical' };

/**
 * The sidecar's own HTTP endpoints (port 8078 by default): Prana's paths, parameters and answers, so a Prana
 * user can switch; JSON variants of them (`Accept: application/json` or `?format=json`); discovery for
 * clients that balance themselves; Consul's TTL check-in paths; and the egress proxy. Never crashes on bad
 * input: a bad request gets a 4xx naming what was wrong.
 */
export class SidecarServer {
  readonly #context: SidecarServerContext;
  readonly #server: Server;
  readonly #tracker: ServerTracker;
  readonly #tokens: AdminTokenSet | undefined;
  #port: number | undefined;
  #host: string | undefined;
  #closing: Promise<void> | undefined;

  constructor(context: SidecarServerContext) {
    this.#context = context;
    this.#tokens = context.tokens;
    this.#server = createServer((req, res) => void this.#handle(req, res));
    // Keep-alive connections from the application are reused for every proxied call.
    this.#server.keepAliveTimeout = 65_000;
    this.#tracker = new ServerTracker(this.#server, context.clock);
  }

  /** The port listened on, once listening. */
  get port(): number | undefined {
    return this.#port;
  }

  /** The base URL, once listening. */
  get url(): string | undefined {
    if (this.#port === undefined) return undefined;
    const host = this.#host === undefined || this.#host === '0.0.0.0' || this.#host === '::' ? '127.0.0.1' : this.#host;
    return `http://${host.includes(':') ? `[${host}]` : host}:${this.#port}`;
  }

  /**
   * Listens; resolves with the port.
   * @throws KaryonError ERR_LISTEN when the port cannot be bound.
   */
  async listen(port: number, host: string): Promise<number> {
    try {
      this.#port = await listen(this.#server, port, host, { name: 'sidecar server', logger: this.#context.logger });
      this.#host = host;
    } catch (error) {
      throw new KaryonError('ERR_LISTEN', `sidecar could not listen on ${host}:${port}: ${errorMessage(error)}`, { cause: error });
    }
    return this.#port;
  }

  /** Stops listening, lets requests in flight finish for up to `timeoutMs`, then cuts them. Idempotent. */
  close(timeoutMs = 1000): Promise<void> {
    this.#closing ??= this.#tracker.drain(timeoutMs).then(() => undefined);
    return this.#closing;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = requestUrl(req, 'http://sidecar.invalid');
    } catch (error) {
      sendJson(res, 400, { error: errorMessage(error) });
      return;
    }
    const pathname = url.pathname;
    const slash = pathname.indexOf('/', 1);
    const first = slash < 0 ? pathname.slice(1) : pathname.slice(1, slash);
    if (!RESERVED.has(first)) {
      // `/{vip}/{path}`: the rest of the path and the query go to the VIP as they came.
      const rest = slash < 0 ? '/' : pathname.slice(slash);
      await this.#context.proxy.forward(req, res, decodeSegment(first), rest + url.search, 'json');
      return;
    }
    try {
      if (first === 'proxy') {
        await this.#proxy(req, res, url, slash < 0 ? '' : pathname.slice(slash));
        return;
      }
      const method = req.method ?? 'GET';
      const put = pathname.startsWith('/v1/agent/check/');
      if (put ? method !== 'PUT' : method !== 'GET' && method !== 'HEAD') {
        throw new HttpError(405, `${method} is not allowed on ${pathname}`, { allow: put ? 'PUT' : 'GET, HEAD' });
      }
      if (put) {
        await this.#checkIn(req, res, url);
        return;
      }
      switch (pathname) {
        case '/':
          sendJson(res, 200, { app: this.#context.app, status: this.#context.status(), endpoints: ENDPOINTS });
          return;
        case '/ping':
          this.#ping(req, res, url);
          return;
        case '/healthcheck':
          this.#healthcheck(req, res, url);
          return;
        case '/status':
          sendJson(res, 200, { status: registryStatusOf(this.#context.status()) ?? 'DOWN' });
          return;
        case '/dynamicproperties':
          this.#dynamicProperties(req, res, url);
          return;
        case '/eureka/hosts':
          this.#hosts(res, url);
          return;
        case '/instances':
          this.#instances(res, url);
          return;
        case '/process': {
          const report = this.#context.process();
          sendJson(res, report === undefined ? 404 : 200, report ?? { error: 'the sidecar has no process: it follows the application by its checks alone' });
          return;
        }
        default:
          throw new HttpError(404, `no sidecar endpoint at ${pathname}; see GET / for the list`);
      }
    } catch (error) {
      if (!(error instanceof HttpError)) this.#context.logger.error(`sidecar request ${req.method ?? ''} ${pathname} failed: ${errorMessage(error)}`);
      sendError(res, error);
    }
  }

  /** Prana: `/proxy?vip=V&path=/p` and `/proxy/V/p`; errors in Prana's XML. */
  async #proxy(req: IncomingMessage, res: ServerResponse, url: URL, rest: string): Promise<void> {
    if (rest !== '' && rest !== '/') {
      const slash = rest.indexOf('/', 1);
      const vip = decodeSegment(slash < 0 ? rest.slice(1) : rest.slice(1, slash));
      await this.#context.proxy.forward(req, res, vip, (slash < 0 ? '/' : rest.slice(slash)) + url.search, 'prana');
      return;
    }
    const vip = url.searchParams.get('vip') ?? '';
    const path = url.searchParams.get('path') ?? '/';
    if (vip === '') {
      const text = '<status><status_code>400</status_code><message>the vip parameter is required: /proxy?vip={vip}&amp;path={path}</message></status>';
      res.writeHead(400, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    await this.#context.proxy.forward(req, res, vip, path, 'prana');
  }

  /** Prana answers `pong` as text; the JSON variant adds the lifecycle state. */
  #ping(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const headers = { 'cache-control': 'must-revalidate,no-cache,no-store' };
    if (wantsJson(req, url)) sendJson(res, 200, { pong: true, status: this.#context.status() }, headers);
    else sendText(res, 200, 'pong', headers);
  }

  /**
   * Prana's `<health>ok</health>` / `<health>fail</health>`. Healthy means serving, by the checks: UP or
   * OUT_OF_SERVICE (an operator's choice, not a fault) and no liveness check critical. Prana answered a
   * failure with status 200 (its error path forgot the status); this answers 503, which load balancers read.
   */
  #healthcheck(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const status = this.#context.status();
    const report = this.#context.health();
    const healthy = (status === 'UP' || status === 'OUT_OF_SERVICE') && report.live;
    if (wantsJson(req, url)) {
      const checks: Record<string, unknown> = {};
      for (const [name, check] of Object.entries(report.checks)) {
        const details = check.lastResult?.details;
        checks[name] = {
          kind: check.kind,
          status: check.status,
          output: typeof details?.output === 'string' ? details.output : check.lastError,
          lastCheckedAt: check.lastCheckedAt,
          consecutiveFailures: check.consecutiveFailures,
        };
      }
      const waiting = status === 'STARTING' ? { waitingFor: this.#context.waitingFor() } : {};
      sendJson(res, healthy ? 200 : 503, { healthy, status, ready: report.ready, live: report.live, ...waiting, checks });
      return;
    }
    const text = healthy ? '<health>ok</health>' : '<health>fail</health>';
    res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
    res.end(text);
  }

  /** Prana: `{"key": "value" | null}` for every `id`; values as strings, as Archaius's `getString`. */
  #dynamicProperties(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const config = this.#context.config;
    const fromLoopback = isLoopbackAddress(req.socket.remoteAddress);
    const properties: Record<string, string | null> = {};
    for (const id of url.searchParams.getAll('id')) {
      if (config === undefined || !config.hasKey(id)) {
        properties[id] = null;
        continue;
      }
      // Secrets go to the application next to the sidecar, never to another host.
      properties[id] = config.isSensitiveKey(id) && !fromLoopback ? '[Sensitive]' : stringOf(config.get(id as never));
    }
    sendJson(res, 200, properties);
  }

  /** Prana: the host names of the UP instances of `appName`, optionally of one `vip`. */
  #hosts(res: ServerResponse, url: URL): void {
    const app = url.searchParams.get('appName');
    if (app === null || app === '') {
      sendJson(res, 400, { reason: 'Bad Request', message: 'appName has to be specified' });
      return;
    }
    const vip = url.searchParams.get('vip');
    const hosts = this.#context.registry
      .instancesByApp(app)
      .filter((instance) => instance.status === 'UP' && (vip === null || servesVip(instance, vip)))
      .map((instance) => instance.hostName);
    sendJson(res, 200, hosts);
  }

  /** Discovery with what Prana's list leaves out: ports, ids, zones, status and a URL to call. */
  #instances(res: ServerResponse, url: URL): void {
    const vip = url.searchParams.get('vip');
    const app = url.searchParams.get('appName');
    if ((vip === null) === (app === null)) {
      throw new HttpError(400, 'give exactly one of vip or appName: /instances?vip={vip} or /instances?appName={app}');
    }
    const all = url.searchParams.get('status') === 'any';
    const registry = this.#context.registry;
    const instances = vip !== null ? (all ? registry.instancesByVip(vip) : registry.upInstancesByVip(vip)) : registry.instancesByApp(app as string);
    sendJson(
      res,
      200,
      instances
        .filter((instance) => all || instance.status === 'UP')
        .map((instance) => ({
          instanceId: instance.instanceId,
          app: instance.app,
          vipAddress: instance.vipAddress,
          hostName: instance.hostName,
          ipAddr: instance.ipAddr,
          port: instance.port,
          status: instance.status,
          zone: instance.zone,
          url: `http://${instance.ipAddr.includes(':') ? `[${instance.ipAddr}]` : instance.ipAddr}:${instance.port}`,
          metadata: instance.metadata,
        })),
    );
  }

  /** Consul's TTL check-in: `PUT /v1/agent/check/{pass|warn|fail}/{id}?note=` and `PUT /v1/agent/check/update/{id}`. */
  async #checkIn(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    this.#authorize(req);
    const parts = url.pathname.slice('/v1/agent/check/'.length).split('/');
    const [verb, encoded] = parts;
    if (parts.length !== 2 || verb === undefined || encoded === undefined || encoded === '') {
      throw new HttpError(404, `no check endpoint at ${url.pathname}; use /v1/agent/check/{pass|warn|fail|update}/{check}`);
    }
    const name = decodeSegment(encoded);
    const check = this.#context.ttlCheck(name);
    if (check === undefined) {
      throw new HttpError(404, this.#context.hasCheck(name) ? `check '${name}' is not a TTL check` : `no check named '${name}'`);
    }
    if (verb === 'update') {
      const body = await readJson(req, 64 * 1024);
      const { Status: status, Output: output } = (typeof body === 'object' && body !== null ? body : {}) as { Status?: unknown; Output?: unknown };
      if (status !== 'passing' && status !== 'warning' && status !== 'critical') {
        throw new HttpError(400, `body must be {"Status":"passing"|"warning"|"critical","Output":"..."} (got ${JSON.stringify(body)})`);
      }
      if (output !== undefined && typeof output !== 'string') throw new HttpError(400, `"Output" must be a string (got ${typeof output})`);
      check.update(status, output ?? '');
    } else {
      const status = TTL_STATUS[verb];
      if (status === undefined) throw new HttpError(404, `no check endpoint at ${url.pathname}; use pass, warn, fail or update`);
      check.update(status, url.searchParams.get('note') ?? '');
    }
    res.writeHead(200, { 'content-length': 0 });
    res.end();
  }

  /** TTL reports come from the application beside the sidecar (loopback), or carry an `operate` admin token. */
  #authorize(req: IncomingMessage): void {
    if (isLoopbackAddress(req.socket.remoteAddress)) return;
    const check = this.#tokens?.identify(req.headers.authorization);
    if (check?.kind === 'valid' && check.principal.role === 'operate') return;
    throw new HttpError(403, 'check reports are accepted from loopback, or with an operate admin token');
  }
}

function wantsJson(req: IncomingMessage, url: URL): boolean {
  return url.searchParams.get('format') === 'json' || (req.headers.accept?.includes('application/json') ?? false);
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** A VIP address may be a comma-separated list. */
function servesVip(instance: RegistryInstance, vip: string): boolean {
  const wanted = vip.toLowerCase();
  return instance.vipAddress.split(',').some((one) => one.trim().toLowerCase() === wanted);
}

function stringOf(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map((item) => (typeof item === 'object' && item !== null ? JSON.stringify(item) : String(item))).join(',');
  if (typeof value === 'object') return JSON.stringify(value);
  return typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' ? String(value) : null;
}

