/**
 * Exit codes of `anklet`. Stable: supervisors (launchd, systemd) and scripts act on them.
 *
 * | code | meaning |
 * |---|---|
 * | 0 | clean stop (signal, or no plugins configured), or a command that succeeded |
 * | 1 | an operator problem at start-up: config unreadable or invalid, a plugin not installed / broken / incompatible, another anklet holds the PID file; or a second SIGINT/SIGTERM forced the exit |
 * | 2 | a command-line usage error |
 * | 3 | a plugin failed and its `on_failure: shutdown` policy stopped the host (the Go anklet exits 0 here) |
 */
export const ExitCode = {
  Ok: 0,
  Config: 1,
  Forced: 1,
  Usage: 2,
  PluginFailed: 3,
} as const;
