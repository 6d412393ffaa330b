import { isKaryonError } from '../common/KaryonError.js';
import { errorMessage } from '../internal/async.js';
import type { CliCommand, CliIo } from './CliCommand.js';
import { commands as defaultCommands } from './commands.js';

/** Top-level usage, built from the command table. */
export function topLevelUsage(commands: readonly CliCommand[] = defaultCommands): string {
  const width = Math.max(...commands.map((command) => command.name.length));
  return [
    'Usage: karyon <command> [options]',
    '',
    'Commands:',
    ...commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    'Options:',
    '  -h, --help     show this help',
    '  -v, --version  print the version',
    '',
    "Run 'karyon <command> --help' for a command's options.",
  ].join('\n');
}

/**
 * Runs `karyon <args>`: dispatches to the command named by the first argument. Resolves with the exit code:
 * 0 on success, 2 for a usage mistake (with a pointer to `--help`), 1 when the command failed.
 */
export async function runCli(args: readonly string[], io: CliIo, commands: readonly CliCommand[] = defaultCommands): Promise<number> {
  const [first, ...rest] = args;
  if (first === '-h' || first === '--help' || first === 'help') {
    io.stdout.write(`${topLevelUsage(commands)}\n`);
    return 0;
  }
  if (first === '-v' || first === '--version') {
    io.stdout.write(`${io.version}\n`);
    return 0;
  }
  if (first === undefined) {
    io.stderr.write(`${topLevelUsage(commands)}\n`);
    return 2;
  }
  const command = commands.find((candidate) => candidate.name === first);
  if (command === undefined) {
    const known = commands.map((candidate) => `'${candidate.name}'`).join(', ');
    io.stderr.write(`karyon: unknown command '${first}' (known: ${known}). Run 'karyon --help' for usage.\n`);
    return 2;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (isKaryonError(error, 'ERR_INVALID_OPTION')) {
      io.stderr.write(`karyon ${command.name}: ${error.message}\nRun 'karyon ${command.name} --help' for usage.\n`);
      return 2;
    }
    io.stderr.write(`karyon ${command.name}: ${errorMessage(error)}\n`);
    return 1;
  }
}
