/**
 * Exit codes of `anklet`. Stable: supervisors (launchd, systemd) and scripts act on them.
 *
 * | code | meaning |
 * |---|---|
 * | 0 | clean stop (signal, or no plugins configured), or a command that succeeded |
 * | 1 | an operator problem at start-up: config unreadable or invalid, a plugin not installed / broken / incompatible, the Anka CLI missing or unlicensed, another anklet holds the PID file; or a second SIGINT/SIGTERM forced the exit |
 * | 2 | a command-line usage error |
 * | 3 | a plugin failed and its `on_failure: shutdown` policy stopped the host (the Go anklet exits 0 here) |
 * | 4 | something the host needs did not answer at start-up: Redis unreachable, the metrics port busy; starting again later may work |
 *
 * The service files `anklet service install` writes restart on 3 and 4, never on 1: starting again
 * cannot fix a config (systemd `RestartPreventExitStatus=1`).
 */
export const ExitCode = {
  Ok: 0,
  Config: 1,
  Forced: 1,
  Usage: 2,
  PluginFailed: 3,
  Unavailable: 4,
} as const;
