import type { HealthCheckFunction, HealthCheckOptions } from '../health/types.js';

/** Options of an initialize or shutdown hook. */
export interface HookOptions {
  /**
   * A name for logs and errors.
   * @default the function's name (`Class.method` for decorated methods)
   */
  readonly name?: string;
  /**
   * How long the hook may run, in ms; it receives a signal that aborts when the time is up.
   * @default the service's `lifecycle.initializeTimeoutMs` or `lifecycle.shutdownTimeoutMs`
   */
  readonly timeoutMs?: number;
}

/** A hook: receives a signal that aborts when its timeout passes or the service stops. */
export type LifecycleHook = (signal: AbortSignal) => unknown;

/** A member of a decorated component, recorded by the decorators for `service.register()`. */
export type ComponentMember =
  | { readonly kind: 'initialize'; readonly fn: LifecycleHook; readonly options: HookOptions }
  | { readonly kind: 'shutdown'; readonly fn: LifecycleHook; readonly options: HookOptions }
  | {
      readonly kind: 'healthCheck';
      readonly name: string;
      readonly fn: HealthCheckFunction;
      readonly options: HealthCheckOptions;
    };

const members = new WeakMap<object, ComponentMember[]>();

/** The decorated members recorded for `component`, in declaration order. */
export function componentMembers(component: object): readonly ComponentMember[] {
  return members.get(component) ?? [];
}

function record(component: object, member: ComponentMember): void {
  const list = members.get(component);
  if (list === undefined) members.set(component, [member]);
  else list.push(member);
}

function memberName(instance: object, context: { readonly name: string | symbol }): string {
  return `${instance.constructor.name}.${String(context.name)}`;
}

/** A standard (TC39) decorator of a method taking an optional `AbortSignal`, as `@initialize()` returns. */
export type HookMethodDecorator = <This extends object>(
  method: (this: This, signal: AbortSignal) => unknown,
  context: ClassMethodDecoratorContext<This, (this: This, signal: AbortSignal) => unknown>,
) => void;

/** A decorator recording a method as a hook of the given kind. */
function hookDecorator(kind: 'initialize' | 'shutdown', options: HookOptions): HookMethodDecorator {
  return function <This extends object>(
    method: (this: This, signal: AbortSignal) => unknown,
    context: ClassMethodDecoratorContext<This, (this: This, signal: AbortSignal) => unknown>,
  ): void {
    context.addInitializer(function (this: This) {
      record(this, {
        kind,
        fn: (signal) => method.call(this, signal),
        options: { name: memberName(this, context), ...options },
      });
    });
  };
}

/**
 * Marks a method as an initialize hook: `service.register(component)` adds it with `service.onInitialize()`.
 * Hooks run in declaration order; the instance stays STARTING until all have finished.
 *
 * @example
 * ```ts
 * class Greeter {
 *   @initialize({ timeoutMs: 5000 }) async warmCaches(signal: AbortSignal) { ... }
 * }
 * ```
 */
export function initialize(options: HookOptions = {}): HookMethodDecorator {
  return hookDecorator('initialize', options);
}

/**
 * Marks a method as a shutdown hook: `service.register(component)` adds it with `service.onShutdown()`.
 * Shutdown hooks run in reverse order of registration during `stop()`.
 */
export function onShutdown(options: HookOptions = {}): HookMethodDecorator {
  return hookDecorator('shutdown', options);
}

/**
 * Marks a method as a health check named `name`: `service.register(component)` adds it with
 * `service.addHealthCheck()`.
 */
export function healthCheck(name: string, options: HealthCheckOptions = {}) {
  return function <This extends object>(
    method: (this: This, signal: AbortSignal) => HealthMethodResult,
    context: ClassMethodDecoratorContext<This, (this: This, signal: AbortSignal) => HealthMethodResult>,
  ): void {
    context.addInitializer(function (this: This) {
      record(this, { kind: 'healthCheck', name, fn: (signal) => method.call(this, signal) as ReturnType<HealthCheckFunction>, options });
    });
  };
}

/**
 * What a decorated health check method may return: a {@link HealthCheckFunction}'s result, with `status` typed
 * as any string, since a method without a return type annotation infers `{ status: string }` from
 * `return { status: 'UP' }`. The value is checked when the check runs: a status other than `UP`, `WARN` or
 * `DOWN` is a failed check (`ERR_HEALTH_CHECK_FAILED`, counted DOWN).
 */
export type HealthMethodResult = boolean | HealthMethodReport | PromiseLike<boolean | HealthMethodReport>;

/** A decorated health check method's report: a {@link HealthResult} whose `status` is typed as any string. */
export interface HealthMethodReport {
  /** `UP`, `WARN` or `DOWN`; anything else fails the check when it runs. */
  readonly status: string;
  /** Anything useful to an operator; shown by the admin API. */
  readonly details?: Readonly<Record<string, unknown>>;
}
