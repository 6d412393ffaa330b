import { describe, expect, it } from 'vitest';
import { componentMembers } from '../../src/lifecycle/decorators.js';
import { InMemoryRegistry } from 'karyon-ts/testing';
import {
  createService,
  healthCheck,
  initialize,
  onShutdown,
  CommandRegistry,
  command,
  componentCommands,
  KaryonError,
} from 'karyon-ts';

// The decorators called the way TypeScript calls them under experimentalDecorators (NestJS projects): once per
// class, with (prototype, key, descriptor), as `__decorate` does. test/integration/nest.test.ts compiles a real
// project with those settings.

/** What TypeScript's `__decorate` does for a method decorator. */
function decorateLegacy(prototype: object, key: string, decorator: (target: object, key: string, descriptor: PropertyDescriptor) => unknown): void {
  const descriptor = Object.getOwnPropertyDescriptor(prototype, key)!;
  const result = decorator(prototype, key, descriptor) as PropertyDescriptor | undefined;
  if (result !== undefined) Object.defineProperty(prototype, key, result);
}

class Base {
  log: string[] = [];
  async open(): Promise<void> {
    this.log.push('base open');
  }
}
decorateLegacy(Base.prototype, 'open', initialize({ timeoutMs: 500 }));

class Store extends Base {
  down = false;
  async load(signal: AbortSignal): Promise<void> {
    this.log.push(`load ${signal.aborted}`);
  }
  ready(): { status: string } {
    return { status: this.down ? 'DOWN' : 'UP' };
  }
  close(): void {
    this.log.push('close');
  }
  async get(id: string): Promise<string> {
    if (this.down) throw new Error('store down');
    return `item ${id}`;
  }
  cached(id: string): string {
    return `cached ${id}`;
  }
}
decorateLegacy(Store.prototype, 'load', initialize());
decorateLegacy(Store.prototype, 'ready', healthCheck('store'));
decorateLegacy(Store.prototype, 'close', onShutdown());
decorateLegacy(Store.prototype, 'get', command({ fallback: 'cached', timeoutMs: 200 }));

describe('decorators under experimentalDecorators', () => {
  it('records per class and binds per object: hooks, checks and commands of each instance, base classes first', async () => {
    const a = new Store();
    const b = new Store();
    expect(componentMembers(a).map((m) => [m.kind, m.kind === 'healthCheck' ? m.name : m.options.name])).toEqual([
      ['initialize', 'Store.open'],
      ['initialize', 'Store.load'],
      ['healthCheck', 'store'],
      ['shutdown', 'Store.close'],
    ]);
    expect(componentMembers(a)).toBe(componentMembers(a));
    await componentMembers(b)[1]!.fn(new AbortController().signal);
    expect(b.log).toEqual(['load false']);
    expect(a.log).toEqual([]);
    expect(componentCommands(a).map((c) => c.name)).toEqual(['Store.get']);
    expect(componentCommands(a)).toBe(componentCommands(a));
    expect(componentMembers(new Base()).map((m) => m.kind)).toEqual(['initialize']);
  });

  it('a service runs them: initialize in order, health follows the method, @command routes through a breaker with the fallback', async () => {
    const store = new Store();
    const service = createService({ name: 'legacy', registry: new InMemoryRegistry(), admin: false, logger: false });
    service.register(store);
    expect(await store.get('1')).toBe('item 1');
    await service.start();
    expect(store.log).toEqual(['base open', 'load false']);
    expect(service.status).toBe('UP');
    store.down = true;
    expect(await store.get('2')).toBe('cached 2'); // the command's fallback, by method name
    expect(service.commands.get('Store.get')).toBeDefined();
    await service.stop();
    expect(store.log).toEqual(['base open', 'load false', 'close']);
  });

  it('a command outside a service runs as written, and a missing fallback method is named', async () => {
    const registry = new CommandRegistry();
    expect(await new Store().get('3')).toBe('item 3');
    class Broken {
      async get(): Promise<string> {
        return 'x';
      }
    }
    decorateLegacy(Broken.prototype, 'get', command({ fallback: 'nothing' }));
    expect(() => componentCommands(new Broken())).toThrow(/fallback 'nothing' of @command\(\) on Broken.get is not a method of Broken/);
    await registry.close();
  });

  it('a decorator on something that is not a method says so', () => {
    class Odd {
      value = 1;
    }
    expect(() => initialize()(Odd.prototype, 'value', { value: 1 })).toThrow(KaryonError);
    expect(() => healthCheck('x')(Odd.prototype, 'value', { get: () => 1 })).toThrow(/@healthCheck\(\) decorates methods, and Odd.value is not a method/);
  });
});
