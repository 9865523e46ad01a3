/** Structured fields attached to a log line. Field names follow the Go anklet (`pluginName`, `workflowJobID`, `vmName`, ...). */
export type LogFields = Record<string, unknown>;

/**
 * The logger the host injects. Lines are JSON objects with `time`, `level`, `msg` and the fields.
 *
 * Values of fields whose names look secret (`token`, `secret`, `password`, `private_key`, ...) and
 * every secret value the host knows from the config are redacted before a line is written, but a
 * plugin should still never pass a secret in a message.
 */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger whose lines all carry `fields` (for example one per job). */
  child(fields: LogFields): Logger;
  /**
   * Registers a value that must never be written (a token fetched at run time, a JIT config).
   * Any later line containing it shows `[REDACTED]` instead.
   */
  addSecret(value: string): void;
}
