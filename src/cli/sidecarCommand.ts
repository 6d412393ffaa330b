import { parseArgs } from 'node:util';
import { KaryonError, isKaryonError } from '../common/KaryonError.js';
import { errorMessage } from '../internal/async.js';
import { createSidecar } from '../sidecar/Sidecar.js';
import type { Sidecar } from '../sidecar/Sidecar.js';
import { asConfigError, loadSidecarConfig, sidecarConfigKeys } from '../sidecar/sidecarConfigFile.js';
import type { CliCommand, CliIo } from './CliCommand.js';
import { lineLogger } from '../common/lineLogger.js';

const usage = `Usage: karyon sidecar --config sidecar.json [options]

The sidecar for an application in any language (Prana done right): spawns the application's process (or
watches one by pid, or follows it by its checks alone), registers it in Eureka under its own name and port,
STARTING until its readiness checks pass, UP, DOWN while a check is critical, OUT_OF_SERVICE from the admin
API; on SIGTERM or SIGINT: DOWN, a wait for clients to notice, the same signal to the process, a wait for it,
then the cancel. SIGHUP is forwarded to the process. Serves Prana's endpoints and an egress proxy
(http://127.0.0.1:8078/{vip}/{path}) on its own port, and the admin API on 8077.

Options:
  --config <file>   the sidecar's JSON file (docs/sidecar.md); every key can also come from the
                    environment: KARYON_SIDECAR_<KEY> (process.stopTimeoutMs is
                    KARYON_SIDECAR_PROCESS_STOP_TIMEOUT_MS), and KARYON_APP_NAME, PORT, KARYON_ZONE,
                    KARYON_EUREKA_URLS, KARYON_ADMIN_PORT... where they mean the same
  --check           validate the configuration and exit: 0 when valid, 2 naming the first bad key
  --keys            list every key with its environment variables, and exit
  --verbose         also log debug lines (every proxied failure, check runs)
  -h, --help        show this help

Exit code: 0 after a clean stop; the application's exit code when its process ended by itself (128 + the
signal number when a signal ended it), also when that made the start fail (then 1 if it exited 0); 1 when the
start failed otherwise (the readiness timeout...); 2 for a bad configuration.`;

/** `karyon sidecar`: runs the sidecar until SIGINT or SIGTERM, or until the application's process ends. */
export const sidecarCommand: CliCommand = {
  name: 'sidecar',
  summary: 'run the sidecar for an application in any language (Eureka, checks, proxy, Prana endpoints)',
  usage,
  run: runSidecar,
};

async function runSidecar(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(args);
  if (values.help === true) {
    io.stdout.write(`${usage}\n`);
    return 0;
  }
  if (values.keys === true) {
    for (const entry of sidecarConfigKeys) io.stdout.write(`${entry.key.padEnd(32)} ${entry.env.join(', ').padEnd(48)} ${entry.doc}\n`);
    return 0;
  }
  const env = process.env;
  if (values.config === undefined && !env.KARYON_APP_NAME && !env.KARYON_SIDECAR_APP_NAME) {
    throw new KaryonError('ERR_INVALID_OPTION', '--config <file> is required (or every key from the environment: at least KARYON_APP_NAME and PORT)');
  }
  const where = values.config ?? 'the environment';
  let sidecar: Sidecar;
  const logger = lineLogger({ stdout: io.stdout, stderr: io.stderr, verbose: values.verbose === true });
  try {
    const loaded = await loadSidecarConfig({ ...(values.config === undefined ? {} : { file: values.config }), env });
    sidecar = createSidecar({ ...loaded.options, logger });
  } catch (error) {
    const configError = asConfigError(error, where);
    if (isKaryonError(configError, 'ERR_INVALID_CONFIG')) {
      io.stderr.write(`karyon sidecar: ${configError.message}\n`);
      return 2;
    }
    throw configError;
  }
  if (values.check === true) {
    io.stdout.write(`karyon sidecar: ${where} is valid\n`);
    return 0;
  }

  // The process runs in its own process group, so it outlives the sidecar unless told: if the sidecar exits
  // without stopping it (a second Ctrl-C exits at once), it is killed on the way out.
  const onExit = (): void => {
    const pid = sidecar.process?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };
  const onHangup = (): void => {
    const sent = sidecar.signalProcess('SIGHUP');
    io.stdout.write(`karyon sidecar: SIGHUP ${sent ? 'forwarded to the process' : 'received; no process to forward it to'}\n`);
  };
  process.on('exit', onExit);
  process.on('SIGHUP', onHangup);
  const onStop = (): void => {
    const signal = String(io.stopSignal.reason) as NodeJS.Signals;
    io.stdout.write(`karyon sidecar: ${signal} received, stopping (DOWN, wait, ${signal} to the process, cancel)\n`);
    void sidecar.stop(signal === 'SIGINT' || signal === 'SIGTERM' ? signal : undefined);
  };
  try {
    if (io.stopSignal.aborted) return 0;
    io.stopSignal.addEventListener('abort', onStop, { once: true });
    try {
      await sidecar.start();
    } catch (error) {
      const outcome = await sidecar.finished;
      if (isKaryonError(error, 'ERR_START_ABORTED')) {
        io.stdout.write('karyon sidecar: stopped before the application was ready\n');
        return 0;
      }
      io.stderr.write(`karyon sidecar: start failed: ${errorMessage(error)}\n`);
      return outcome.exitCode === 0 ? 1 : outcome.exitCode;
    }
    io.stdout.write(
      `karyon sidecar: ${sidecar.service.name} is ${sidecar.service.status}: endpoints and proxy ${sidecar.url ?? ''}, admin ${sidecar.service.adminUrl ?? '(off)'}` +
        `${sidecar.statsdRelayPort === undefined ? '' : `, statsd relay udp ${sidecar.statsdRelayPort}`}\n`,
    );
    const outcome = await sidecar.finished;
    if (outcome.reason === 'process-exited') {
      io.stderr.write(`karyon sidecar: the process ended by itself; exiting with ${outcome.exitCode}\n`);
    } else if (outcome.error !== undefined) {
      io.stderr.write(`karyon sidecar: stopped with errors: ${errorMessage(outcome.error)}\n`);
    } else {
      io.stdout.write('karyon sidecar: stopped\n');
    }
    return outcome.exitCode;
  } finally {
    io.stopSignal.removeEventListener('abort', onStop);
    process.off('SIGHUP', onHangup);
    process.off('exit', onExit);
  }
}

function parse(args: readonly string[]) {
  try {
    return parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: 'string', short: 'c' },
        check: { type: 'boolean' },
        keys: { type: 'boolean' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new KaryonError('ERR_INVALID_OPTION', (error as Error).message, { cause: error });
  }
}
