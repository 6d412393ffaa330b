// A Node service in its own process, registered in the Eureka servers given as arguments with a short lease
// (1 s renewal, 3 s duration), for the eviction test to kill -9: prints {"up":ID} once UP.
// Args: <instanceId> <serviceUrl>...
import { nodeService } from './peers.js';

const [id = 'node', ...serviceUrls] = process.argv.slice(2);
const service = nodeService({
  name: 'node-evicted',
  instanceId: id,
  eureka: { serviceUrls, heartbeatIntervalMs: 1000, registryFetchIntervalMs: 30_000, jitterRatio: 0 },
  lease: { renewalIntervalMs: 1000, durationMs: 3000 },
});
await service.start();
console.log(JSON.stringify({ up: id }));
