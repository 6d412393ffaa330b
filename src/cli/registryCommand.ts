import { parseArgs } from 'node:util';
import { KaryonError } from '../common/KaryonError.js';
import { EurekaServer } from '../registry/server/EurekaServer.js';
import { loadRegistryTokens } from '../registry/server/loadRegistryTokens.js';
import type { CliCommand, CliIo } from './CliCommand.js';
import { lineLogger } from '../common/lineLogger.js';

const usage = `Usage: karyon registry [options]

A development Eureka server: in memory, speaking Eureka's REST JSON under /eureka/apps and /eureka/v2/apps,
with Netflix's status rules, leases, eviction, deltas and overrides. Logs one line per registration and
status change. Not a production registry: production uses Netflix or Spring Cloud Eureka.

Options:
  --port <n>                 port to listen on; 0 picks a free one (default 8761)
  --host <address>           address to bind (default: all interfaces; 127.0.0.1 keeps it local)
  --lease-duration <ms>      lease of instances that send no leaseInfo.durationInSecs (default 90000)
  --eviction-interval <ms>   how often leases not renewed within their duration are evicted (default 60000)
  --delta-retention <ms>     how long a change stays in GET /apps/delta (default 180000)
  --response-cache <ms>      answer GET /apps, /apps/delta and /apps/{APP} from a read-only cache refreshed
                             this often, like Netflix's 30 s cache (default 0: every change shows at once)
  --wait-when-empty <ms>     refuse registry reads (403) for this long after a start with an empty registry,
                             as a Netflix server does, so clients of a registry that restarts keep their views
                             while instances register again; 0 serves reads at once (default 40s)
  --owner-tokens <file>      a JSON file of owner tokens by application, {"GREETER": "<token>", ...}: then only
                             an application's token may register, renew, change or cancel its instances
                             (default: $KARYON_REGISTRY_TOKENS_FILE, or the JSON in $KARYON_REGISTRY_TOKENS)
  --read-token-file <file>   a file holding a token every read needs; owner tokens may read too
                             (default: $KARYON_REGISTRY_READ_TOKEN_FILE, or $KARYON_REGISTRY_READ_TOKEN)
  --token-header <name>      the header tokens come in (default authorization, as Bearer <token>);
                             X-Karyon-Registry-Token is accepted too
  --allow-unlisted-apps      with owner tokens, let anyone write applications that have none
  --verbose                  also log every heartbeat
  -h, --help                 show this help

Durations are milliseconds, or take a unit: 500ms, 30s, 2m.
Tokens are read from files or the environment, never from the command line (where ps would show them).
Stop with Ctrl-C (SIGINT) or SIGTERM.`;

/**
 * How long `karyon registry` refuses reads after it starts empty: a little more than the default 30 s heartbeat
 * (jittered by 10 %), by which every live instance has been answered 404 and registered again.
 */
const DEFAULT_WAIT_WHEN_EMPTY_MS = 40_000;

/** `karyon registry`: runs the development Eureka server until SIGINT or SIGTERM. */
export const registryCommand: CliCommand = {
  name: 'registry',
  summary: 'run a development Eureka server (in memory, Eureka REST JSON)',
  usage,
  run: runRegistry,
};

