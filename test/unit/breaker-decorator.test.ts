import { describe, expect, it } from 'vitest';
import { CommandRegistry, command, componentCommands, registerComponentCommands } from 'karyon-ts';
import { ManualClock } from 'karyon-ts/testing';

class Users {
  down = false;
  calls = 0;

  @command({ timeoutMs: 200, fallback: 'guest', requestVolumeThreshold: 3 })
  async get(id: string): Promise<string> {
    this.calls++;
    if (this.down) throw new Error(`users down (${id})`);
    return `user ${id}`;
  }

  guest(id: string, error: unknown): string {
    return `guest ${id} after ${(error as Error).message}`;
  }

  @command({ name: 'users.search', group: 'search' })
  async search(query: string, signalFree = true): Promise<string[]> {
    await Promise.resolve();
    return signalFree ? [query] : [];
  }

  plain(): string {
    return 'not a command';
  }
}

describe('@command()', () => {
  it('records the methods; before registration they run as written', async () => {
    const users = new Users();
    const members = componentCommands(users);
    expect(members.map((m) => m.name)).toEqual(['Users.get', 'users.search']);
    expect(members[0]!.options).toMatchObject({ group: 'Users', timeoutMs: 200, requestVolumeThreshold: 3 });
    expect(members[1]!.options).toMatchObject({ group: 'search' });
    users.down = true;
    await expect(users.get('1')).rejects.toThrow('users down (1)');
    expect(componentCommands({})).toEqual([]);
  });

  it('after registerComponentCommands every call of the method goes through its command, with the named fallback', async () => {
    const clock = new ManualClock();
    const registry = new CommandRegistry({ clock });
    const users = new Users();
    const made = registerComponentCommands(registry, users);
    expect(made.map((c) => c.name)).toEqual(['Users.get', 'users.search']);
    await expect(users.get('7')).resolves.toBe('user 7');
    users.down = true;
    await expect(users.get('8')).resolves.toBe('guest 8 after users down (8)');
    await expect(users.get('9')).resolves.toBe('guest 9 after users down (9)');
    const get = registry.get('Users.get')!;
    expect(get.state).toBe('OPEN'); // 2 of 3 requests failed, volume 3
    const calls = users.calls;
    await expect(users.get('10')).resolves.toMatch(/^guest 10 after command 'Users.get' short-circuited/);
    expect(users.calls).toBe(calls);
    expect(get.snapshot().rolling).toMatchObject({ success: 1, failure: 2, shortCircuited: 1, fallbackSuccess: 3 });
    await expect(users.search('otters')).resolves.toEqual(['otters']);
    expect(registry.get('users.search')?.group).toBe('search');
    expect(users.plain()).toBe('not a command');
  });

  it('two registered instances share the command but keep their own `this` and fallback', async () => {
    const registry = new CommandRegistry({ clock: new ManualClock() });
    const a = new Users();
    const b = new Users();
    registerComponentCommands(registry, a);
    registerComponentCommands(registry, b);
    b.down = true;
    await expect(a.get('1')).resolves.toBe('user 1');
    await expect(b.get('2')).resolves.toBe('guest 2 after users down (2)');
    expect([a.calls, b.calls]).toEqual([1, 1]);
    expect(registry.size).toBe(2);
    expect(registry.get('Users.get')?.snapshot().rolling).toMatchObject({ success: 1, failure: 1 });
  });

  it('a fallback that names no method fails when the object is made', () => {
    class Broken {
      @command({ fallback: 'missing' })
      async run(): Promise<void> {}
    }
    expect(() => new Broken()).toThrow("fallback 'missing' of @command() on Broken.run is not a method of Broken");
  });

  it('invalid options fail at registration, naming the command', () => {
    class BadTimeout {
      @command({ timeoutMs: -1 })
      async run(): Promise<void> {}
    }
    const registry = new CommandRegistry();
    expect(() => registerComponentCommands(registry, new BadTimeout())).toThrow("setting 'timeoutMs' of command 'BadTimeout.run' must be an integer from 0 to 2147483647 (got -1)");
  });
});
