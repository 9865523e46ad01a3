import type { LogFields, Logger } from '@anklet/core';

/** A logger that keeps its lines for assertions. */
export function createMemoryLogger(): Logger & { lines: Array<{ level: string; msg: string; fields?: LogFields | undefined }> } {
  const lines: Array<{ level: string; msg: string; fields?: LogFields | undefined }> = [];
  const at =
    (level: string) =>
    (msg: string, fields?: LogFields): void => {
      lines.push({ level, msg, fields });
    };
  const logger = {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
    addSecret: () => undefined,
  };
  return logger;
}