async function runRegistry(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(args);
  if (values.help === true) {
    io.stdout.write(`${usage}\n`);
    return 0;
  }
  const tokens = loadRegistryTokens({
    env: process.env,
    ...(values['owner-tokens'] === undefined ? {} : { ownerTokensFile: values['owner-tokens'] }),
    ...(values['read-token-file'] === undefined ? {} : { readTokenFile: values['read-token-file'] }),
  });
  const server = new EurekaServer({
    ...tokens,
    ...(values['token-header'] === undefined ? {} : { tokenHeader: values['token-header'] }),
    ...(values['allow-unlisted-apps'] === true ? { allowUnlistedApps: true } : {}),
    ...(values.port === undefined ? {} : { port: portFlag(values.port) }),
    ...(values.host === undefined ? {} : { host: values.host }),
    ...durationFlag('lease-duration', values['lease-duration'], 'leaseDurationMs', 1),
    ...durationFlag('eviction-interval', values['eviction-interval'], 'evictionIntervalMs', 1),
    ...durationFlag('delta-retention', values['delta-retention'], 'deltaRetentionMs', 0),
    ...durationFlag('response-cache', values['response-cache'], 'responseCacheMs', 0),
    waitWhenEmptyMs: DEFAULT_WAIT_WHEN_EMPTY_MS,
    ...durationFlag('wait-when-empty', values['wait-when-empty'], 'waitWhenEmptyMs', 0),
    logger: lineLogger({ stdout: io.stdout, stderr: io.stderr, verbose: values.verbose === true }),
  });
  try {
    if (io.stopSignal.aborted) return 0;
    await server.listen();
    const o = server.options;
    const bound = o.host === undefined ? 'all interfaces' : o.host;
    io.stdout.write(
      `karyon registry: development Eureka server listening on ${server.url} (${bound}; also ${server.url}/v2)\n` +
        `karyon registry: lease ${seconds(o.leaseDurationMs)}, eviction every ${seconds(o.evictionIntervalMs)}, ` +
        `delta kept ${seconds(o.deltaRetentionMs)}, response cache ${o.responseCacheMs === 0 ? 'off' : `every ${seconds(o.responseCacheMs)}`}, ` +
        `reads ${o.waitWhenEmptyMs === 0 ? 'served at once' : `refused for ${seconds(o.waitWhenEmptyMs)} after this empty start`}; Ctrl-C to stop\n` +
        `karyon registry: ${describeAccess(o.access)}\n`,
    );
    const signal = await new Promise<string>((resolve) => {
      if (io.stopSignal.aborted) resolve(String(io.stopSignal.reason));
      io.stopSignal.addEventListener('abort', () => resolve(String(io.stopSignal.reason)), { once: true });
    });
    io.stdout.write(`karyon registry: ${signal} received, stopping\n`);
  } finally {
    await server.close();
  }
  io.stdout.write('karyon registry: stopped\n');
  return 0;
}

function parse(args: readonly string[]) {
  try {
    return parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'lease-duration': { type: 'string' },
        'eviction-interval': { type: 'string' },
        'delta-retention': { type: 'string' },
        'response-cache': { type: 'string' },
        'wait-when-empty': { type: 'string' },
        'owner-tokens': { type: 'string' },
        'read-token-file': { type: 'string' },
        'token-header': { type: 'string' },
        'allow-unlisted-apps': { type: 'boolean' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new KaryonError('ERR_INVALID_OPTION', (error as Error).message, { cause: error });
  }
}

function portFlag(text: string): number {
  const port = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(port >= 0 && port <= 65535)) {
    throw new KaryonError('ERR_INVALID_OPTION', `--port must be an integer between 0 and 65535 (got ${JSON.stringify(text)})`);
  }
  return port;
}

/** `--flag 500ms|30s|2m|1500` as `{ [option]: ms }`, or nothing when the flag is absent. */
function durationFlag<K extends string>(flag: string, text: string | undefined, option: K, min: number): Partial<Record<K, number>> {
  if (text === undefined) return {};
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  const factor = { ms: 1, s: 1000, m: 60_000 }[match?.[2] ?? 'ms'] ?? 1;
  const ms = match === null ? NaN : Math.round(Number(match[1]) * factor);
  if (!(ms >= min)) {
    const expected = min > 0 ? 'a positive duration' : 'a duration';
    throw new KaryonError('ERR_INVALID_OPTION', `--${flag} must be ${expected} in ms, or with a unit as in 500ms, 30s, 2m (got ${JSON.stringify(text)})`);
  }
  return { [option]: ms } as Partial<Record<K, number>>;
}

/** One line on who may write and read; names the owned applications, never a token. */
function describeAccess(access: EurekaServer['options']['access']): string {
  const reads = access.checksReads ? 'reads need the read token or an owner token' : 'reads open';
  if (!access.checksWrites) return `no owner tokens: anyone may write any application; ${reads}`;
  const apps = access.ownedApps;
  const header = access.tokenHeader === 'authorization' ? 'Authorization: Bearer' : access.tokenHeader;
  return `owner tokens for ${apps.length} application(s) (${apps.join(', ')}), in ${header} or X-Karyon-Registry-Token; ${reads}`;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
