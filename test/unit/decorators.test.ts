import { describe, expect, it } from 'vitest';
import { createService, healthCheck, initialize, onShutdown } from 'karyon-ts';
import { InMemoryRegistry } from 'karyon-ts/testing';
import type { HealthResult } from 'karyon-ts';
import { ManualClock } from 'karyon-ts/testing';

class Cache {
  readonly log: string[] = [];
  warm = false;

  @initialize({ timeoutMs: 1000 })
  async connect(signal: AbortSignal): Promise<void> {
    this.log.push(`connect aborted=${signal.aborted}`);
    await Promise.resolve();
  }

  @initialize()
  warmUp(): void {
    this.warm = true;
    this.log.push('warm');
  }

  @healthCheck('cache', { kind: 'readiness' })
  check(): HealthResult {
    return { status: this.warm ? 'UP' : 'DOWN' };
  }

  @onShutdown()
  disconnect(): void {
    this.log.push('disconnect');
  }
}

/** The form product docs show, with no return type annotation: `status` is inferred as a string. */
class Database {
  up = true;

  @healthCheck('db', { intervalMs: 1000 })
  async db() {
    await Promise.resolve();
    return { status: this.up ? 'UP' : 'SIDEWAYS' };
  }
}

describe('decorators', () => {
  it('take a health check method without a return type annotation, and check its status when it runs', async () => {
    const clock = new ManualClock();
    const db = new Database();
    const service = createService({ name: 'db', admin: false, clock, registry: new InMemoryRegistry({ clock }), lifecycle: { deregistrationDelayMs: 0 } });
    await service.register(db).start();
    expect(service.status).toBe('UP');
    db.up = false;
    // The next run is due within the interval, spread by jitter.
    for (let i = 0; i < 6 && service.healthReport().checks.db?.status !== 'CRITICAL'; i++) await clock.advanceAsync(500);
    const check = service.healthReport().checks.db;
    expect(check).toMatchObject({ status: 'CRITICAL' });
    expect(check?.lastError).toContain('SIDEWAYS');
    expect(service.status).toBe('DOWN');
    await service.stop();
  });

  it('register the decorated methods, bound to the instance, through the plain API', async () => {
    const clock = new ManualClock();
    const cache = new Cache();
    const service = createService({ name: 'deco', admin: false, clock, registry: new InMemoryRegistry({ clock }), lifecycle: { deregistrationDelayMs: 0 } });
    await service.register(cache).start();
    expect(cache.log).toEqual(['connect aborted=false', 'warm']);
    expect(service.status).toBe('UP');
    expect(service.healthReport().checks.cache?.status).toBe('PASSING');
    await service.stop();
    expect(cache.log.at(-1)).toBe('disconnect');
  });

  it('two instances of a component keep their own hooks', async () => {
    const a = new Cache();
    const b = new Cache();
    const service = createService({ name: 'deco', admin: false, lifecycle: { deregistrationDelayMs: 0 } });
    service.register(a);
    await service.start();
    expect(a.warm).toBe(true);
    expect(b.warm).toBe(false);
    await service.stop();
  });

  it('registering an object without decorated methods is an error naming its class', () => {
    class Plain {}
    const service = createService({ name: 'deco', admin: false });
    expect(() => service.register(new Plain())).toThrow(/Plain has no @initialize/);
  });
});
