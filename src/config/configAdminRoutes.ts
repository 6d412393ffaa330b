import type { ServerResponse } from 'node:http';
import { isKaryonError } from '../common/KaryonError.js';
import type { RouteContext, RouteTarget } from '../common/RouteTarget.js';
import { HttpError, sendJson } from '../internal/http.js';
import type { AnyDynamicConfig, ConfigChangeResult } from './DynamicConfig.js';
import type { ConfigIssue } from './types.js';

/**
 * Adds the configuration endpoints to the admin server; sensitive values are masked in every answer:
 * - `GET /config`: each key's value and the layer and source it came from, the overrides, the sources' state;
 * - `GET /config/history`: recent applied changes, rejections (with reasons) and rollbacks, oldest first;
 * - `GET /config/{key}`: one key;
 * - `PUT /config/{key}` with `{"value": ...}`: a runtime override, validated (400 with the reason when rejected);
 * - `DELETE /config/{key}`: removes the override (404 when there is none);
 * - `POST /config/reload`: reads every source again now.
 *
 * @example
 * ```ts
 * configAdminRoutes(admin, config); // admin: an AdminServer
 * ```
 */
export function configAdminRoutes(admin: RouteTarget, config: AnyDynamicConfig): void {
  const requireStarted = (): void => {
    if (!config.started) throw new HttpError(503, 'the configuration has not started yet');
  };
  const describeKey = (key: string): Record<string, unknown> => {
    const entry = config.describe().keys.find((k) => k.key === key);
    return entry === undefined ? { key } : { ...entry, overridden: config.hasOverride(key) };
  };
  const requireLeaf = (key: string): void => {
    if (!config.hasKey(key)) throw new HttpError(404, `no configuration key '${key}'`);
    if (!config.isLeafKey(key)) throw new HttpError(400, `'${key}' is a group of settings; set its keys one by one`);
  };
  // What the audit log keeps of a key around a change: its value as GET /config shows it (masked when
  // sensitive) and whether an override is in force.
  const auditView = (key: string): { key: string; value: unknown; overridden: boolean } => {
    const entry = config.describe().keys.find((k) => k.key === key);
    return { key, value: entry?.value, overridden: config.hasOverride(key) };
  };
  // Applies an override change: 200 with the key as it now stands, or 400 with every reason it was rejected.
  const change = (res: ServerResponse, key: string, apply: () => ConfigChangeResult, context: RouteContext, action: string): void => {
    context.audit?.record({ action, before: auditView(key) });
    let result: ConfigChangeResult;
    try {
      result = apply();
    } catch (error) {
      if (!isKaryonError(error, 'ERR_INVALID_CONFIG')) throw error;
      const issues = error.errors as readonly ConfigIssue[];
      sendJson(res, 400, { error: issues.map((issue) => issue.message).join('; ') || error.message, issues });
      return;
    }
    context.audit?.record({ after: auditView(key) });
    sendJson(res, 200, { ...describeKey(key), outcome: result.outcome, version: result.version, changes: result.changes });
  };

  admin.route('GET', '/config', (_req, res) => {
    requireStarted();
    const description = config.describe();
    const keys: Record<string, unknown> = {};
    for (const { key, ...rest } of description.keys) keys[key] = rest;
    sendJson(res, 200, { version: description.version, updatedAt: description.updatedAt, keys, overrides: description.overrides, sources: config.sources() });
  });

  admin.route('GET', '/config/history', (_req, res) => {
    requireStarted();
    sendJson(res, 200, { version: config.version, entries: config.history() });
  });

  admin.route('GET', '/config/:key', (_req, res, params) => {
    requireStarted();
    const key = params.key ?? '';
    if (!config.isLeafKey(key)) throw new HttpError(404, `no configuration key '${key}'`);
    sendJson(res, 200, describeKey(key));
  });

  admin.route(
    'PUT',
    '/config/:key',
    async (_req, res, params, _url, context) => {
      requireStarted();
      const key = params.key ?? '';
      requireLeaf(key);
      const body = await context.readJson();
      if (typeof body !== 'object' || body === null || Array.isArray(body) || !Object.prototype.hasOwnProperty.call(body, 'value')) {
        throw new HttpError(400, 'body must be a JSON object {"value": ...}');
      }
      const value = (body as { value: unknown }).value;
      change(res, key, () => config.setOverride(key, value), context, 'config.set');
    },
    { mutation: true },
  );

  admin.route(
    'DELETE',
    '/config/:key',
    (_req, res, params, _url, context) => {
      requireStarted();
      const key = params.key ?? '';
      requireLeaf(key);
      if (!config.hasOverride(key)) throw new HttpError(404, `no runtime override for '${key}'`);
      change(res, key, () => config.clearOverride(key), context, 'config.clear');
    },
    { mutation: true },
  );

  admin.route(
    'POST',
    '/config/reload',
    async (_req, res, _params, _url, context) => {
      requireStarted();
      context.audit?.record({ action: 'config.reload', before: { version: config.version } });
      await config.reload();
      context.audit?.record({ after: { version: config.version } });
      sendJson(res, 200, { version: config.version, sources: config.sources() });
    },
    { mutation: true },
  );
}
