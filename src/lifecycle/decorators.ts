import { isLegacyDecoratorCall, legacyMethod } from '../internal/legacyDecorators.js';
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

/**
 * Members recorded by legacy (`experimentalDecorators`) decorators, which run once per class, on its prototype,
 * with no instance: each object's members are made from them the first time they are asked for.
 */
interface PrototypeMember {
  readonly key: string | symbol;
  readonly make: (instance: object, name: string) => ComponentMember;
}
const prototypeMembers = new WeakMap<object, PrototypeMember[]>();
const madeFromPrototypes = new WeakMap<object, readonly ComponentMember[]>();

/** The decorated members recorded for `component`, in declaration order (base classes first). */
export function componentMembers(component: object): readonly ComponentMember[] {
  const own = members.get(component) ?? [];
  const legacy = legacyMembers(component);
  if (legacy.length === 0) return own;
  return own.length === 0 ? legacy : [...legacy, ...own];
}

function legacyMembers(component: object): readonly ComponentMember[] {
  const made = madeFromPrototypes.get(component);
  if (made !== undefined) return made;
  const chain: PrototypeMember[][] = [];
  for (let proto = Object.getPrototypeOf(component) as object | null; proto !== null; proto = Object.getPrototypeOf(proto) as object | null) {
    const list = prototypeMembers.get(proto);
    if (list !== undefined) chain.unshift(list);
  }
  if (chain.length === 0) return [];
  const list = chain.flat().map((member) => member.make(component, `${component.constructor.name}.${String(member.key)}`));
  madeFromPrototypes.set(component, list);
  return list;
}

function record(component: object, member: ComponentMember): void {
  const list = members.get(component);
  if (list === undefined) members.set(component, [member]);
  else list.push(member);
}

function recordOnPrototype(prototype: object, member: PrototypeMember): void {
  const list = prototypeMembers.get(prototype);
  if (list === undefined) prototypeMembers.set(prototype, [member]);
  else list.push(member);
}

function memberName(instance: object, context: { readonly name: string | symbol }): string {
  return `${instance.constructor.name}.${String(context.name)}`;
}

/**
 * A decorator of a method taking an optional `AbortSignal`, as `@initialize()` returns. It works both as a
 * standard (TC39) decorator and, in projects compiled with `experimentalDecorators` (NestJS projects), as a
 * legacy method decorator.
 */
export interface HookMethodDecorator {
  /** Applied as a standard (TC39) decorator. */
  <This extends object>(
    method: (this: This, signal: AbortSignal) => unknown,
    context: ClassMethodDecoratorContext<This, (this: This, signal: AbortSignal) => unknown>,
  ): void;
  /** Applied as a legacy decorator (`experimentalDecorators`). */
  (target: object, propertyKey: string | symbol, descriptor: PropertyDescriptor): void;
}

/** A decorator recording a method as a hook of the given kind. */
function hookDecorator(kind: 'initialize' | 'shutdown', options: HookOptions): HookMethodDecorator {
  return function (methodOrTarget: object, context: unknown, descriptor?: PropertyDescriptor): void {
    if (isLegacyDecoratorCall(context)) {
      const method = legacyMethod(kind === 'initialize' ? '@initialize()' : '@onShutdown()', methodOrTarget, context, descriptor);
      recordOnPrototype(methodOrTarget, {
        key: context,
        make: (instance, name) => ({ kind, fn: (signal) => method.call(instance, signal), options: { name, ...options } }),
      });
      return;
    }
    const method = methodOrTarget as (signal: AbortSignal) => unknown;
    (context as ClassMethodDecoratorContext).addInitializer(function (this: unknown) {
      const instance = this as object;
      record(instance, {
        kind,
        fn: (signal) => method.call(instance, signal),
        options: { name: memberName(instance, context as ClassMethodDecoratorContext), ...options },
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
export function healthCheck(name: string, options: HealthCheckOptions = {}): HealthCheckMethodDecorator {
  return function (methodOrTarget: object, context: unknown, descriptor?: PropertyDescriptor): void {
    if (isLegacyDecoratorCall(context)) {
      const method = legacyMethod('@healthCheck()', methodOrTarget, context, descriptor);
      recordOnPrototype(methodOrTarget, {
        key: context,
        make: (instance) => ({ kind: 'healthCheck', name, fn: (signal) => method.call(instance, signal) as ReturnType<HealthCheckFunction>, options }),
      });
      return;
    }
    const method = methodOrTarget as (signal: AbortSignal) => HealthMethodResult;
    (context as ClassMethodDecoratorContext).addInitializer(function (this: unknown) {
      const instance = this as object;
      record(instance, { kind: 'healthCheck', name, fn: (signal) => method.call(instance, signal) as ReturnType<HealthCheckFunction>, options });
    });
  };
}

/**
 * What `@healthCheck()` returns: a standard (TC39) method decorator that also works as a legacy one in projects
 * compiled with `experimentalDecorators` (NestJS projects).
 */
export interface HealthCheckMethodDecorator {
  /** Applied as a standard (TC39) decorator. */
  <This extends object>(
    method: (this: This, signal: AbortSignal) => HealthMethodResult,
    context: ClassMethodDecoratorContext<This, (this: This, signal: AbortSignal) => HealthMethodResult>,
  ): void;
  /** Applied as a legacy decorator (`experimentalDecorators`). */
  (target: object, propertyKey: string | symbol, descriptor: PropertyDescriptor): void;
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
