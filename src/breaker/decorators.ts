import { KaryonError } from '../common/KaryonError.js';
import type { Command, CommandOptions } from './Command.js';
import type { CommandRegistry } from './CommandRegistry.js';

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

/** The `@command()` methods recorded for `component`, in declaration order. */
export function componentCommands(component: object): readonly ComponentCommand[] {
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
export function command(options: CommandDecoratorOptions = {}) {
  return function <This extends object, A extends unknown[], R extends PromiseLike<unknown>>(
    method: (this: This, ...args: A) => R,
    context: ClassMethodDecoratorContext<This, (this: This, ...args: A) => R>,
  ): (this: This, ...args: A) => R {
    const key = context.name;
    context.addInitializer(function (this: This) {
      const className = this.constructor.name;
      const { name, fallback, ...rest } = options;
      // The initializer's `this` is the new object; the closures below outlive this call.
      // eslint-disable-next-line @typescript-eslint/no-this-alias
      const instance = this;
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
      const member: ComponentCommand = {
        name: name ?? `${className}.${String(key)}`,
        key,
        fn: (...args: unknown[]) => method.apply(instance, args as A),
        options: { group: className, ...rest, ...(resolvedFallback === undefined ? {} : { fallback: resolvedFallback }) },
        bind(cmd) {
          let map = bound.get(instance);
          if (map === undefined) bound.set(instance, (map = new Map<string | symbol, Command>()));
          map.set(key, cmd);
        },
      };
      const list = recorded.get(instance);
      if (list === undefined) recorded.set(instance, [member]);
      else list.push(member);
    });
    return function (this: This, ...args: A): R {
      const cmd = bound.get(this)?.get(key);
      return cmd === undefined ? method.apply(this, args) : (cmd(...args) as unknown as R);
    };
  };
}
