import { execFileSync } from 'node:child_process';

// A private network of network namespaces for the fault suite: one namespace per node, each with a veth into a
// bridge that lives in a namespace of its own. Addresses come from a private test range used only inside these
// namespaces, which the fabric creates and deletes; nothing is routed anywhere else. A partition between two nodes
// is a pair of `unreachable` routes (each side's kernel refuses what it would send to the other with
// EHOSTUNREACH, as a router's ICMP host-unreachable does; what the other sends gets no answer), so it is
// selective: a node can be cut from one peer and still reach the rest.

/** True when this process may create network namespaces (root with `ip netns`, as CI runs). */
export function canUseNetns(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = `k19probe${process.pid % 100_000}`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'ignore' });
    execFileSync('ip', ['netns', 'del', probe], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** One node of the fabric. */
export interface FabricNode {
  readonly ns: string;
  readonly ip: string;
}

/** The namespaces, bridge and addresses of one test. */
export class Fabric {
  readonly #tag: string;
  readonly #switch: string;
  readonly #nodes = new Map<string, FabricNode>();
  readonly #cuts = new Set<string>();

  private constructor(tag: string) {
    this.#tag = tag;
    this.#switch = `${tag}sw`;
  }

  /** Makes a namespace with an address on the bridge for each name. */
  static create(names: readonly string[]): Fabric {
    const fabric = new Fabric(`k19${(process.pid % 1000).toString(36)}${Math.floor(Math.random() * 36 ** 2).toString(36)}`);
    try {
      fabric.#build(names);
    } catch (error) {
      fabric.close();
      throw error;
    }
    return fabric;
  }

  #build(names: readonly string[]): void {
    ip('netns', 'add', this.#switch);
    ip('-n', this.#switch, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', this.#switch, 'link', 'set', 'br0', 'up');
    names.forEach((name, i) => {
      const ns = `${this.#tag}n${i}`;
      const address = `10.77.19.${i + 1}`;
      ip('netns', 'add', ns);
      this.#nodes.set(name, { ns, ip: address });
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('link', 'add', 'eth0', 'netns', ns, 'type', 'veth', 'peer', 'name', `p${i}`, 'netns', this.#switch);
      ip('-n', this.#switch, 'link', 'set', `p${i}`, 'master', 'br0', 'up');
      ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
      ip('-n', ns, 'link', 'set', 'eth0', 'up');
    });
  }

  /** The node of a name. */
  node(name: string): FabricNode {
    const node = this.#nodes.get(name);
    if (node === undefined) throw new Error(`no node ${name}`);
    return node;
  }

  /** Cuts `a` and `b` apart, both ways. */
  cut(a: string, b: string): void {
    const [x, y] = [this.node(a), this.node(b)];
    ip('-n', x.ns, 'route', 'add', 'unreachable', `${y.ip}/32`);
    ip('-n', y.ns, 'route', 'add', 'unreachable', `${x.ip}/32`);
    this.#cuts.add(`${a}\n${b}`);
  }

  /** Heals every cut. */
  healAll(): void {
    for (const cut of this.#cuts) {
      const [a, b] = cut.split('\n') as [string, string];
      const [x, y] = [this.node(a), this.node(b)];
      ip('-n', x.ns, 'route', 'del', 'unreachable', `${y.ip}/32`);
      ip('-n', y.ns, 'route', 'del', 'unreachable', `${x.ip}/32`);
    }
    this.#cuts.clear();
  }

  /** Deletes every namespace (and with them the veths and the bridge). */
  close(): void {
    for (const { ns } of this.#nodes.values()) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // Already gone.
      }
    }
    try {
      ip('netns', 'del', this.#switch);
    } catch {
      // Already gone.
    }
    this.#nodes.clear();
  }
}
