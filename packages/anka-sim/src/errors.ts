/**
 * Errors the simulated CLI reports. Each one becomes the `ERROR` envelope (JSON mode) or an
 * `anka: <message>` line on stderr (human mode), never a stack trace.
 */

/**
 * The `code` / `exception_type` pairs the simulator emits. 3 and 18 are the real Anka values;
 * the others are not documented anywhere we could find, so they are our best guess and callers
 * should key on the message text (as the Go anklet does) rather than on these numbers.
 */
export const AnkaErrorKinds = {
  /** Anything without a more specific code. */
  generic: { code: 1, exceptionType: 'AnkaException' },
  /** Unknown command, unknown option, missing argument. Exit status 2, as click-based CLIs do. */
  usage: { code: 2, exceptionType: 'UsageError' },
  /** VM, template, tag or registry template not found (real code). */
  notFound: { code: 3, exceptionType: 'VMNotFoundException' },
  /** A VM with that name already exists (real code). */
  alreadyExists: { code: 18, exceptionType: 'NameAlreadyExistsException' },
  /** Apple's limit of two running macOS guests per host. */
  vmLimit: { code: 22, exceptionType: 'MaxRunningVMsException' },
  /** The licence is not valid on this host, or its core count is used up. */
  license: { code: 21, exceptionType: 'LicenseException' },
  /** Not enough free disk for a pull or a full copy. 28 mirrors ENOSPC. */
  diskFull: { code: 28, exceptionType: 'NotEnoughSpaceException' },
  /** The registry cannot be reached. */
  registry: { code: 1, exceptionType: 'RegistryException' },
} as const;

export type AnkaErrorKind = keyof typeof AnkaErrorKinds;

export interface AnkaSimErrorOptions {
  code?: number;
  exceptionType?: string;
  /** Process exit status; 1 unless the kind says otherwise. */
  exitCode?: number;
}

/** An error the CLI prints in the real error shape. */
export class AnkaSimError extends Error {
  readonly code: number;
  readonly exceptionType: string;
  readonly exitCode: number;

  constructor(kind: AnkaErrorKind, message: string, options: AnkaSimErrorOptions = {}) {
    super(message);
    this.name = 'AnkaSimError';
    const known = AnkaErrorKinds[kind];
    this.code = options.code ?? known.code;
    this.exceptionType = options.exceptionType ?? known.exceptionType;
    this.exitCode = options.exitCode ?? (kind === 'usage' ? 2 : 1);
  }
}

/** `<name>: not found`, the exact text the Go anklet compares against. */
export function notFoundError(name: string): AnkaSimError {
  return new AnkaSimError('notFound', `${name}: not found`);
}

export function usageError(message: string): AnkaSimError {
  return new AnkaSimError('usage', message);
}
