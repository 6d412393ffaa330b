import type { Command, CommandFallback } from './Command.js';
import type { AnyFunction, CoreFallback } from './CommandCore.js';
import { commandMarker } from './CommandCore.js';
import type { CommandHandle } from './CommandHandle.js';

/** True when `value` is a callable made by {@link createCommand}. */
export function isCommand(value: unknown): value is Command<never[], unknown> {
  return typeof value === 'function' && (value as unknown as Record<symbol, unknown>)[commandMarker] === true;
}

/**
 * Makes the callable face of a command: a function that runs `fn` through the handle's core, carrying the
 * handle's controls as its own properties. `withSignal` passes a per-call AbortSignal as `fn`'s first argument.
 */
export function createCommand<A extends readonly unknown[], R>(
  handle: CommandHandle,
  fn: AnyFunction,
  fallback: CommandFallback<A, R> | undefined,
  withSignal: boolean,
): Command<A, R> {
  const core = handle.core;
  const coreFallback = fallback as CoreFallback;
  // A plain function (not an arrow) so `obj.command(...)` passes `obj` on as `this`.
  const command = function (this: unknown, ...args: unknown[]): Promise<unknown> {
    return core.run(fn, this, args, withSignal, coreFallback, undefined);
  } as unknown as Command<A, R>;
  const forward = <K extends 'execute' | 'forceOpen' | 'forceClosed' | 'reset' | 'setOptions' | 'snapshot'>(key: K) => ({
    value: (handle[key] as (...args: unknown[]) => unknown).bind(handle),
  });
  const listen = (key: 'on' | 'once' | 'off') => ({
    value(event: never, listener: never) {
      handle[key](event, listener);
      return command;
    },
  });
  Object.defineProperties(command, {
    [commandMarker]: { value: true },
    name: { value: handle.name },
    group: { get: () => handle.group, enumerable: true },
    state: { get: () => handle.state, enumerable: true },
    settings: { get: () => handle.settings, enumerable: true },
    overrides: { get: () => handle.overrides, enumerable: true },
    execute: forward('execute'),
    forceOpen: forward('forceOpen'),
    forceClosed: forward('forceClosed'),
    reset: forward('reset'),
    setOptions: forward('setOptions'),
    snapshot: forward('snapshot'),
    on: listen('on'),
    once: listen('once'),
    off: listen('off'),
  });
  return command;
}
