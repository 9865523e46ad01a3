import type { AnkaVm, Logger } from '@anklet/core';
import { parseEnvelope, numberField, stringField, type AnkaEnvelope } from './envelope.js';
import { AnkaCliError, classifyAnkaError } from './errors.js';
import { execAnka, type ExecResult, type ExecSettings } from './exec.js';

/** Default time limits (ms) per kind of command. A call can override its own. */
export interface AnkaTimeouts {
  /** list, show, version, licence, registry queries, mount. */
  readonly query: number;
  readonly clone: number;
  readonly start: number;
  readonly stop: number;
  readonly delete: number;
  readonly pull: number;
  readonly copy: number;
  readonly run: number;
}

export const defaultTimeouts: AnkaTimeouts = {
  query: 60_000,
  clone: 15 * 60_000,
  start: 5 * 60_000,
  stop: 5 * 60_000,
  delete: 5 * 60_000,
  pull: 3 * 60 * 60_000,
  copy: 30 * 60_000,
  // The Go watcher gives a job 6 hours.
  run: 6 * 60 * 60_000,
};

export interface CallOptions {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
  readonly onLine?: ((line: string) => void) | undefined;
}

/** Turns a `list`/`show` item into an {@link AnkaVm}. */
export function toVm(item: unknown): AnkaVm {
  return {
    name: stringField(item, 'name') ?? '',
    uuid: stringField(item, 'uuid') ?? '',
    status: stringField(item, 'status') ?? 'unknown',
    tag: stringField(item, 'version'),
    cpuCores: numberField(item, 'cpu_cores'),
    ramBytes: numberField(item, 'ram_size'),
    imageSizeBytes: numberField(item, 'image_size'),
    accessDate: stringField(item, 'access_date'),
  };
}

/**
 * Runs `anka -j …` and returns the envelope of a successful call. Every failure (non-zero exit,
 * `status` other than OK, output that is not an envelope) becomes an {@link AnkaCliError}.
 */
export class AnkaRunner {
  constructor(
    readonly settings: ExecSettings,
    readonly logger: Logger | undefined,
  ) {}

  /** Runs without parsing (bare `anka`, `anka run`, the no-JSON delete fallback). */
  raw(args: ReadonlyArray<string>, options: CallOptions & { stdin?: string | undefined }): Promise<ExecResult> {
    // `list` runs every few seconds; logging it would drown everything else (as in Go).
    if (args[1] !== 'list') this.logger?.debug('executing', { command: [this.settings.bin, ...args].join(' ') });
    return execAnka(this.settings, { args, timeoutMs: options.timeoutMs, signal: options.signal, stdin: options.stdin, onLine: options.onLine });
  }

  async json(args: ReadonlyArray<string>, options: CallOptions): Promise<AnkaEnvelope> {
    const full = ['-j', ...args];
    const result = await this.raw(full, options);
    const command = [this.settings.bin, ...full];
    const envelope = parseEnvelope(result.stdout);
    if (!envelope) {
      const lastLine = `${result.stderr}\n${result.stdout}`.trim().split('\n').at(-1)?.trim() ?? '';
      // Strip the CLI's own prefix so the message reads like the JSON one.
      const message = lastLine.replace(/^anka: /, '');
      if (result.exitCode !== 0 && message !== '') {
        throw new AnkaCliError({ command, exitCode: result.exitCode, ankaMessage: message, reason: classifyAnkaError(undefined, undefined, message) });
      }
      throw new AnkaCliError({ command, exitCode: result.exitCode, ankaMessage: 'no valid JSON output found in command response', reason: 'no_json' });
    }
    if (result.exitCode !== 0 || envelope.status !== 'OK') {
      throw new AnkaCliError({
        command,
        exitCode: result.exitCode,
        ankaCode: envelope.code,
        exceptionType: envelope.exceptionType,
        ankaMessage: envelope.message || `status ${envelope.status}`,
        reason: classifyAnkaError(envelope.code, envelope.exceptionType, envelope.message),
      });
    }
    return envelope;
  }
}
