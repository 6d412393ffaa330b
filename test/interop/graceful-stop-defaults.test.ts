// A graceful stop of a Node instance called by a Java service, with every default on every side: the real
// Eureka server's read-only response cache (30 s), the Java client's fetch (30 s), Spring Cloud LoadBalancer's
// cache (35 s), and the Node service's own defaults (deregistration delay = its 30 s fetch interval, then serving
// callers that do not retry elsewhere until they stop calling, at most 100 s). The Java caller must lose no call.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Service } from 'karyon-ts';
import { waitFor } from '../support/logger.js';
import { buildInterop, killAll, startEurekaCluster, startJavaService } from './harness.js';
import type { JavaProcess } from './harness.js';
import { eurekaRequest, nodeService } from './peers.js';
import { interopSuite } from './suite.js';

interface CallResult {
  readonly counts: Record<string, number>;
  readonly failed: number;
  readonly errors: Record<string, number>;
}

async function javaCalls(java: JavaProcess, n: number): Promise<CallResult> {
  const res = await eurekaRequest('GET', `${java.url}/call?vip=node-svc&n=${n}`);
  if (res.code !== 200) throw new Error(`/call answered ${res.code}: ${res.body}`);
  return JSON.parse(res.body) as CallResult;
}

interopSuite('a graceful stop with every default, called by a Java service', () => {
  let java: JavaProcess;
  const nodes: Service[] = [];

  beforeAll(async () => {
    await buildInterop();
    const [peer] = await startEurekaCluster(1);
    const urls = [peer?.serviceUrl ?? ''];
    for (const i of [1, 2]) {
      const node = nodeService({ instanceId: `node-${i}`, eureka: { serviceUrls: urls } });
      nodes.push(node);
      await node.start();
    }
    java = await startJavaService(urls, 'java-caller');
  }, 900_000);
  afterAll(async () => {
    for (const node of nodes) await node.stop().catch(() => undefined);
    await killAll();
  }, 300_000);

  it('Java loses no call: the instance serves it until its caches drop the instance, then stops', async () => {
    const node2 = nodes[1] as Service;
    // Up to the whole chain (about 95 s) before the Java caller knows both instances.
    await waitFor(async () => Object.keys((await javaCalls(java, 10)).counts).length === 2, 200_000, 'both Node instances called by Java');
    const stopAt = Date.now();
    const stopping = node2.stop();
    let stoppedAt = 0;
    void stopping.finally(() => (stoppedAt = Date.now()));
    let failed = 0;
    const errors: Record<string, number> = {};
    let lastToNode2 = stopAt;
    while (stoppedAt === 0) {
      const r = await javaCalls(java, 2);
      failed += r.failed;
      Object.assign(errors, r.errors);
      if ((r.counts['node-2'] ?? 0) > 0) lastToNode2 = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await stopping;
    // And after the stop, every call goes to the instance left.
    const after = await javaCalls(java, 20);
    console.log(`graceful stop with every default: Java called the stopping instance for ${lastToNode2 - stopAt} ms; stop() took ${stoppedAt - stopAt} ms`);
    expect({ failed, errors }).toEqual({ failed: 0, errors: {} });
    expect(after).toEqual({ counts: { 'node-1': 20 }, failed: 0, errors: {} });
    // It waited for the Java caller (at least the 30 s delay), and not past the 100 s bound plus the drain.
    expect(stoppedAt - stopAt).toBeGreaterThanOrEqual(29_000);
    expect(stoppedAt - stopAt).toBeLessThan(115_000);
  }, 420_000);
});
