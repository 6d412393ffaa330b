import { KaryonError } from '../common/KaryonError.js';

// Decorators of this library are standard (TC39) ones. Projects compiled with `experimentalDecorators` (every
// NestJS project, whose own DI needs it) call them the legacy way instead, once per class with the prototype;
// these helpers let one decorator serve both.

/**
 * True when a decorator was called the legacy way (`experimentalDecorators`, as NestJS projects compile):
 * `(prototype, key, descriptor)` instead of the standard `(method, context)`.
 */
export function isLegacyDecoratorCall(second: unknown): second is string | symbol {
  return typeof second === 'string' || typeof second === 'symbol';
}

/** The method a legacy decorator was given, or an error naming the decorator and the member. */
export function legacyMethod(decorator: string, target: object, key: string | symbol, descriptor: PropertyDescriptor | undefined): (...args: unknown[]) => unknown {
  const value: unknown = descriptor?.value;
  if (typeof value !== 'function') {
    const owner = typeof target === 'function' ? target.name : target.constructor.name;
    throw new KaryonError('ERR_INVALID_COMPONENT', `${decorator} decorates methods, and ${owner}.${String(key)} is not a method`);
  }
  return value as (...args: unknown[]) => unknown;
}

