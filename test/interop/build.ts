// Builds the Java programs of interop/ with Maven, as the interop tests would on first use, and writes the
// stamp that lets the tests reuse the jars: `npx tsx test/interop/build.ts`.
import { buildInterop, interopMissing } from './harness.js';

if (interopMissing !== undefined) {
  process.stderr.write(`interop build: ${interopMissing}\n`);
  process.exitCode = 1;
} else {
  await buildInterop();
  process.stdout.write('interop jars are up to date\n');
}
