import { describe, expect, it } from 'vitest';
import { silentLogger } from 'karyon-ts/extend';
import { Lifecycle } from '../../src/lifecycle/Lifecycle.js';
import type { LifecycleParts, Registrar } from '../../src/lifecycle/Lifecycle.js';
import { ShutdownStack } from '../../src/lifecycle/ShutdownStack.js';
import type { InstanceDescriptor, InstanceStatus } from 'karyon-ts';
import { ManualClock } from '../../src/testing/index.js';

// The lifecycle core on its narrow interfaces alone: a recording registrar, a readiness flag, a shutdown stack.
// No admin server, metrics sink, HTTP server or Eureka client is made.

const descriptor = { instanceId: 'core-1', app: 'CORE', vipAddress: 'core', port: 8080 } as unknown as InstanceDescriptor;

function makeCore(overrides: Partial<LifecycleParts> = {}) {
  const calls: string[] = [];
  const registrar: Registrar = {
    propagationDelayMs: 0,
    register: async (instance, status) => void calls.push(`register ${instance.instanceId} ${status}`),
    setStatus: async (id, status: InstanceStatus) => void calls.push(`status ${id} ${status}`),
    deregister: async (id) => void calls.push(`deregister ${id}`),
  };
  const readiness = { ready: true, runAll: async () => undefined, start: () => undefined, close: async () => void calls.push('health closed') };
  const shutdown = new ShutdownStack();
  const states: string[] = [];
  const lifecycle = new Lifecycle({
    name: 'core',
    instanceId: undefined,
    clock: new ManualClock(),
    logger: silentLogger,
    timings: { initializeTimeoutMs: 1000, shutdownTimeoutMs: 1000, deregistrationDelayMs: 0, maxDeregistrationDelayMs: undefined, quietPeriodMs: 0 },
    registrar,
    health: readiness,
    drain: undefined,
    shutdown,
    metrics: { state: () => undefined, transition: () => undefined, initializeDuration: () => undefined, shutdownDuration: () => undefined },
    open: [],
    describe: () => descriptor,
    flush: async () => void calls.push('flushed'),
    onStateChange: (change) => states.push(change.to),
    ...overrides,
  });
  return { lifecycle, calls, states, shutdown, readiness };
}

describe('ShutdownStack', () => {
  it('runs the phases in order, each last registered first, once, and goes on after a failure', async () => {
    const stack = new ShutdownStack();
    const ran: string[] = [];
    stack.add('owned', 'registry', () => void ran.push('owned: registry'));
    stack.add('clients', 'commands', () => void ran.push('clients: commands'));
    stack.add('owned', 'metrics', () => {
      ran.push('owned: metrics');
      throw new Error('metrics broke');
    });
    stack.add('drain', 'requests', async () => void ran.push('drain: requests'));
    stack.add('clients', 'clients', (fail) => {
      ran.push('clients: clients');
      fail("closing the client of 'a'", new Error('a broke'));
    });
    const failures: string[] = [];
    await stack.run((what, error) => failures.push(`${what}: ${(error as Error).message}`));
    expect(ran).toEqual(['drain: requests', 'clients: clients', 'clients: commands', 'owned: metrics', 'owned: registry']);
    expect(failures).toEqual(["closing the client of 'a': a broke", 'metrics: metrics broke']);
    await stack.run(() => undefined);
    expect(ran).toHaveLength(5);
  });
});

describe('Lifecycle core without admin, metrics or Eureka', () => {
  it('registers STARTING, runs the hooks, goes UP, and stops through its shutdown stack in order', async () => {
    const { lifecycle, calls, states, shutdown } = makeCore();
    shutdown.add('owned', 'owned thing', () => void calls.push('owned closed'));
    lifecycle.onInitialize(async () => void calls.push('initialized'), {});
    lifecycle.onShutdown(async () => void calls.push('shutdown hook'), {});
    await lifecycle.start();
    expect(lifecycle.state).toBe('UP');
    await lifecycle.stop();
    expect(states).toEqual(['UP', 'SHUTTING_DOWN', 'STOPPED']);
    expect(calls).toEqual([
      'register core-1 STARTING',
      'initialized',
      'status core-1 UP',
      'status core-1 DOWN',
      'health closed',
      'shutdown hook',
      'deregister core-1',
      'owned closed',
      'flushed',
    ]);
  });

  it('a failed initialize hook fails the start and skips the shutdown hooks added after it', async () => {
    const { lifecycle, calls } = makeCore();
    lifecycle.onShutdown(async () => void calls.push('undo first'), {});
    lifecycle.onInitialize(async () => {
      throw new Error('no database');
    }, { name: 'db' });
    lifecycle.onShutdown(async () => void calls.push('undo db'), {});
    await expect(lifecycle.start()).rejects.toMatchObject({ code: 'ERR_HOOK_FAILED' });
    expect(lifecycle.state).toBe('FAILED');
    expect(calls).toContain('undo first');
    expect(calls).not.toContain('undo db');
    expect(calls).toContain('deregister core-1');
  });

  it('follows readiness and the operator: DOWN wins, markUp clears the operator', async () => {
    const { lifecycle, readiness, calls } = makeCore();
    await lifecycle.start();
    await lifecycle.setOperatorOutOfService(true);
    expect(lifecycle.state).toBe('OUT_OF_SERVICE');
    readiness.ready = false;
    lifecycle.reconcile('health changed');
    expect(lifecycle.state).toBe('DOWN');
    readiness.ready = true;
    await lifecycle.setOperatorOutOfService(false);
    expect(lifecycle.state).toBe('UP');
    expect(calls.filter((c) => c.startsWith('status'))).toEqual(['status core-1 UP', 'status core-1 OUT_OF_SERVICE', 'status core-1 DOWN', 'status core-1 UP']);
    await lifecycle.stop();
  });

  it('a stop before start closes what was made but runs no hook and deregisters nothing', async () => {
    const { lifecycle, calls, shutdown } = makeCore();
    lifecycle.onShutdown(async () => void calls.push('shutdown hook'), {});
    shutdown.add('owned', 'owned thing', () => void calls.push('owned closed'));
    await lifecycle.stop();
    expect(lifecycle.state).toBe('STOPPED');
    expect(calls).toEqual(['health closed', 'owned closed', 'flushed']);
    await expect(lifecycle.start()).rejects.toMatchObject({ code: 'ERR_INVALID_STATE' });
  });
});
