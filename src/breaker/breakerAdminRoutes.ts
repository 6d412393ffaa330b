import { isKaryonError } from '../common/KaryonError.js';
import type { RouteTarget } from '../common/RouteTarget.js';
import { HttpError, readJson, sendJson } from '../internal/http.js';
import type { BreakerControls } from './AdoptedBreaker.js';
import type { CommandSettingsUpdate } from './Command.js';
import type { CommandRegistry } from './CommandRegistry.js';
import { HystrixStream } from './HystrixStream.js';
import type { HystrixStreamOptions } from './HystrixStream.js';

/** Options of {@link breakerAdminRoutes}. */
export interface BreakerAdminOptions {
  /** Options of `GET /hystrix.stream`. */
  readonly stream?: HystrixStreamOptions;
}

/** What {@link breakerAdminRoutes} added: close it before the admin server so open streams end at once. */
export interface BreakerAdminRoutes {
  /** The `hystrix.stream` endpoint. */
  readonly stream: HystrixStream;
  /** Ends every open stream and refuses new ones. Idempotent. */
  close(): Promise<void>;
  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void>;
}

const actions = ['forceOpen', 'forceClosed', 'reset'] as const;
type Action = (typeof actions)[number];

/**
 * Adds the breaker endpoints to the admin server:
 * Adopted opossum breakers (`registry.adopt()`) show and act like commands, except that their settings are
 * refused (400): they are opossum's options.
 * - `GET /breakers`: every command's state, settings, counts and latency percentiles;
 * - `GET /breakers/{name}`: one command (404 when unknown);
 * - `PUT /breakers/{name}` (a mutation): `{"action": "forceOpen" | "forceClosed" | "reset"}` and/or
 *   `{"settings": {...}}` (values set, `null` removes an override); 400 on bad input, 404 unknown command;
 * - `GET /hystrix.stream`: the Hystrix Dashboard / Turbine stream (`?delay=` ms).
 *
 * Open streams also end by themselves within a quarter of a second once the admin server stops listening.
 *
 * @example
 * ```ts
 * const routes = breakerAdminRoutes(admin, commands);
 * // on shutdown, before admin.close():
 * await routes.close();
 * ```
 */
export function breakerAdminRoutes(target: RouteTarget, registry: CommandRegistry, options: BreakerAdminOptions = {}): BreakerAdminRoutes {
  const stream = new HystrixStream(() => registry.snapshots(), options.stream);

  target.route('GET', '/breakers', (_req, res) => {
    sendJson(res, 200, { commands: registry.snapshots() });
  });

  target.route('GET', '/breakers/:name', (_req, res, params) => {
    sendJson(res, 200, find(registry, params).snapshot());
  });

  target.route(
    'PUT',
    '/breakers/:name',
    async (req, res, params, _url, context) => {
      const command = find(registry, params);
      const body = await (typeof context?.readJson === 'function' ? context.readJson() : readJson(req, 64 * 1024));
      const { action, settings } = parseChange(body);
      context?.audit?.record({ action: `breaker.${action ?? 'settings'}`, before: auditView(command) });
      try {
        if (settings !== undefined) command.setOptions(settings);
      } catch (error) {
        if (isKaryonError(error, 'ERR_INVALID_OPTION')) throw new HttpError(400, error.message);
        throw error;
      }
      switch (action) {
        case 'forceOpen':
          command.forceOpen();
          break;
        case 'forceClosed':
          command.forceClosed();
          break;
        case 'reset':
          command.reset();
          break;
        case undefined:
          break;
      }
      context?.audit?.record({ after: auditView(command) });
      sendJson(res, 200, command.snapshot());
    },
    { mutation: true },
  );

  target.route('GET', '/hystrix.stream', (req, res, _params, url) => {
    stream.handle(req, res, url);
  });

  return {
    stream,
    close: () => stream.close(),
    [Symbol.asyncDispose]: () => stream.close(),
  };
}

/** What the audit log keeps of a command around a change: its state and its own settings. */
function auditView(command: BreakerControls): { state: string; overrides: unknown } {
  return { state: command.state, overrides: { ...command.overrides } };
}

function find(registry: CommandRegistry, params: Readonly<Record<string, string>>): BreakerControls {
  const name = params.name ?? '';
  const command = registry.breaker(name);
  if (command === undefined) throw new HttpError(404, `no command named ${JSON.stringify(name)}`);
  return command;
}

function parseChange(body: unknown): { action: Action | undefined; settings: CommandSettingsUpdate | undefined } {
  const usage = `body must be {"action": ${actions.map((a) => `"${a}"`).join(' | ')}} and/or {"settings": {...}}`;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, `${usage} (got ${JSON.stringify(body)})`);
  const { action, settings, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw new HttpError(400, `${usage} (unknown field ${JSON.stringify(unknown[0])})`);
  if (action === undefined && settings === undefined) throw new HttpError(400, `${usage} (got neither)`);
  if (action !== undefined && !actions.includes(action as Action)) {
    throw new HttpError(400, `field 'action' must be one of ${actions.map((a) => `"${a}"`).join(', ')} (got ${JSON.stringify(action)})`);
  }
  if (settings !== undefined && (typeof settings !== 'object' || settings === null || Array.isArray(settings))) {
    throw new HttpError(400, `field 'settings' must be an object of command settings (got ${JSON.stringify(settings)})`);
  }
  return { action: action as Action | undefined, settings: settings };
}
