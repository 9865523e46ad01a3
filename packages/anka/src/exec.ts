import { spawn } from 'node:child_process';
import { AnkletError, childEnv, ErrorCodes, type Logger } from '@anklet/core';
import { AnkaCliError } from './errors.js';

/** How one `anka` process is run. */
export interface ExecRequest {
  /** Arguments after the executable, e.g. `['-j', 'list']`. Passed as an array: no shell ever sees them. */
  readonly args: ReadonlyArray<string>;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
  readonly stdin?: string | undefined;
  /** Called with each complete stdout line as it arrives (pull progress). */
  readonly onLine?: ((line: string) => void) | undefined;
}

export interface ExecResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ExecSettings {
  /** The executable; `anka` (looked up on PATH) by default. */
  readonly bin: string;
  readonly env: NodeJS.ProcessEnv | undefined;
  readonly logger: Logger | undefined;
  /** Period of the "still in progress" log line (the Go anklet logs every 10 s). */
  readonly progressLogMs: number;
  /** Time between SIGTERM and SIGKILL when a call is stopped. */
  readonly killGraceMs: number;
}

/** Sends `signal` to the child's whole process group, so guest commands `anka run` started die too. */
function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

/**
 * Runs `anka` once. Resolves with the exit code and output whatever the exit code; rejects only
 * when the process could not run (missing executable), hit its time limit or was aborted.
 */
export function execAnka(settings: ExecSettings, request: ExecRequest): Promise<ExecResult> {
  const command = [settings.bin, ...request.args];
  const shown = command.join(' ');
  if (request.signal?.aborted) return Promise.reject(abortedError(shown));
  return new Promise<ExecResult>((resolve, reject) => {
    // `detached` puts anka in its own process group: a Ctrl-C on the host's terminal does not reach
    // it (deletions must finish), and a time-out can kill it with everything it started.
    const child = spawn(settings.bin, [...request.args], {
      // Never anklet's own environment: it may hold the token and keys (see childEnv).
      env: childEnv(settings.env ?? process.env),
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      shell: false,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let partial = '';
    let ending: 'timeout' | 'abort' | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const started = Date.now();

    const stop = (why: 'timeout' | 'abort') => {
      if (ending) return;
      ending = why;
      killGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), settings.killGraceMs);
      killTimer.unref();
    };
    const timer = setTimeout(() => stop('timeout'), request.timeoutMs);
    const progress = setInterval(() => {
      const seconds = Math.round((Date.now() - started) / 1000);
      settings.logger?.info(`execution of command [${shown}] is still in progress...`, { seconds });
    }, settings.progressLogMs);
    const onAbort = () => stop('abort');
    request.signal?.addEventListener('abort', onAbort, { once: true });
    const cleanUp = () => {
      clearTimeout(timer);
      clearInterval(progress);
      if (killTimer && !ending) clearTimeout(killTimer);
      request.signal?.removeEventListener('abort', onAbort);
    };

    child.stdout.on('data', (chunk: Buffer) => {
      out.push(chunk);
      if (!request.onLine) return;
      partial += chunk.toString('utf8');
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim() !== '') request.onLine(line);
    });
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    // A guest that exits without reading stdin closes the pipe; that is not our failure.
    child.stdin.on('error', () => {});
    if (request.stdin !== undefined) child.stdin.end(request.stdin);
    else child.stdin.end();

    child.on('error', (error: NodeJS.ErrnoException) => {
      cleanUp();
      if (error.code === 'ENOENT') {
        reject(
          new AnkaCliError({
            command,
            exitCode: null,
            ankaMessage: 'command not found',
            reason: 'missing_cli',
            operator: true,
            hint: 'install the Anka CLI (Anka Virtualization / Anka Build) and make sure `anka` is on the PATH of the anklet process',
            cause: error,
          }),
        );
      } else {
        reject(new AnkaCliError({ command, exitCode: null, ankaMessage: error.message, reason: 'failed', cause: error }));
      }
    });
    child.on('close', (code, signal) => {
      cleanUp();
      if (ending === 'abort') return reject(abortedError(shown));
      if (ending === 'timeout') {
        return reject(
          new AnkaCliError({
            command,
            exitCode: null,
            ankaMessage: `execution of command [${shown}] timed out after ${request.timeoutMs} ms`,
            reason: 'timeout',
          }),
        );
      }
      const stdout = Buffer.concat(out).toString('utf8');
      if (request.onLine && partial.trim() !== '') request.onLine(partial);
      resolve({ exitCode: code ?? 128 + signalNumber(signal), stdout, stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal === 'SIGKILL' ? 9 : signal === 'SIGTERM' ? 15 : signal === 'SIGINT' ? 2 : 1;
}

function abortedError(shown: string): AnkletError {
  return new AnkletError(ErrorCodes.ABORTED, `aborted while running [${shown}]`);
}
