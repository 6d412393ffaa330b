/**
 * NestJS integration: `KaryonModule` runs a Nest application as a karyon-ts service. Needs `@nestjs/common`
 * and `@nestjs/core` 11 (optional peer dependencies, loaded only by this entry point).
 * @packageDocumentation
 */
export { KaryonModule } from './KaryonModule.js';
export type { KaryonModuleAsyncOptions, KaryonModuleOptions } from './KaryonModuleOptions.js';
export { InjectConfig, InjectMetrics, InjectServiceClient, KARYON_CONFIG, KARYON_METRICS, KARYON_MODULE_OPTIONS, serviceClientToken } from './tokens.js';
export type { InjectDecorator } from './tokens.js';
