/**
 * Stable error codes. They are part of the contract: tools and tests may match on them, so a code
 * is never renamed or reused for another meaning.
 */
export const ErrorCodes = {
  /** The config file is missing, unreadable, empty or not YAML. */
  CONFIG_UNREADABLE: 'ANKLET_ERR_CONFIG_UNREADABLE',
  /** The config file was read but one or more values are invalid. */
  CONFIG_INVALID: 'ANKLET_ERR_CONFIG_INVALID',
  /** An `ANKLET_*` or per-plugin environment override could not be parsed. */
  CONFIG_ENV: 'ANKLET_ERR_CONFIG_ENV',
  /** A plugin named in the config is not installed in `plugins_path`. */
  PLUGIN_NOT_INSTALLED: 'ANKLET_ERR_PLUGIN_NOT_INSTALLED',
  /** A plugin is installed but cannot be loaded (a dependency is missing, or it throws on import). */
  PLUGIN_BROKEN: 'ANKLET_ERR_PLUGIN_BROKEN',
  /** A plugin is installed and loads, but was built for another contract or is not an anklet plugin. */
  PLUGIN_INCOMPATIBLE: 'ANKLET_ERR_PLUGIN_INCOMPATIBLE',
  /** A plugin failed while starting. */
  PLUGIN_START_FAILED: 'ANKLET_ERR_PLUGIN_START_FAILED',
  /** A plugin failed while running. */
  PLUGIN_RUN_FAILED: 'ANKLET_ERR_PLUGIN_RUN_FAILED',
  /** `anklet plugins install|remove` failed. */
  PLUGIN_INSTALL_FAILED: 'ANKLET_ERR_PLUGIN_INSTALL_FAILED',
  /** The operation was aborted because the host is shutting down. */
  ABORTED: 'ANKLET_ERR_ABORTED',
  /** The job store could not be reached or refused the operation. */
  STORE_UNAVAILABLE: 'ANKLET_ERR_STORE_UNAVAILABLE',
  /** A lease on a job was lost (expired, or taken over by another owner). */
  LEASE_LOST: 'ANKLET_ERR_LEASE_LOST',
  /** The job was already finished (by this owner with another outcome, by another owner, or by the reaper). */
  JOB_FINISHED: 'ANKLET_ERR_JOB_FINISHED',
  /** The job is not in the store and not remembered as finished (never stored, or the store lost it). */
  JOB_NOT_FOUND: 'ANKLET_ERR_JOB_NOT_FOUND',
  /** The job's record was set aside as unreadable; nobody owns it any more. */
  JOB_QUARANTINED: 'ANKLET_ERR_JOB_QUARANTINED',
  /** The `anka` CLI failed. */
  ANKA_FAILED: 'ANKLET_ERR_ANKA_FAILED',
  /** A GitHub API call failed. */
  GITHUB_FAILED: 'ANKLET_ERR_GITHUB_FAILED',
  /** Another anklet process already holds this host's PID file. */
  ALREADY_RUNNING: 'ANKLET_ERR_ALREADY_RUNNING',
  /** A host resource (metrics port, log directory, ...) is missing or busy. */
  HOST_RESOURCE: 'ANKLET_ERR_HOST_RESOURCE',
  /** A handler's instance name is registered in the store by another live host (or anklet process). */
  INSTANCE_NAME_TAKEN: 'ANKLET_ERR_INSTANCE_NAME_TAKEN',
} as const;

/** One of the {@link ErrorCodes} values. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Options for {@link AnkletError}. */
export interface AnkletErrorOptions {
  /** The underlying error. */
  cause?: unknown;
  /** What the operator should do, e.g. `run: anklet plugins install @acme/plugin`. */
  hint?: string;
  /**
   * True when the error is an operator mistake (bad config, missing plugin): the CLI prints the
   * message and hint without a stack trace and exits 1. False (the default) for bugs.
   */
  operator?: boolean;
  /** Structured details safe to log (never secrets). */
  details?: Record<string, unknown>;
}

/**
 * The one error class of the anklet contract. It carries a stable {@link ErrorCode}, an optional
 * `hint` that tells the operator how to fix it, and a `cause`.
 *
 * The host recognises it by `name` and `code`, not by `instanceof`, because every plugin may carry
 * its own copy of `@anklet/core`; use {@link isAnkletError} to test for it.
 *
 * @example
 * ```ts
 * throw new AnkletError(ErrorCodes.STORE_UNAVAILABLE, 'the job store is not reachable', {
 *   cause: err,
 *   hint: 'check global_database_url and that Redis is running',
 * });
 * ```
 */
export class AnkletError extends Error {
  override readonly name = 'AnkletError';
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly operator: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: AnkletErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
    this.operator = options.operator ?? false;
    this.details = options.details;
  }
}

/** True for an {@link AnkletError} from any copy of `@anklet/core`. */
export function isAnkletError(value: unknown): value is AnkletError {
  if (!(value instanceof Error) || value.name !== 'AnkletError') return false;
  const code: unknown = (value as Error & { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('ANKLET_ERR_');
}

/** The refusals a job store gives a caller that no longer owns the job (see `JobStore`). */
const LEASE_REFUSALS: ReadonlySet<string> = new Set([
  ErrorCodes.LEASE_LOST,
  ErrorCodes.JOB_FINISHED,
  ErrorCodes.JOB_NOT_FOUND,
  ErrorCodes.JOB_QUARANTINED,
]);

/**
 * True when a job store refused a call because the caller no longer owns the job: the lease was
 * lost, the job was finished or quarantined, or the store does not know it. The caller must stop
 * working on the job; the code says why.
 */
export function isLeaseRefusal(value: unknown): value is AnkletError {
  return isAnkletError(value) && LEASE_REFUSALS.has(value.code);
}
