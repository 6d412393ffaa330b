import type { IncomingMessage, ServerResponse } from 'node:http';

/** The request context the admin server hands a route handler: what the parts below the admin layer use. */
export interface RouteContext {
  /** Reads the JSON body within the admin server's size limit (400/413 on bad input). */
  readJson(): Promise<unknown>;
  /** The admin server's audit log, where a mutation records what it changed; absent on targets that keep none. */
  readonly audit?: {
    /** Records the change's action and the state before and after it; later calls merge into earlier ones. */
    record(change: { readonly action?: string; readonly before?: unknown; readonly after?: unknown }): void;
  };
}

/** A route handler as the admin server calls it. */
export type RouteTargetHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  params: Readonly<Record<string, string>>,
  url: URL,
  context: RouteContext,
) => unknown;

/**
 * Anything that takes routes as the admin server does. The parts below the admin layer (breakers, the client,
 * shadow traffic, configuration, metrics) add their endpoints through it; `AdminServer` fits it as it is.
 */
export interface RouteTarget {
  /** Adds a route; `mutation` routes need the admin token (or loopback when none is set). */
  route(method: string, path: string, handler: RouteTargetHandler, options?: { readonly mutation?: boolean }): unknown;
}
