import type { SimPaths } from './paths.js';

/** What every command gets. */
export interface CommandContext {
  readonly paths: SimPaths;
  /** `-j` / `--machine-readable`. */
  readonly json: boolean;
  /** `--debug`, or the host's `debug_noise` setting. */
  readonly debug: boolean;
  /** The arguments after the command word(s). */
  readonly args: ReadonlyArray<string>;
}

/**
 * A command's outcome. The CLI prints `body`/`message` as the OK envelope in JSON mode and `human`
 * otherwise; a command that printed its own output (`run`) sets `printed` and its exit status.
 */
export interface CommandResult {
  body?: unknown;
  message?: string;
  human?: string;
  printed?: { exitCode: number };
}

export type CommandHandler = (ctx: CommandContext) => CommandResult | Promise<CommandResult>;
