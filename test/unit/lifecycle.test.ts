import { describe, expect, it } from 'vitest';
import { KaryonError, LifecycleState, allowedTransitions, canTransition, createService } from 'karyon-ts';
import { InMemoryRegistry } from 'karyon-ts/testing';
import { registryStatusOf } from '../../src/lifecycle/LifecycleState.js';
import type { LifecycleHook, ServiceOptions, StateChange } from 'karyon-ts';
import { ManualClock } from 'karyon-ts/testing';

function setup(overrides: Partial<ServiceOptions> = {}) {
  const clock = new ManualClock();
  const registry = new InMemoryRegistry({ clock });
  const service = createService({
    name: 'greeter',
    port: 8080,
    hostName: 'host-a',
    ipAddr: '10.0.0.1',
    admin: false,
    registry,
    clock,
    lifecycle: { deregistrationDelayMs: 0 },
    ...overrides,
  });
  const changes: StateChange[] = [];
  service.on('stateChange', (change) => changes.push(change));
  const path = () => changes.map((c) => c.to);
  const registryStatus = () => registry.instance('host-a:greeter:8080')?.status;
  return { clock, registry, service, changes, path, registryStatus };
}

/** A hook that resolves when told to, recording that it ran and whether its signal aborted. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const state = { ran: false, aborted: false };
  const hook: LifecycleHook = async (signal) => {
    state.ran = true;
    signal.addEventListener('abort', () => (state.aborted = true));
    await opened;
  };
  return { hook, open, state };
}

describe('transition table', () => {
  it('lists every state, and final states have no way out', () => {
    expect(Object.keys(allowedTransitions).sort()).toEqual(Object.values(LifecycleState).sort());
    expect(allowedTransitions.STOPPED).toEqual([]);
    expect(allowedTransitions.FAILED).toEqual([]);
    expect(canTransition('SHUTTING_DOWN', 'UP')).toBe(false);
    expect(canTransition('UP', 'OUT_OF_SERVICE')).toBe(true);
  });

  it('maps lifecycle states to registry statuses in one place', () => {
    expect(registryStatusOf('SHUTTING_DOWN')).toBe('DOWN');
    expect(registryStatusOf('OUT_OF_SERVICE')).toBe('OUT_OF_SERVICE');
    expect(registryStatusOf('STOPPED')).toBeUndefined();
  });
});

describe('start', () => {
  it('registers STARTING before hooks run and UP only after all of them, in order', async () => {
    const { service, path, registryStatus } = setup();
    const order: string[] = [];
    const first = gate();
    service.onInitialize(async (signal) => {
      order.push('first');
      await first.hook(signal);
    });
    service.onInitialize(() => void order.push('second'));
    const started = service.start();
    await new Promise((resolve) => setImmediate(resolve));
    expect(service.status).toBe('STARTING');
    expect(registryStatus()).toBe('STARTING');
    expect(order).toEqual(['first']);
    first.open();
    await started;
    expect(order).toEqual(['first', 'second']);
    expect(service.status).toBe('UP');
    expect(registryStatus()).toBe('UP');
    expect(path()).toEqual(['UP']);
  });

  it('start() twice returns the same promise', async () => {
    const { service } = setup();
    const a = service.start();
    expect(service.start()).toBe(a);
    await a;
  });

  it('a hook that times out moves to FAILED, aborts its signal, unwinds and rejects with ERR_HOOK_TIMEOUT', async () => {
    const { clock, service, path, registry } = setup({ lifecycle: { initializeTimeoutMs: 5000, deregistrationDelayMs: 0 } });
    const slow = gate();
    const undone: string[] = [];
    service.onInitialize(() => undefined, { name: 'fast' });
    service.onShutdown(() => void undone.push('undo fast'));
    service.onInitialize(slow.hook, { name: 'slow' });
    service.onShutdown(() => void undone.push('undo slow'));
    const started = service.start();
    const outcome = started.catch((error: unknown) => error);
    await clock.advanceAsync(4999);
    expect(service.status).toBe('STARTING');
    await clock.advanceAsync(1);
    const error = await outcome;
    expect(error).toBeInstanceOf(KaryonError);
    expect((error as KaryonError).code).toBe('ERR_HOOK_TIMEOUT');
    expect((error as KaryonError).message).toContain("'slow'");
    expect(slow.state.aborted).toBe(true);
    expect(service.status).toBe('FAILED');
    expect(path()).toEqual(['FAILED']);
    // Only the shutdown hook of the initialize hook that finished runs.
    expect(undone).toEqual(['undo fast']);
    expect(registry.instances()).toEqual([]);
  });

  it('a hook that throws rejects with ERR_HOOK_FAILED carrying the cause', async () => {
    const { service } = setup();
    const cause = new Error('database unreachable');
    service.onInitialize(() => {
      throw cause;
    }, { name: 'db' });
    const error = (await service.start().catch((e: unknown) => e)) as KaryonError;
    expect(error.code).toBe('ERR_HOOK_FAILED');
    expect(error.cause).toBe(cause);
    expect(error.message).toContain('database unreachable');
    expect(service.status).toBe('FAILED');
    await service.stop(); // stop after a failed start is a no-op
    expect(service.status).toBe('FAILED');
  });

  it("a KaryonError from a call the hook made is wrapped too: ERR_HOOK_FAILED names the hook, the call's error is the cause", async () => {
    const { service } = setup();
    const cause = new KaryonError('ERR_NO_INSTANCES', "no instance of 'users' is available");
    service.onInitialize(() => Promise.reject(cause), { name: 'warm-cache' });
    const error = (await service.start().catch((e: unknown) => e)) as KaryonError;
    expect(error.code).toBe('ERR_HOOK_FAILED');
    expect(error.message).toContain("initialize hook 'warm-cache' failed: no instance of 'users' is available");
    expect(error.cause).toBe(cause);
  });

  it("aborting start()'s signal fails the start like any failure: FAILED, unwound, deregistered", async () => {
    const { service, registry, path } = setup();
    const ran: string[] = [];
    service.onInitialize(() => {
      ran.push('connected');
    });
    service.onShutdown(() => {
      ran.push('disconnected');
    });
    service.onInitialize((signal) => new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error))), { name: 'slow' });
    const controller = new AbortController();
    const starting = service.start(controller.signal);
    await new Promise((resolve) => setImmediate(resolve));
    expect(registry.instances()).toHaveLength(1);
    controller.abort();
    await expect(starting).rejects.toMatchObject({ code: 'ERR_START_ABORTED' });
    expect(service.status).toBe('FAILED');
    expect(path()).toEqual(['FAILED']);
    expect(ran).toEqual(['connected', 'disconnected']);
    expect(registry.instances()).toEqual([]);
    await service.stop(); // nothing left to do
    expect(service.status).toBe('FAILED');
  });

  it('makes clients while stopping until it closes them, and none after a failed start', async () => {
    const { service, clock } = setup({ lifecycle: { deregistrationDelayMs: 1000 } });
    await service.start();
    const stopping = service.stop();
    // The deregistration delay: still serving, and a first call to a new target needs a client.
    expect(service.client('late-target').vip).toBe('late-target');
    await clock.advanceAsync(1000);
    await stopping;
    expect(() => service.client('after')).toThrow(/clients cannot be made once the service has closed its clients \(STOPPED\)/);

    const failed = setup().service;
    failed.onInitialize(() => {
      throw new Error('no');
    });
    await expect(failed.start()).rejects.toMatchObject({ code: 'ERR_HOOK_FAILED' });
    expect(() => failed.client('x')).toThrow(/\(FAILED\)/);
  });

  it('rejects hooks added after start()', async () => {
    const { service } = setup();
    await service.start();
    expect(() => service.onInitialize(() => undefined)).toThrow(/before start/);
  });

  it('goes DOWN instead of UP when a readiness check fails at start', async () => {
    const { service, registryStatus } = setup();
    service.addHealthCheck('db', () => false);
    await service.start();
    expect(service.status).toBe('DOWN');
    expect(registryStatus()).toBe('DOWN');
  });

  it('a liveness check does not hold back readiness', async () => {
    const { service } = setup();
    service.addHealthCheck('deadlock', () => false, { kind: 'liveness' });
    await service.start();
    expect(service.status).toBe('UP');
    expect(service.healthReport().live).toBe(false);
  });
});

describe('operator status', () => {
  it('OUT_OF_SERVICE and back, visible in the registry', async () => {
    const { service, registryStatus, path } = setup();
    await service.start();
    await service.markOutOfService();
    expect(service.status).toBe('OUT_OF_SERVICE');
    expect(registryStatus()).toBe('OUT_OF_SERVICE');
    await service.markUp();
    expect(service.status).toBe('UP');
    expect(registryStatus()).toBe('UP');
    expect(path()).toEqual(['UP', 'OUT_OF_SERVICE', 'UP']);
  });

  it('OUT_OF_SERVICE set while starting holds after the hooks finish', async () => {
    const { service } = setup();
    const hook = gate();
    service.onInitialize(hook.hook);
    const started = service.start();
    await new Promise((resolve) => setImmediate(resolve));
    await service.markOutOfService();
    expect(service.status).toBe('STARTING');
    hook.open();
    await started;
    expect(service.status).toBe('OUT_OF_SERVICE');
  });

  it('cannot be changed once stopping', async () => {
    const { service } = setup();
    await service.start();
    await service.stop();
    await expect(service.markUp()).rejects.toMatchObject({ code: 'ERR_INVALID_STATE' });
    await expect(service.markOutOfService()).rejects.toMatchObject({ code: 'ERR_INVALID_STATE' });
  });
});

describe('health drives the state', () => {
  it('readiness critical -> DOWN, recovered -> UP, with hysteresis', async () => {
    const { clock, service, registryStatus } = setup();
    let healthy = true;
    service.addHealthCheck('db', () => healthy, { intervalMs: 1000, failuresBeforeCritical: 2, successBeforePassing: 3 });
    await service.start();
    expect(service.status).toBe('UP');
    healthy = false;
    await clock.advanceAsync(1100);
    expect(service.status).toBe('UP'); // one failure is not enough
    await clock.advanceAsync(1100);
    expect(service.status).toBe('DOWN');
    expect(registryStatus()).toBe('DOWN');
    healthy = true;
    await clock.advanceAsync(1100);
    await clock.advanceAsync(1100);
    expect(service.status).toBe('DOWN'); // two successes are not enough
    await clock.advanceAsync(1100);
    expect(service.status).toBe('UP');
    expect(registryStatus()).toBe('UP');
  });

  it('recovering health does not undo an operator OUT_OF_SERVICE; only markUp() does', async () => {
    const { clock, service } = setup();
    let healthy = true;
    service.addHealthCheck('db', () => healthy, { intervalMs: 1000 });
    await service.start();
    await service.markOutOfService();
    healthy = false;
    await clock.advanceAsync(1100);
    expect(service.status).toBe('DOWN'); // DOWN wins over the override, as in Eureka
    healthy = true;
    await clock.advanceAsync(1100);
    expect(service.status).toBe('OUT_OF_SERVICE');
    await service.markUp();
    expect(service.status).toBe('UP');
  });

  it('markUp() while a readiness check is critical leaves the service DOWN', async () => {
    const { service } = setup();
    service.addHealthCheck('db', () => false);
    await service.start();
    await service.markOutOfService();
    expect(service.status).toBe('DOWN');
    await service.markUp();
    expect(service.status).toBe('DOWN');
  });
});

describe('stop', () => {
  it('runs in order: DOWN in the registry, wait, shutdown hooks in reverse, deregister, STOPPED', async () => {
    const { clock, service, registry, path } = setup({ lifecycle: { deregistrationDelayMs: 3000 } });
    const events: string[] = [];
    registry.onChange((change) => {
      for (const m of change.modified) events.push(`registry ${m.current.status}`);
      for (const r of change.removed) events.push(`registry removed ${r.instanceId}`);
    });
    service.onShutdown(() => void events.push('hook 1'));
    service.onShutdown(() => void events.push('hook 2'));
    await service.start();
    events.length = 0;
    const stopped = service.stop();
    await clock.advanceAsync(0);
    expect(service.status).toBe('SHUTTING_DOWN');
    expect(events).toEqual(['registry DOWN']);
    await clock.advanceAsync(2999);
    expect(events).toEqual(['registry DOWN']); // still waiting for clients to notice
    await clock.advanceAsync(1);
    await stopped;
    expect(events).toEqual(['registry DOWN', 'hook 2', 'hook 1', 'registry removed host-a:greeter:8080']);
    expect(path()).toEqual(['UP', 'SHUTTING_DOWN', 'STOPPED']);
  });

  it('does not wait again when the instance left UP long enough ago', async () => {
    const { clock, service } = setup({ lifecycle: { deregistrationDelayMs: 3000 } });
    await service.start();
    await service.markOutOfService();
    await clock.advanceAsync(5000);
    let done = false;
    const stopped = service.stop().then(() => (done = true));
    await clock.advanceAsync(0);
    expect(done).toBe(true);
    await stopped;
  });

  it('collects shutdown hook errors and timeouts, runs every hook, and still reaches STOPPED', async () => {
    const { clock, service } = setup({ lifecycle: { shutdownTimeoutMs: 1000, deregistrationDelayMs: 0 } });
    const ran: string[] = [];
    service.onShutdown(() => void ran.push('first'));
    service.onShutdown(() => new Promise(() => ran.push('hangs')), { name: 'hangs' });
    service.onShutdown(() => {
      ran.push('throws');
      throw new Error('boom');
    });
    await service.start();
    const outcome = service.stop().catch((error: unknown) => error);
    await clock.advanceAsync(1000);
    const error = (await outcome) as KaryonError;
    expect(ran).toEqual(['throws', 'hangs', 'first']);
    expect(error.code).toBe('ERR_SHUTDOWN');
    expect(error.errors).toHaveLength(2);
    expect(error.errors.map((e) => (e as KaryonError).code).sort()).toEqual(['ERR_HOOK_FAILED', 'ERR_HOOK_TIMEOUT']);
    expect(service.status).toBe('STOPPED');
  });

  it('is idempotent', async () => {
    const { service } = setup();
    await service.start();
    const a = service.stop();
    expect(service.stop()).toBe(a);
    await a;
    await service.stop();
    expect(service.status).toBe('STOPPED');
  });

  it('during start: aborts the running hook, start() rejects with ERR_START_ABORTED, and the service stops', async () => {
    const { service, registry, path } = setup();
    const hook = gate();
    const undone: string[] = [];
    service.onInitialize(hook.hook);
    service.onShutdown(() => void undone.push('undo'));
    const started = service.start().catch((error: unknown) => error);
    await new Promise((resolve) => setImmediate(resolve));
    await service.stop();
    expect(((await started) as KaryonError).code).toBe('ERR_START_ABORTED');
    expect(hook.state.aborted).toBe(true);
    expect(service.status).toBe('STOPPED');
    expect(path()).toEqual(['SHUTTING_DOWN', 'STOPPED']);
    expect(undone).toEqual([]); // its initialize hook never finished
    expect(registry.instances()).toEqual([]);
  });

  it('before start: stops without registering or running hooks', async () => {
    const { service, registry } = setup();
    let ran = false;
    service.onShutdown(() => void (ran = true));
    await service.stop();
    expect(service.status).toBe('STOPPED');
    expect(ran).toBe(false);
    expect(registry.instances()).toEqual([]);
    await expect(service.start()).rejects.toMatchObject({ code: 'ERR_INVALID_STATE' });
  });

  it('Symbol.asyncDispose stops the service', async () => {
    const { service } = setup();
    {
      await using disposable = service;
      await disposable.start();
    }
    expect(service.status).toBe('STOPPED');
  });
});

describe('options', () => {
  it('rejects bad options with a message naming the option', () => {
    for (const bad of [null, undefined, 'greeter', 42, []]) {
      expect(() => createService(bad as unknown as ServiceOptions)).toThrow(
        expect.objectContaining({ name: 'KaryonError', code: 'ERR_INVALID_OPTION', message: expect.stringMatching(/needs an options object/) }),
      );
    }
    expect(() => createService({ name: 'ok', registry: null as unknown as NonNullable<ServiceOptions['registry']> })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringMatching(/option 'registry'/) }),
    );
    expect(() => createService({ name: '' })).toThrow(/option 'name'/);
    expect(() => createService({ name: 'a b' })).toThrow(/option 'name'/);
    expect(() => createService({ name: 'ok', port: 70000 })).toThrow(/option 'port' must be an integer port/);
    expect(() => createService({ name: 'ok', lifecycle: { drainTimeoutMs: -1 } })).toThrow(/lifecycle.drainTimeoutMs/);
    expect(() => createService({ name: 'ok', admin: { token: '' } })).toThrow(/admin.token/);
    expect(() => createService({ name: 'ok', metadata: { n: 1 as unknown as string } })).toThrow(/metadata.n/);
  });

  it('describes the instance as real registries need it', async () => {
    const { service, registry } = setup({ zone: 'us-east-1a', version: '1.2.3', metadata: { team: 'core' } });
    await service.start();
    const instance = registry.instance('host-a:greeter:8080');
    expect(instance).toMatchObject({
      app: 'GREETER',
      vipAddress: 'greeter',
      hostName: 'host-a',
      ipAddr: '10.0.0.1',
      port: 8080,
      zone: 'us-east-1a',
      homePageUrl: 'http://host-a:8080/',
      metadata: { team: 'core', zone: 'us-east-1a', version: '1.2.3' },
    });
  });
});

describe('the advertised host', () => {
  const published = async (options: Partial<ServiceOptions>) => {
    const registry = new InMemoryRegistry();
    const service = createService({ name: 'greeter', port: 8080, admin: false, registry, lifecycle: { deregistrationDelayMs: 0 }, ...options });
    await service.start();
    const [instance] = registry.instancesByApp('greeter');
    await service.stop();
    return instance!;
  };

  it('defaults to an address another machine can reach, never loopback or a bare machine name', async () => {
    const { networkInterfaces } = await import('node:os');
    const external = Object.values(networkInterfaces())
      .flat()
      .filter((address) => address !== undefined && address.family === 'IPv4' && !address.internal)
      .map((address) => address!.address);
    const instance = await published({});
    expect(instance.hostName).toBe(instance.ipAddr);
    expect(instance.homePageUrl).toBe(`http://${instance.ipAddr}:8080/`);
    // On a host with a network (CI, any server), that is one of its non-internal addresses.
    if (external.length > 0) expect(external).toContain(instance.ipAddr);
    expect(instance.instanceId).toBe(`${instance.ipAddr}:greeter:8080`);
  });

  it('publishes the host name and IP address given, and the IP as host name with preferIpAddress', async () => {
    expect(await published({ hostName: 'greeter-1.pods.internal', ipAddr: '10.1.2.3' })).toMatchObject({
      hostName: 'greeter-1.pods.internal',
      ipAddr: '10.1.2.3',
      homePageUrl: 'http://greeter-1.pods.internal:8080/',
    });
    expect(await published({ hostName: 'greeter-1.pods.internal', ipAddr: '10.1.2.3', preferIpAddress: true })).toMatchObject({
      hostName: '10.1.2.3',
      ipAddr: '10.1.2.3',
      homePageUrl: 'http://10.1.2.3:8080/',
    });
    expect(() => createService({ name: 'greeter', admin: false, preferIpAddress: 'yes' as unknown as boolean })).toThrow(/preferIpAddress/);
  });
});
