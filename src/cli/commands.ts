import type { CliCommand } from './CliCommand.js';
import { registryCommand } from './registryCommand.js';
import { sidecarCommand } from './sidecarCommand.js';

/** Every `karyon` subcommand, in the order `karyon --help` lists them. A new command (`sidecar`) is one more entry. */
export const commands: readonly CliCommand[] = [registryCommand, sidecarCommand];
