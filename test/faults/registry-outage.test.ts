import { afterEach, describe, expect, it } from 'vitest';
import { EurekaRegistry } from 'karyon-ts';
import { descriptorFor, freePort, kill9, killAll, listed, startRegistryProcess, waitUntil } from './support.js';

// A registry process that goes away (kill -9) and comes back empty on the same port: instances heartbeating every
// second retry about once a second through the outage (no more writes than their heartbeats) and are listed
// again within about one heartbeat interval of the registry's return.

const HEARTBEAT_MS = 1000;
const open: EurekaRegistry[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((registry) => registry.close()));
  await killAll();
});

describe('return after a registry outage', () => {
  it('retries at the heartbeat interval during the outage and is back within about one interval', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/eureka`;
    let registry = await startRegistryProcess(port, ['--wait-when-empty', '0']);
    const ids: string[] = [];
    // Write attempts (registrations and heartbeats) that failed, by instance, with when they were made.
    const failures = new Map<string, number[]>();
    for (let i = 0; i < 3; i++) {
      const client = new EurekaRegistry({ serviceUrls: [url], fetchRegistry: false, heartbeatIntervalMs: HEARTBEAT_MS, requestTimeoutMs: 2000 });
      open.push(client);
      const descriptor = descriptorFor('outage', '127.0.0.1', 9000 + i);
      ids.push(`OUTAGE/${descriptor.instanceId}`);
      const record = (event: { ok: boolean; instanceId: string }): void => {
        if (!event.ok) failures.set(event.instanceId, [...(failures.get(event.instanceId) ?? []), performance.now()]);
      };
      client.on('heartbeat', record);
      client.on('registration', record);
      await client.register(descriptor, 'UP');
    }
    await waitUntil(async () => {
      const seen = await listed(url);
      return ids.every((id) => seen?.get(id) === 'UP');
    }, 'three instances listed UP');

    await kill9(registry);
    const outageStarted = performance.now();
    // The outage lasts until every instance failed six times: with a backoff growing past the heartbeat interval
    // (1, 2, 4, 8, 16 s) that would take half a minute.
    await waitUntil(() => failures.size === 3 && [...failures.values()].every((times) => times.length >= 6), 'six failed attempts per instance', 12_000);
    const outageMs = performance.now() - outageStarted;

    registry = await startRegistryProcess(port, ['--wait-when-empty', '0']);
    const returned = performance.now();
    await waitUntil(async () => (await listed(url))?.size === 3, 'every instance listed again', 10_000, 10);
    const backAfterMs = performance.now() - returned;

    // Back within about one heartbeat interval (jittered by 10 %), with room for a loaded machine.
    expect(backAfterMs).toBeLessThan(HEARTBEAT_MS * 1.1 + 900);
    for (const [id, times] of failures) {
      const outageTimes = times.filter((at) => at >= outageStarted && at <= outageStarted + outageMs);
      const gaps = outageTimes.slice(1).map((at, i) => at - outageTimes[i]!);
      // No more write load than heartbeats: never sooner than the jittered interval...
      expect(Math.min(...gaps), `${id}: gaps ${gaps.map(Math.round).join(', ')}`).toBeGreaterThanOrEqual(HEARTBEAT_MS * 0.9 - 50);
      // ...and not backing off past it.
      expect(Math.max(...gaps), `${id}: gaps ${gaps.map(Math.round).join(', ')}`).toBeLessThan(HEARTBEAT_MS * 1.1 + 600);
    }
    console.info(`registry outage of ${Math.round(outageMs)} ms: every instance listed again ${Math.round(backAfterMs)} ms after the registry returned`);
  }, 60_000);
});
