#!/usr/bin/env node
// The `karyon` executable: the one place that touches the process (signals, exit code, package version).
import { readFileSync } from 'node:fs';
import { runCli } from './runCli.js';

const stop = new AbortController();
let signals = 0;
const onSignal = (signal: NodeJS.Signals): void => {
  signals++;
  if (signals === 1) {
    stop.abort(signal);
    return;
  }
  // A second Ctrl-C means the user will not wait for a clean stop.
  process.stderr.write(`karyon: ${signal} again, exiting now\n`);
  process.exit(130);
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stopSignal: stop.signal,
  version: packageVersion(),
});
process.off('SIGINT', onSignal);
process.off('SIGTERM', onSignal);
process.exitCode = code;

/** The version in package.json, two levels up from both `src/cli/main.ts` and `dist/cli/main.js`. */
function packageVersion(): string {
  try {
    const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof manifest.version === 'string' ? manifest.version : 'unknown';
  } catch {
    return 'unknown';
  }
}
