import type { Command, CommandFallback } from './Command.js';
import type { AnyFunction, CoreFallback } from './CommandCore.js';
import { Phase, commandMarker } from './CommandCore.js';
import type { CommandHandle } from './CommandHandle.js';

/** True when `value` is a command made by a registry's `command()` or `abortableCommand()` (a callable). */
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
  // A plain function (not an arrow) so `obj.command(...)` passes `obj` on as `this`. It invokes `fn` itself
  // rather than through the core, so an error thrown by `fn` captures one frame more than a bare call.
  const command = function (this: unknown, ...args: unknown[]): Promise<unknown> {
    const exec = core.enter(fn, this, args, withSignal, coreFallback, undefined, undefined);
    if (exec.phase !== Phase.RUNNING) return exec.promise;
    let result: unknown;
    try {
      result = exec.controller === undefined ? fn.apply(this, args as never[]) : fn.call(this, ...([exec.controller.signal, ...args] as never[]));
    } catch (error) {
      core.threw(exec, error);
      return exec.promise;
    }
    core.settle(exec, result);
    return exec.promise;
  } as unknown as Command<A, R>;
  const forward = <K extends 'execute' | 'run' | 'forceOpen' | 'forceClosed' | 'reset' | 'setOptions' | 'snapshot'>(key: K) => ({
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
    run: forward('run'),
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
