#!/usr/bin/env node
// `npm audit --omit=dev`: fails when a package of the production dependency tree has a known vulnerability.
// When the registry's advisory endpoint cannot be reached (offline, or a registry mirror that only serves
// package downloads), it says so loudly and, unless --strict is given, does not fail: no answer is not a
// finding. The release runs it with --strict.
//
//   node scripts/audit.mjs [--strict]
import { spawnSync } from 'node:child_process';

const strict = process.argv.includes('--strict');
const run = spawnSync('npm', ['audit', '--omit=dev', '--json'], { encoding: 'utf8', cwd: new URL('..', import.meta.url).pathname });
let report;
try {
  report = JSON.parse(run.stdout);
} catch {
  report = { message: (run.stderr || run.stdout || `npm audit exited with ${run.status}`).trim() };
}

const counts = report.metadata?.vulnerabilities;
if (counts !== undefined) {
  const total = counts.total ?? Object.values(counts).reduce((sum, n) => sum + n, 0);
  if (total === 0) {
    console.log(`audit: no known vulnerability in the production dependencies (${report.metadata.dependencies?.prod ?? '?'} packages)`);
    process.exit(0);
  }
  for (const [name, v] of Object.entries(report.vulnerabilities ?? {})) {
    const via = (v.via ?? []).map((x) => (typeof x === 'string' ? x : `${x.title} (${x.url})`)).join('; ');
    console.error(`- ${name} ${v.range}: ${v.severity}: ${via}${v.fixAvailable ? ' (fix available)' : ''}`);
  }
  console.error(`audit: ${total} known vulnerabilities in production dependencies`);
  process.exit(1);
}

const reason = report.message ?? report.error?.summary ?? 'no report';
console.error(`audit: NOT DONE: the registry's advisory endpoint did not answer (${reason})`);
process.exit(strict ? 1 : 0);
