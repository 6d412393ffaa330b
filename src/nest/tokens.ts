import { Inject } from '@nestjs/common';

/** The injection token of the module's resolved options. */
export const KARYON_MODULE_OPTIONS = 'karyon-ts:nest:options';
/** The injection token of the service's `Metrics` (what `@InjectMetrics()` injects). */
export const KARYON_METRICS = 'karyon-ts:nest:metrics';
/** The injection token of the configuration passed as `config` (what `@InjectConfig()` injects). */
export const KARYON_CONFIG = 'karyon-ts:nest:config';

/** The injection token of the service client of `vip` (what `@InjectServiceClient(vip)` injects). */
export function serviceClientToken(vip: string): string {
  return `karyon-ts:nest:client:${vip}`;
}

/** A constructor parameter or property decorator injecting a provider, as Nest's `@Inject()` returns. */
export type InjectDecorator = ReturnType<typeof Inject>;

/**
 * Injects the `ServiceClient` of `vip`, made by `service.client(vip)` with the options given for it in
 * `KaryonModule.forRoot({ clients })` (the VIP address must be listed there).
 *
 * @example
 * ```ts
 * @Injectable()
 * class Quotes {
 *   constructor(@InjectServiceClient('pricing') private readonly pricing: ServiceClient) {}
 * }
 * ```
 */
export function InjectServiceClient(vip: string): InjectDecorator {
  return Inject(serviceClientToken(vip));
}

/** Injects the service's `Metrics` (`service.metrics`). */
export function InjectMetrics(): InjectDecorator {
  return Inject(KARYON_METRICS);
}

/**
 * Injects the dynamic configuration given as `config` to `KaryonModule.forRoot()` (`undefined` when none was
 * given); read live values with `config.property(key)`.
 */
export function InjectConfig(): InjectDecorator {
  return Inject(KARYON_CONFIG);
}
