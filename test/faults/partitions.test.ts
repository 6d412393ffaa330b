import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { Fabric, canUseNetns } from './netns.js';
import type { Child } from './support.js';
import { killAll, spawnNode, startRegistryProcess, waitUntil } from './support.js';
import { killSpawnedProcesses } from '../support/processes.js';

// Whatever fails, no process this file starts outlives it.
killSpawnedProcesses();

// Partitions between real processes, each in a network namespace of its own on a private bridge (see netns.ts):
// the registry, the instances and a caller are separate processes; a partition is a pair of unreachable routes.
// For each: the calls that failed, the time to converge after healing, and no instance left in a wrong status.

const usable = canUseNetns();
const PORT = 8080;
const VIP = 'part';

let fabric: Fabric | undefined;
afterEach(async () => {
  await killAll();
  fabric?.close();
  fabric = undefined;
});

interface CallerReport {
  readonly ok: number;
  readonly failed: number;
  readonly view: readonly string[];
  readonly byInstance: Readonly<Record<string, number>>;
  readonly errors: readonly string[];
}

/** The caller's latest report line. */
function report(caller: Child): CallerReport {
  const lines = caller.out.stdout.trim().split('\n').filter((line) => line.startsWith('{'));
  const last = lines.at(-1);
  return last === undefined ? { ok: 0, failed: 0, view: [], byInstance: {}, errors: [] } : (JSON.parse(last) as CallerReport);
}

/** Every error the caller reported. */
function callerErrors(caller: Child): string[] {
  return caller.out.stdout
    .trim()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .flatMap((line) => (JSON.parse(line) as CallerReport).errors);
}

/** What the registry lists, `id -> status`, read with curl from inside `ns`. */
function listedFrom(ns: string, url: string): Map<string, string> {
  try {
    const text = execFileSync('ip', ['netns', 'exec', ns, 'curl', '-s', '-m', '2', '-H', 'accept: application/json', `${url}/apps`], { encoding: 'utf8' });
    const body = JSON.parse(text) as { applications: { application: { instance: { instanceId: string; status: string }[] }[] } };
    return new Map(body.applications.application.flatMap((app) => app.instance.map((i) => [i.instanceId, i.status] as const)));
  } catch {
    return new Map();
  }
}

async function cluster(instances: readonly string[]) {
  fabric = Fabric.create(['registry', ...instances, 'caller']);
  const reg = fabric.node('registry');
  const url = `http://${reg.ip}:8761/eureka`;
  await startRegistryProcess(8761, ['--host', reg.ip, '--wait-when-empty', '0', '--eviction-interval', '250ms'], reg.ns);
  const ids = new Map<string, string>();
  await Promise.all(
    instances.map(async (name) => {
      const node = fabric!.node(name);
      const child = spawnNode('test/faults/nodes/instance.ts', [url, node.ip, String(PORT), VIP], { netns: node.ns });
      await waitUntil(() => child.out.stdout.includes('ready'), `instance ${name} to register`, 30_000);
      ids.set(name, `${node.ip}:${VIP}:${PORT}`);
    }),
  );
  const caller = spawnNode('test/faults/nodes/caller.ts', [url, VIP], { netns: fabric.node('caller').ns });
  await waitUntil(() => report(caller).view.length === instances.length && report(caller).ok > 20, 'the caller to call every instance', 30_000);
  return { url, ids, caller, fabric, callerNs: fabric.node('caller').ns };
}

describe.skipIf(!usable)('partitions (network namespaces and veth; needs root and ip netns)', () => {
  it('an instance cut off from the registry but not from its callers: dropped from views without a failed call, back after healing', async () => {
    const { url, ids, caller, fabric: net, callerNs } = await cluster(['a', 'b']);
    const idA = ids.get('a')!;
    const before = report(caller);
    net.cut('a', 'registry');
    // Its lease (2 s) runs out: the registry evicts it and the caller stops calling it, though it could.
    await waitUntil(() => !report(caller).view.includes(idA), 'the caller to drop the cut-off instance', 15_000);
    await waitUntil(() => report(caller).ok > before.ok + 50, 'calls to go on', 10_000);
    net.healAll();
    const healed = performance.now();
    await waitUntil(() => report(caller).view.includes(idA), 'the instance back in the view', 15_000, 10);
    const convergeMs = performance.now() - healed;
    const after = report(caller);
    expect(after.failed - before.failed, callerErrors(caller).join('; ')).toBe(0);
    expect([...listedFrom(callerNs, url).values()]).toEqual(['UP', 'UP']);
    expect(convergeMs).toBeLessThan(5000);
    console.info(`partition instance|registry: 0 failed of ${after.ok} calls; back in the caller's view ${Math.round(convergeMs)} ms after healing`);
  }, 120_000);

  it('a caller cut off from one instance the registry still lists UP: calls go to the others, none fails', async () => {
    const { url, ids, caller, fabric: net, callerNs } = await cluster(['a', 'b']);
    const idA = ids.get('a')!;
    const before = report(caller);
    net.cut('caller', 'a');
    const cutAt = performance.now();
    await waitUntil(() => report(caller).ok > before.ok + 100, 'calls to go on', 20_000);
    // The registry still lists it UP: only this caller cannot reach it.
    expect(listedFrom(callerNs, url).get(idA)).toBe('UP');
    expect(report(caller).view).toContain(idA);
    const cutCalls = report(caller);
    expect(cutCalls.failed - before.failed, callerErrors(caller).join('; ')).toBe(0);
    net.healAll();
    const healed = performance.now();
    const servedBeforeHeal = cutCalls.byInstance[idA] ?? 0;
    // Once reachable again it gets calls again (after its outlier ejection, if it was ejected, runs out).
    await waitUntil(() => (report(caller).byInstance[idA] ?? 0) > servedBeforeHeal + 10, 'calls to reach it again', 60_000, 50);
    const convergeMs = performance.now() - healed;
    expect(report(caller).failed - before.failed, callerErrors(caller).join('; ')).toBe(0);
    expect([...listedFrom(callerNs, url).values()]).toEqual(['UP', 'UP']);
    console.info(`partition caller|instance: 0 failed of ${report(caller).ok} calls (cut for ${Math.round(healed - cutAt)} ms); calls reach it again ${Math.round(convergeMs)} ms after healing`);
  }, 150_000);

  it('the registry cut off from half the fleet, then healed: no failed call, every instance UP again', async () => {
    const { url, ids, caller, fabric: net, callerNs } = await cluster(['a', 'b', 'c', 'd']);
    const before = report(caller);
    net.cut('registry', 'a');
    net.cut('registry', 'b');
    const cutIds = [ids.get('a')!, ids.get('b')!];
    await waitUntil(() => cutIds.every((id) => !report(caller).view.includes(id)), 'the registry to evict the cut-off half', 15_000);
    await waitUntil(() => report(caller).ok > before.ok + 50, 'calls to go on', 10_000);
    net.healAll();
    const healed = performance.now();
    await waitUntil(() => report(caller).view.length === 4, 'every instance back in the view', 15_000, 10);
    const convergeMs = performance.now() - healed;
    const listed = listedFrom(callerNs, url);
    expect([...listed.values()]).toEqual(['UP', 'UP', 'UP', 'UP']);
    expect(report(caller).failed - before.failed, callerErrors(caller).join('; ')).toBe(0);
    expect(convergeMs).toBeLessThan(5000);
    console.info(`partition registry|half: 0 failed of ${report(caller).ok} calls; all four back ${Math.round(convergeMs)} ms after healing`);
  }, 120_000);
});
