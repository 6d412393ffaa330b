export { ServiceClient, createServiceClient } from './ServiceClient.js';
export type { CreateServiceClientOptions, InstanceStats, ServiceClientStats } from './ServiceClient.js';
export type {
  ClientCallEvent, ClientCallOutcome, ClientEjectionEvent, ClientInstanceTrafficEvent, ClientVipEvent, ServiceClientEvents,
} from '../common/ServiceClientEvents.js';
export type { ServiceRequest } from './ServiceRequest.js';
export type { ShadowTee } from './ShadowTee.js';
export type { ServiceResponse } from './TryOutcome.js';
export { resolveServiceClientOptions } from './ServiceClientOptions.js';
export type {
  HedgingOptions,
  PoolOptions,
  ResolvedHedgingOptions,
  ResolvedRetryOptions,
  ResolvedServiceClientOptions,
  RetryOptions,
  ServiceClientOptions,
} from './ServiceClientOptions.js';
export { RetryBudget, resolveRetryBudgetOptions } from './RetryBudget.js';
export type { ResolvedRetryBudgetOptions, RetryBudgetOptions } from './RetryBudget.js';
export { FetchResponseBody } from './FetchTransport.js';
export type { FetchFunction, FetchHeadersLike, FetchInit, FetchResponseLike } from './FetchTransport.js';
export type { RequestBody, ResponseBody, ResponseHeaders } from './Transport.js';
export type { ServiceFetchInit } from './fetchAdapter.js';
export { instancesReport, registerInstancesRoute } from './registerInstancesRoute.js';
export type { InstancesReport, InstancesRouteOptions } from './registerInstancesRoute.js';
export * from './shadow/index.js';
