// Runs every benchmark script under bench/ one after another, each in its own process.
// Run: npm run bench            (all)
//      npm run bench -- client  (those whose file name contains "client")
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const filter = process.argv[2];
const scripts = readdirSync(dir)
  .filter((file) => file.endsWith('.bench.ts') && (filter === undefined || file.includes(filter)))
  .sort();
let failed = 0;
for (const script of scripts) {
  console.log(`\n### ${script}`);
  const result = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', `${dir}${script}`], { stdio: 'inherit' });
  if (result.status !== 0) {
    failed++;
    console.log(`### ${script} failed with exit code ${String(result.status)}`);
  }
}
process.exitCode = failed === 0 ? 0 : 1;
