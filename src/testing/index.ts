/**
 * Test helpers, imported from `karyon-ts/testing`: an in-memory registry and a clock moved by hand.
 * @packageDocumentation
 */
export { InMemoryRegistry } from '../registry/InMemoryRegistry.js';
export type { InMemoryRegistryOptions } from '../registry/InMemoryRegistry.js';
export { ManualClock } from './ManualClock.js';
