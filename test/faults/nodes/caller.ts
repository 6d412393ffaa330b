// A fault-suite caller: fetches Eureka every 250 ms and calls the VIP back to back through a balanced client
// (retries, outlier ejection, a short connect timeout). Every 200 ms it prints one JSON line: calls that
// succeeded and failed so far, and the UP instances in its view. Stops on SIGTERM or after 180 s.
import { createServiceClient, EurekaRegistry } from '../../../src/index.js';

const [serviceUrl, vip] = process.argv.slice(2) as [string, string];
const registry = new EurekaRegistry({ serviceUrls: [serviceUrl], registryFetchIntervalMs: 250, retryInitialDelayMs: 250, connectTimeoutMs: 500, requestTimeoutMs: 1000 });
const client = createServiceClient({ registry, vip, connectTimeoutMs: 300, timeoutMs: 1000 });
let ok = 0;
const byInstance: Record<string, number> = {};
let failed = 0;
const errors: string[] = [];
let running = true;
const stopAt = performance.now() + 180_000;
const report = setInterval(() => {
  const view = registry.upInstancesByVip(vip).map((i) => i.instanceId).sort();
  process.stdout.write(`${JSON.stringify({ ok, failed, view, byInstance, errors: errors.splice(0) })}\n`);
}, 200);
async function loop(): Promise<void> {
  while (running && performance.now() < stopAt) {
    if (registry.upInstancesByVip(vip).length === 0 && ok === 0) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      continue;
    }
    try {
      const res = await client.request({ path: '/' });
      const from = await res.body.text();
      if (res.statusCode === 200) {
        ok++;
        byInstance[from] = (byInstance[from] ?? 0) + 1;
      }
      else failed++;
    } catch (error) {
      failed++;
      if (errors.length < 5) errors.push((error as Error).message);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
const loops = Promise.all([loop(), loop()]);
process.on('SIGTERM', () => {
  running = false;
  void loops.then(async () => {
    clearInterval(report);
    await client.close();
    await registry.close();
    process.exit(0);
  });
});
await loops;
process.exit(0);
