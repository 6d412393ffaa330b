/** What a command may touch of the process: its output streams, the stop request and the package version. */
export interface CliIo {
  /** Where normal output goes (the registry's log lines). */
  readonly stdout: NodeJS.WritableStream;
  /** Where warnings, errors and usage mistakes go. */
  readonly stderr: NodeJS.WritableStream;
  /** Aborts when the process is asked to stop (SIGINT or SIGTERM); its reason is the signal's name. */
  readonly stopSignal: AbortSignal;
  /** The karyon-ts version, for `--version`. */
  readonly version: string;
}

/** One `karyon <command>`: the table in `commands.ts` lists them, so `sidecar` is one more entry. */
export interface CliCommand {
  /** The word after `karyon`. */
  readonly name: string;
  /** One line for `karyon --help`. */
  readonly summary: string;
  /** The full `karyon <command> --help` text. */
  readonly usage: string;
  /**
   * Runs the command with the arguments after its name; resolves with the exit code.
   * @throws KaryonError `ERR_INVALID_OPTION` for a usage mistake (exit code 2, with a pointer to `--help`).
   */
  run(args: readonly string[], io: CliIo): Promise<number>;
}
