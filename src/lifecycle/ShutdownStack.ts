// How a service is taken apart: whoever creates a resource registers how to close it, in the phase it belongs
// to, and stop() runs the phases in order, each phase's closes in the reverse order they were added (fastify's
// onClose hooks). What was never made registers nothing, so no flag says who owns what.

/** The phases of a shutdown, in the order they run. */
export const shutdownPhases = ['drain', 'hooks', 'clients', 'deregister', 'admin', 'owned'] as const;

/**
 * A phase of a shutdown: `drain` (requests in flight), `hooks` (the shutdown hooks), `clients` (outbound calls:
 * clients, shadow traffic, commands), `deregister` (leave the registry), `admin` (the admin server and its
 * streams), `owned` (what the service made for itself: registry client, configuration, reporters).
 */
export type ShutdownPhase = (typeof shutdownPhases)[number];

/**
 * Closes one resource. A thrown error (or rejection) is reported as a failure of `name`; a close that has
 * several failures of its own (the shutdown hooks) reports them through `fail` and goes on.
 */
export type CloseFunction = (fail: (what: string, error: unknown) => void) => unknown;

interface Entry {
  readonly name: string;
  readonly close: CloseFunction;
}

/** The closes of a service's resources, by phase. Each runs at most once. */
export class ShutdownStack {
  readonly #phases = new Map<ShutdownPhase, Entry[]>(shutdownPhases.map((phase) => [phase, []]));

  /** Registers how to close a resource just made; it runs in `phase`, before the closes added earlier to it. */
  add(phase: ShutdownPhase, name: string, close: CloseFunction): void {
    this.#phases.get(phase)!.push({ name, close });
  }

  /**
   * Runs every phase in order, each phase's closes last added first, and empties the stack. Never throws: each
   * failure goes to `fail`, and the next close runs.
   */
  async run(fail: (what: string, error: unknown) => void): Promise<void> {
    for (const phase of shutdownPhases) {
      const entries = this.#phases.get(phase)!.splice(0).reverse();
      for (const entry of entries) {
        try {
          await entry.close(fail);
        } catch (error) {
          fail(entry.name, error);
        }
      }
    }
  }
}
