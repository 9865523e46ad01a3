import { AnkletError, ErrorCodes, type AnkaFailure, type AnkaFailureReason } from '@anklet/core';

/** Anka's documented error codes. Others are not documented, so we key on the message text too. */
export const ANKA_CODE_NOT_FOUND = 3;
export const ANKA_CODE_ALREADY_EXISTS = 18;

export interface AnkaCliErrorInit {
  readonly command: ReadonlyArray<string>;
  readonly exitCode: number | null;
  readonly ankaCode?: number | undefined;
  readonly exceptionType?: string | undefined;
  readonly ankaMessage: string;
  readonly reason: AnkaFailureReason;
  /** Overrides the retryable class the reason implies. */
  readonly retryable?: boolean | undefined;
  readonly hint?: string | undefined;
  readonly operator?: boolean | undefined;
  readonly cause?: unknown;
}

/**
 * Whether another attempt may succeed, following the Go anklet's requeue table: a missing
 * template/tag cancels the job, licence and usage errors need a person, everything the host or
 * the registry may recover from (VM limit, disk, network, a hung or odd `anka`) is tried again,
 * possibly on another host.
 */
const retryableByReason: Record<AnkaFailureReason, boolean> = {
  not_found: false,
  already_exists: false,
  vm_limit: true,
  license: false,
  disk_full: true,
  registry: true,
  usage: false,
  timeout: true,
  no_json: true,
  missing_cli: false,
  unsupported: false,
  failed: true,
};

/** Names a failure from Anka's code, exception type and message text. */
export function classifyAnkaError(ankaCode: number | undefined, exceptionType: string | undefined, message: string): AnkaFailureReason {
  const text = message.toLowerCase();
  if (ankaCode === ANKA_CODE_NOT_FOUND || / not found$|: not found|tag .* not found/.test(text)) return 'not_found';
  if (ankaCode === ANKA_CODE_ALREADY_EXISTS || text.endsWith('already exists')) return 'already_exists';
  if (text.includes('maximum number of running instances')) return 'vm_limit';
  if (text.includes('license') || exceptionType === 'LicenseException') return 'license';
  if (text.includes('not enough free disk space') || text.includes('no space left') || exceptionType === 'NotEnoughSpaceException') {
    return 'disk_full';
  }
  if (text.includes('registry') || exceptionType === 'RegistryException') return 'registry';
  if (exceptionType === 'UsageError' || text.startsWith('no such command') || text.startsWith('no such option') || text.startsWith('missing argument')) {
    return 'usage';
  }
  return 'failed';
}

/**
 * A failed `anka` call. It is an `AnkletError` (code `ANKLET_ERR_ANKA_FAILED`) so the host and
 * plugins with their own copy of core recognise it; `isAnkaFailure` from core tests for it.
 */
export class AnkaCliError extends AnkletError implements AnkaFailure {
  readonly command: ReadonlyArray<string>;
  readonly exitCode: number | null;
  readonly ankaCode: number | undefined;
  readonly exceptionType: string | undefined;
  readonly ankaMessage: string;
  readonly reason: AnkaFailureReason;
  readonly retryable: boolean;

  constructor(init: AnkaCliErrorInit) {
    const shown = init.command.join(' ');
    super(ErrorCodes.ANKA_FAILED, `${shown}: ${init.ankaMessage || 'failed'}`, {
      cause: init.cause,
      hint: init.hint,
      operator: init.operator ?? false,
      details: { command: [...init.command], exitCode: init.exitCode, ankaCode: init.ankaCode, reason: init.reason },
    });
    this.command = init.command;
    this.exitCode = init.exitCode;
    this.ankaCode = init.ankaCode;
    this.exceptionType = init.exceptionType;
    this.ankaMessage = init.ankaMessage;
    this.reason = init.reason;
    this.retryable = init.retryable ?? retryableByReason[init.reason];
  }
}
