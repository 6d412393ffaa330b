export { AdminServer, resolveAdminOptions } from './AdminServer.js';
export type {
  AdminAccess,
  AdminOptions,
  AdminRateLimitOptions,
  AdminRequestContext,
  AdminRouteHandler,
  AdminRouteOptions,
  AdminServerDeps,
  ResolvedAdminOptions,
  ResolvedAdminRateLimit,
} from './AdminServer.js';
export { AdminTokenSet, adminRoles, loadAdminTokens, resolveAdminTokens } from './AdminTokens.js';
export type { AdminPrincipal, AdminRole, AdminTokenCheck, AdminTokenHolder, AdminTokenOptions, AdminTokenSources } from './AdminTokens.js';
export { AuditLog } from './AuditLog.js';
export type {
  AuditChange,
  AuditDraft,
  AuditEntry,
  AuditLogDeps,
  AuditLogOptions,
  AuditMetrics,
  AuditOutcome,
  AuditRecorder,
  ResolvedAuditLogOptions,
} from './AuditLog.js';
export type { AdminServiceView, StatusReport, TransitionRecord } from './types.js';
export { adminUiContentSecurityPolicy, adminUiRoutes, resolveAdminUiOptions } from './uiRoutes.js';
export type { AdminUiOptions, AdminUiRouteTarget, ResolvedAdminUiOptions } from './uiRoutes.js';
export { registryAdminRoutes, registryReport } from './registryRoutes.js';
export type { RegistryAdminRoutes, RegistryAdminRoutesOptions, RegistryAppView, RegistryFetchView, RegistryInstanceView, RegistryReport, RegistryRouteTarget } from './registryRoutes.js';
