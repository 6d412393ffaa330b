export type { CliCommand, CliIo } from './CliCommand.js';
export { commands } from './commands.js';
export { registryCommand } from './registryCommand.js';
export { runCli, topLevelUsage } from './runCli.js';
