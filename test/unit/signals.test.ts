// installSignalHandlers with real signals sent to this test process. Each test keeps a listener of its own on
// the signal it sends (so the process never takes the default action and dies) and waits for that listener,
// which runs after the handler under test, before looking at what the handler did.
import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { installSignalHandlers } from 'karyon-ts';

/** A service whose stop() the test settles by hand, counting the calls. */
function controlledService() {
  let settle!: { resolve: () => void; reject: (error: unknown) => void };
  const stopped = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });
  const service = {
    stops: 0,
    stop(): Promise<void> {
      service.stops++;
      return stopped;
    },
  };
  return { service, stopped, settle };
}

/** Sends `signal` to this process and resolves once every listener, the handler under test included, ran. */
async function deliver(signal: NodeJS.Signals): Promise<void> {
  const delivered = once(process, signal);
  process.kill(process.pid, signal);
  await delivered;
}

/** Lets the handlers attached to an already settled stop() promise run. */
const settled = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('installSignalHandlers', () => {
  let exitCode: typeof process.exitCode;
  const disposers: (() => void)[] = [];
  const counts = (): [number, number] => [process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')];
  let before: [number, number];

  beforeEach(() => {
    exitCode = process.exitCode;
    before = counts();
  });
  afterEach(() => {
    for (const dispose of disposers.splice(0)) dispose();
    process.exitCode = exitCode;
  });

  it('SIGINT stops the service once, ignores signals while it stops, and removes its handlers once stopped', async () => {
    const { service, settle } = controlledService();
    disposers.push(installSignalHandlers(service));
    expect(counts()).toEqual([before[0] + 1, before[1] + 1]);

    await deliver('SIGINT');
    expect(service.stops).toBe(1);
    await deliver('SIGINT'); // an impatient second Ctrl-C
    await deliver('SIGTERM');
    expect(service.stops).toBe(1);

    settle.resolve();
    await settled();
    expect(counts()).toEqual(before);
    expect(process.exitCode).toBe(exitCode);
  });

  it('SIGTERM whose stop() rejects sets exit code 1, reports the error to onError, and removes the handlers', async () => {
    const { service, settle } = controlledService();
    const errors: unknown[] = [];
    disposers.push(installSignalHandlers(service, { onError: (error) => errors.push(error) }));

    await deliver('SIGTERM');
    expect(service.stops).toBe(1);
    expect(process.exitCode).toBe(exitCode);
    const failure = new Error('a shutdown hook failed');
    settle.reject(failure);
    await settled();

    expect(process.exitCode).toBe(1);
    expect(errors).toEqual([failure]);
    expect(counts()).toEqual(before);
  });

  it('sets exit code 1 when stop() rejects even without onError', async () => {
    const { service, settle } = controlledService();
    disposers.push(installSignalHandlers(service));
    await deliver('SIGINT');
    settle.reject(new Error('drain failed'));
    await settled();
    expect(process.exitCode).toBe(1);
  });

  it('the disposer removes the handlers: a later signal does not stop the service', async () => {
    const { service } = controlledService();
    const dispose = installSignalHandlers(service);
    dispose();
    expect(counts()).toEqual(before);
    await deliver('SIGTERM');
    await deliver('SIGINT');
    expect(service.stops).toBe(0);
    dispose(); // idempotent
    expect(counts()).toEqual(before);
  });

  it('listens only to the signals it is given', async () => {
    const { service, settle } = controlledService();
    disposers.push(installSignalHandlers(service, { signals: ['SIGHUP'] }));
    expect(counts()).toEqual(before);
    await deliver('SIGTERM');
    expect(service.stops).toBe(0);
    await deliver('SIGHUP');
    expect(service.stops).toBe(1);
    settle.resolve();
    await settled();
    expect(process.listenerCount('SIGHUP')).toBe(0);
  });
});
