import { KaryonError } from '../common/KaryonError.js';
import type { Command, CommandOptions } from './Command.js';
import type { CommandRegistry } from './CommandRegistry.js';
import { isLegacyDecoratorCall, legacyMethod } from '../internal/legacyDecorators.js';

/** Options of the {@link command} decorator: a command's options, a name, and a fallback method by name. */
export interface CommandDecoratorOptions extends Omit<CommandOptions, 'fallback'> {
  /**
   * The command's name.
   * @default `Class.method`
   */
  readonly name?: string;
  /**
   * The fallback: a function (called with the arguments, then the error), another command, or the name of a
   * method of the same object (called on it with the arguments, then the error).
   */
  readonly fallback?: string | CommandOptions['fallback'];
}

/** A method marked with `@command()`, recorded for {@link registerComponentCommands}. */
export interface ComponentCommand {
  /** The command's name. */
  readonly name: string;
  /** The method's key on the object. */
  readonly key: string | symbol;
  /** The original method, bound to the object. */
  readonly fn: (...args: unknown[]) => unknown;
  /** The decorator's options, with a method-name fallback resolved to a bound method. */
  readonly options: CommandOptions;
  /** Routes the method through `command` from now on (what `registerComponentCommands` calls). */
  bind(command: Command): void;
}

const recorded = new WeakMap<object, ComponentCommand[]>();
const bound = new WeakMap<object, Map<string | symbol, Command>>();

/** Methods marked by legacy (`experimentalDecorators`) calls, per prototype: they run with no instance. */
const prototypeCommands = new WeakMap<object, { key: string | symbol; method: (...args: unknown[]) => unknown; options: CommandDecoratorOptions }[]>();
const madeFromPrototypes = new WeakSet<object>();

/** The `@command()` methods recorded for `component`, in declaration order. */
export function componentCommands(component: object): readonly ComponentCommand[] {
  if (!madeFromPrototypes.has(component)) {
    const chain: object[] = [];
    for (let proto = Object.getPrototypeOf(component) as object | null; proto !== null; proto = Object.getPrototypeOf(proto) as object | null) {
      if (prototypeCommands.has(proto)) chain.unshift(proto);
    }
    const made = chain.flatMap((proto) => prototypeCommands.get(proto)!.map((entry) => commandMember(component, entry.key, entry.method, entry.options)));
    madeFromPrototypes.add(component);
    if (made.length > 0) recorded.set(component, [...made, ...(recorded.get(component) ?? [])]);
  }
  return recorded.get(component) ?? [];
}

/**
 * Makes commands of a component's `@command()` methods in `registry` and routes the methods through them:
 * after this, `component.method(...)` runs through the breaker, bulkhead and timeout. What
 * `service.register(component)` calls. Returns the commands made.
 *
 * @throws KaryonError `ERR_INVALID_OPTION` when a decorator's options are invalid or a fallback method is missing
 */
export function registerComponentCommands(registry: CommandRegistry, component: object): Command[] {
  const made: Command[] = [];
  for (const member of componentCommands(component)) {
    const command = registry.command(member.name, member.fn, member.options);
    member.bind(command);
    made.push(command);
  }
  return made;
}

/**
 * Marks a method as a Hystrix command (standard TC39 decorator). The method must return a promise. Once
 * the object is registered (`service.register(component)`, or {@link registerComponentCommands}) every call of
 * the method goes through the command; before that, it runs as written.
 *
 * @example
 * ```ts
 * class Users {
 *   @command({ timeoutMs: 300, fallback: 'guest' })
 *   async get(id: string): Promise<User> { return http.get(`/users/${id}`); }
 *   guest(): User { return GUEST; }
 * }
 * service.register(new Users());
 * ```
 */
export function command(options: CommandDecoratorOptions = {}): CommandMethodDecorator {
  return function (methodOrTarget: object, context: unknown, descriptor?: PropertyDescriptor): unknown {
    if (isLegacyDecoratorCall(context)) {
      const method = legacyMethod('@command()', methodOrTarget, context, descriptor);
      const list = prototypeCommands.get(methodOrTarget);
      const entry = { key: context, method, options };
      if (list === undefined) prototypeCommands.set(methodOrTarget, [entry]);
      else list.push(entry);
      return { ...descriptor, value: routed(context, method) };
    }
    const method = methodOrTarget as (...args: unknown[]) => unknown;
    const key = (context as ClassMethodDecoratorContext).name;
    (context as ClassMethodDecoratorContext).addInitializer(function (this: unknown) {
      const instance = this as object;
      record(instance, commandMember(instance, key, method, options));
    });
    return routed(key, method);
  } as CommandMethodDecorator;
}

/**
 * What `@command()` returns: a standard (TC39) method decorator that also works as a legacy one in projects
 * compiled with `experimentalDecorators` (NestJS projects).
 */
export interface CommandMethodDecorator {
  /** Applied as a standard (TC39) decorator: returns the method that routes through the command. */
  <This extends object, A extends unknown[], R extends PromiseLike<unknown>>(
    method: (this: This, ...args: A) => R,
    context: ClassMethodDecoratorContext<This, (this: This, ...args: A) => R>,
  ): (this: This, ...args: A) => R;
  /** Applied as a legacy decorator (`experimentalDecorators`): returns the descriptor of the routed method. */
  (target: object, propertyKey: string | symbol, descriptor: PropertyDescriptor): PropertyDescriptor;
}

/** The method that runs through the object's command once it is bound, and as written before. */
function routed(key: string | symbol, method: (...args: unknown[]) => unknown) {
  return function (this: object, ...args: unknown[]): unknown {
    const cmd = bound.get(this)?.get(key);
    return cmd === undefined ? method.apply(this, args) : cmd(...args);
  };
}

function record(instance: object, member: ComponentCommand): void {
  const list = recorded.get(instance);
  if (list === undefined) recorded.set(instance, [member]);
  else list.push(member);
}

/** What `@command()` records for one method of one object. */
function commandMember(instance: object, key: string | symbol, method: (...args: unknown[]) => unknown, options: CommandDecoratorOptions): ComponentCommand {
  const className = instance.constructor.name;
  const { name, fallback, ...rest } = options;
  let resolvedFallback: CommandOptions['fallback'];
  if (typeof fallback === 'string') {
    const target = (instance as Record<string, unknown>)[fallback];
    if (typeof target !== 'function') {
      throw new KaryonError(
        'ERR_INVALID_OPTION',
        `fallback '${fallback}' of @command() on ${className}.${String(key)} is not a method of ${className}`,
      );
    }
    resolvedFallback = (...args: unknown[]) => (target as (...a: unknown[]) => unknown).apply(instance, args);
  } else {
    resolvedFallback = fallback;
  }
  return {
    name: name ?? `${className}.${String(key)}`,
    key,
    fn: (...args: unknown[]) => method.apply(instance, args),
    options: { group: className, ...rest, ...(resolvedFallback === undefined ? {} : { fallback: resolvedFallback }) },
    bind(cmd) {
      let map = bound.get(instance);
      if (map === undefined) bound.set(instance, (map = new Map<string | symbol, Command>()));
      map.set(key, cmd);
    },
  };
}
