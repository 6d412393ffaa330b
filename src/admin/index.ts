export { AdminServer, resolveAdminOptions } from './AdminServer.js';
export type {
  AdminOptions,
  AdminRequestContext,
  AdminRouteHandler,
  AdminRouteOptions,
  ResolvedAdminOptions,
} from './AdminServer.js';
export type { AdminServiceView, StatusReport, TransitionRecord } from './types.js';
