export { SHADOW_HEADER, isShadowRequest } from './isShadowRequest.js';
export type { HeadersHolder, HeadersSource } from './isShadowRequest.js';
export { ShadowTraffic, createShadowTraffic } from './ShadowTraffic.js';
export { mergeShadowSettings, resolveShadowSettings } from './ShadowOptions.js';
export type {
  ResolvedHeaderRule,
  ResolvedShadowCompareOptions,
  ResolvedShadowNoiseOptions,
  ResolvedShadowRoute,
  ResolvedShadowSettings,
  ShadowCompareOptions,
  ShadowNoiseOptions,
  ShadowRoute,
  ShadowSettings,
  ShadowTrafficOptions,
} from './ShadowOptions.js';
export { FieldPattern } from './FieldPattern.js';
export type { PathSegment } from './FieldPattern.js';
export { expressShadowMiddleware, fastifyShadowHook, shadowMiddleware } from './shadowMiddleware.js';
export type { ShadowFastifyReply, ShadowFastifyRequest } from './shadowMiddleware.js';
export { shadowAdminRoutes } from './shadowAdminRoutes.js';
export type { ShadowDifference, ShadowNoiseReport, ShadowReport, ShadowResponseView, ShadowTargetReport } from './types.js';
export type {
  ShadowAnswerEvent, ShadowComparisonEvent, ShadowCopyEvent, ShadowCopyOutcome, ShadowMetrics, ShadowSkipEvent, ShadowTrafficEvents,
} from '../../common/ShadowTrafficEvents.js';
