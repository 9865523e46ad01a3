import { chmod, mkdir, mkdtemp, open, readdir, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isAnkaFailure, type AnkaClient, type HandlerContext, type Logger } from '@anklet/core';
import type { HandlerConfig } from './config.js';
import { describeError } from './github-api.js';

/**
 * Runner diagnostics: when an attempt fails in its VM, the runner's own logs (`_diag/` and the
 * `anklet-runner.log` start-runner.bash writes) are copied out before the VM is deleted, scrubbed of
 * secrets, cut to `runner_diagnostics_max_mb` per job and kept under
 * `<work dir>/diagnostics/<job id>/attempt-<n>/` for `runner_diagnostics_keep_hours`.
 */

/** The folder under the host's work dir that holds every job's kept logs. */
export const DIAGNOSTICS_DIR = 'diagnostics';

/** What is copied out, relative to the guest user's home (`RUNNER_HOME` of the runner scripts). */
const GUEST_SOURCES = ['actions-runner/_diag', 'actions-runner/anklet-runner.log'];
/** One `anka cp` may take this long; clean-up never waits longer for a log. */
const COPY_TIMEOUT_MS = 60_000;
/** Below this many bytes of budget left for a job, nothing more is kept for it. */
const MIN_BUDGET_BYTES = 1024;
/** A file is never given less than this; past that, the oldest files are left out instead. */
const MIN_SHARE_BYTES = 512;
/** Bytes set aside from the budget for the manifest (`anklet-diagnostics.txt`). */
const MANIFEST_RESERVE_BYTES = 2048;
/** A staging folder of a copy that never finished (the process died) is removed after this long. */
const STAGING_MAX_AGE_MS = 3_600_000;
const FOLDER_MODE = 0o700;
const FILE_MODE = 0o600;

/** Why an attempt's runner logs were kept (the `reason` of the event and the metric). */
export type DiagnosticsReason = 'registration_timeout' | 'runner_failed' | 'job_failed';

/** Conclusions of a job that failed in its VM (cancelled, skipped and success are not failures of the runner). */
const FAILED_CONCLUSIONS = new Set(['failure', 'timed_out', 'startup_failure']);

/** How an attempt ended, as far as keeping its logs is concerned (a subset of job-run's `Outcome`). */
type EndOf = { readonly kind: string; readonly reason?: string; readonly conclusion?: string };

/**
 * Whether an attempt that ended this way (with its VM started) keeps its runner logs, and why:
 * a registration timeout, a runner that failed (a runner script or Anka step failed, the attempt is
 * retried), or a job that failed in the VM. Success, cancels, hand-offs and lost leases keep nothing.
 */
export function diagnosticsReasonOf(end: EndOf): DiagnosticsReason | null {
  if (end.kind === 'retry') return end.reason === 'waiting_for_runner_registration_timed_out' ? 'registration_timeout' : 'runner_failed';
  if (end.kind === 'done') return end.conclusion !== undefined && FAILED_CONCLUSIONS.has(end.conclusion) ? 'job_failed' : null;
  if (end.kind === 'cancel' && end.reason === 'job_timed_out') return 'job_failed';
  return null;
}

/** The folder kept runner logs go under: the host's work dir (older hosts: this plugin's data dir). */
export function diagnosticsRootOf(ctx: HandlerContext<HandlerConfig>): string {
  return ctx.paths.workDir ?? ctx.paths.dataDir;
}

// ------------------------------------------------------------------------------------------------
// Scrubbing

/** What replaces a secret in a kept file. */
export const SCRUBBED = '[REDACTED]';

/** Texts shaped like credentials whatever their value: GitHub tokens, PEM keys, JWTs, authorization values. */
const SECRET_SHAPES: ReadonlyArray<RegExp> = [
  /\b(?:gh[pousr]|github_pat)_[A-Za-z0-9_]{10,}/g,
  /-----BEGIN[^-]*-----[\s\S]*?(?:-----END[^-]*-----|$)/g,
  /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g,
];
/** The value of an authorization header or a `token <value>` pair. */
const AUTH_VALUE = /\b(bearer|token|basic)(\s+)(?!\[REDACTED\])[A-Za-z0-9._~+/=-]{8,}/gi;
/** Config keys whose values are secrets (the host's own redaction uses the same words). */
const SECRET_KEY = /(token|secret|passw(or)?d|private_?key|credential)/i;

/** The secret values of the handler's config (token, App private key, ...) and each long line of a PEM key. */
export function configSecretsOf(config: unknown, depth = 0): string[] {
  const out: string[] = [];
  if (config === null || typeof config !== 'object' || depth > 4) return out;
  for (const [key, value] of Object.entries(config as Record<string, unknown>)) {
    if (typeof value === 'string' && SECRET_KEY.test(key)) out.push(...withLines(value));
    else if (typeof value === 'object') out.push(...configSecretsOf(value, depth + 1));
  }
  return out;
}

/**
 * Every form of a JIT config a runner could write to its logs: the encoded config, its decoded
 * JSON, and, for the credential files inside it, their base64, their decoded JSON and each value
 * in them (the runner's access token, its RSA key). The `.runner` settings (name, URLs) are not secret.
 */
export function jitConfigSecretsOf(encoded: string): string[] {
  const out = [encoded.trim()];
  const files = decodeJson(encoded);
  if (!files) return out;
  out.push(Buffer.from(encoded.trim(), 'base64').toString('utf8'));
  for (const [name, content] of Object.entries(files)) {
    if (typeof content !== 'string' || !/credential/i.test(name)) continue;
    out.push(content);
    const inner = decodeJson(content);
    if (!inner) continue;
    out.push(Buffer.from(content, 'base64').toString('utf8'));
    out.push(...leafStrings(inner).filter((leaf) => leaf.length >= 8 && !/^https?:/i.test(leaf)));
  }
  return out;
}

/**
 * `text` with every known secret value and every credential-shaped text replaced by
 * {@link SCRUBBED}. Values shorter than 8 characters are not matched (they would blank ordinary words).
 */
export function scrubSecrets(text: string, secrets: ReadonlyArray<string>): string {
  let out = text;
  // Longest first: a secret that contains another is replaced whole.
  const values = [...new Set(secrets.map((s) => s.trim()).filter((s) => s.length >= 8))].sort((a, b) => b.length - a.length);
  for (const value of values) if (out.includes(value)) out = out.split(value).join(SCRUBBED);
  for (const shape of SECRET_SHAPES) out = out.replace(shape, SCRUBBED);
  // The word stays: `Authorization: Bearer [REDACTED]` still says what was there.
  return out.replace(AUTH_VALUE, (_all: string, word: string, space: string) => `${word}${space}${SCRUBBED}`);
}

function withLines(value: string): string[] {
  const trimmed = value.trim();
  const out = [trimmed];
  if (trimmed.includes('\n')) for (const line of trimmed.split('\n')) if (line.trim().length >= 16) out.push(line.trim());
  return out;
}

function decodeJson(base64: string): Record<string, unknown> | null {
  try {
    const value = JSON.parse(Buffer.from(base64.trim(), 'base64').toString('utf8')) as unknown;
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function leafStrings(value: unknown, depth = 0): string[] {
  if (typeof value === 'string') return [value];
  if (value === null || typeof value !== 'object' || depth > 6) return [];
  return Object.values(value as Record<string, unknown>).flatMap((child) => leafStrings(child, depth + 1));
}

// ------------------------------------------------------------------------------------------------
// Keeping

export interface KeepDiagnosticsInput {
  readonly anka: AnkaClient;
  readonly vmName: string;
  /** The host's work dir (see {@link diagnosticsRootOf}). */
  readonly root: string;
  readonly jobId: string;
  /** 1 for a job's first attempt. */
  readonly attempt: number;
  readonly reason: DiagnosticsReason;
  /** The budget of the whole job (every attempt's folder counts). */
  readonly maxBytes: number;
  /** Values to scrub besides the credential shapes: the JIT config's forms, a registration token, the config's secrets. */
  readonly secrets: ReadonlyArray<string>;
  readonly log: Logger;
}

export interface KeptDiagnostics {
  /**
   * The job's folder relative to the work dir, e.g. `diagnostics/123` (the timeline's detail: the
   * attempt folders are inside it; a longer path could pass for an opaque token to the timeline's
   * secret filter and be blanked).
   */
  readonly folder: string;
  /** The attempt's folder, absolute, e.g. `/…/diagnostics/123/attempt-1`. */
  readonly path: string;
  readonly files: number;
  readonly bytes: number;
  /** Files cut (their start dropped) or left out to stay within the budget. */
  readonly truncated: number;
}

interface Staged {
  readonly rel: string;
  readonly abs: string;
  readonly size: number;
  readonly mtimeMs: number;
}

/**
 * Copies the runner's logs out of `vmName` (`anka cp`), scrubs them and keeps them within the
 * job's budget. Returns null when there was nothing to keep (no logs in the VM, budget spent).
 * Throws only on a local file-system failure; the caller logs it and goes on deleting the VM.
 */
export async function keepRunnerDiagnostics(input: KeepDiagnosticsInput): Promise<KeptDiagnostics | null> {
  const base = path.join(input.root, DIAGNOSTICS_DIR);
  const jobDir = path.join(base, safeName(input.jobId));
  await makePrivateDir(base);
  await makePrivateDir(jobDir);
  const budget = input.maxBytes - (await sizeOf(jobDir)) - MANIFEST_RESERVE_BYTES;
  if (budget < MIN_BUDGET_BYTES) {
    input.log.info('runner diagnostics of this job already fill runner_diagnostics_max_mb; keeping no more', { folder: jobDir });
    return null;
  }
  const staging = await mkdtemp(path.join(base, '.copy-'));
  try {
    await chmod(staging, FOLDER_MODE);
    for (const source of GUEST_SOURCES) {
      try {
        await input.anka.copyOut(input.vmName, source, `${staging}/`, { timeoutMs: COPY_TIMEOUT_MS });
      } catch (err) {
        // A runner that never started has no logs: that is not worth a warning.
        const missing = isAnkaFailure(err) && /no such file|not found/i.test(err.ankaMessage);
        if (missing) input.log.debug('runner log not in the vm', { source });
        else input.log.warn('error copying a runner log out of the vm; going on without it', { vmName: input.vmName, source, error: describeError(err) });
      }
    }
    const staged = await listFiles(staging);
    if (staged.length === 0) {
      input.log.info('no runner logs copied out of the vm; nothing kept', { vmName: input.vmName });
      // A job folder made for this attempt alone goes again (rmdir refuses a folder with earlier attempts).
      await rmdir(jobDir).catch(() => undefined);
      return null;
    }
    const dest = await newAttemptDir(jobDir, input.attempt);
    const kept = await writeBounded(staged, dest, budget, input.secrets);
    const manifest = [
      `anklet runner diagnostics`,
      `job: ${input.jobId}`,
      `attempt: ${input.attempt}`,
      `vm: ${input.vmName}`,
      `reason: ${input.reason}`,
      `kept at: ${new Date().toISOString()}`,
      `secrets scrubbed: JIT config, GitHub tokens, registration token, configured secrets (shown as ${SCRUBBED})`,
      '',
      ...kept.notes,
      '',
    ].join('\n');
    await writeFile(path.join(dest, 'anklet-diagnostics.txt'), manifest, { mode: FILE_MODE });
    const folder = path.relative(input.root, jobDir).split(path.sep).join('/');
    return { folder, path: dest, files: kept.files, bytes: kept.bytes + Buffer.byteLength(manifest), truncated: kept.truncated };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Scrubs every staged file and writes it under `dest`, the largest cut and the oldest left out to fit `budget`. */
async function writeBounded(staged: ReadonlyArray<Staged>, dest: string, budget: number, secrets: ReadonlyArray<string>): Promise<{ files: number; bytes: number; truncated: number; notes: string[] }> {
  const notes: string[] = [];
  // Newest first: when there are too many files for each to get a useful share, the oldest go.
  const byAge = [...staged].sort((a, b) => b.mtimeMs - a.mtimeMs);
  const fit = Math.max(1, Math.floor(budget / MIN_SHARE_BYTES));
  for (const left of byAge.slice(fit)) notes.push(`left out (oldest, over the budget): ${left.rel} (${left.size} bytes)`);
  const chosen: Array<Staged & { text: Buffer; partial: boolean }> = [];
  for (const file of byAge.slice(0, fit)) {
    // Only the end of a huge file can be kept anyway: read no more of it than the budget (and a margin).
    const length = Math.min(file.size, budget + 64 * 1024);
    let raw = await readTail(file.abs, length);
    const partial = length < file.size;
    // The first line of a read that starts mid-file may hold the end of a secret, too short to match: it goes.
    if (partial) raw = raw.subarray(raw.indexOf(10) + 1);
    chosen.push({ ...file, text: Buffer.from(scrubSecrets(raw.toString('utf8'), secrets), 'utf8'), partial });
  }
  // Smallest first, each given an equal share of what is left: only the largest files are cut.
  chosen.sort((a, b) => a.text.length - b.text.length);
  let remaining = budget;
  let bytes = 0;
  let truncated = byAge.length - chosen.length;
  for (const [i, file] of chosen.entries()) {
    const share = Math.floor(remaining / (chosen.length - i));
    let out = file.text;
    if (out.length > share || file.partial) {
      const marker = `[anklet: the start of this file was cut to keep runner_diagnostics_max_mb; ${file.size} bytes in the VM]\n`;
      let cut = file.text.subarray(Math.max(0, file.text.length - Math.max(0, share - Buffer.byteLength(marker))));
      // Start at a line (and so a character) boundary when one is near.
      const newline = cut.indexOf(10);
      if (newline >= 0 && newline < 1024 && newline < cut.length - 1) cut = cut.subarray(newline + 1);
      out = Buffer.concat([Buffer.from(marker), cut]);
      truncated += 1;
      notes.push(`cut: ${file.rel} (${file.size} bytes in the VM, ${out.length} kept)`);
    } else {
      notes.push(`kept: ${file.rel} (${out.length} bytes)`);
    }
    const target = path.join(dest, file.rel);
    await makePrivateDir(path.dirname(target));
    await writeFile(target, out, { mode: FILE_MODE });
    await chmod(target, FILE_MODE);
    remaining -= out.length;
    bytes += out.length;
  }
  return { files: chosen.length, bytes, truncated, notes };
}

async function readTail(file: string, length: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const n = Math.min(size, length);
    const buffer = Buffer.alloc(n);
    await handle.read(buffer, 0, n, size - n);
    return buffer;
  } finally {
    await handle.close();
  }
}

/** `attempt-<n>`, or `attempt-<n>-2`... when a folder of that attempt exists already. */
async function newAttemptDir(jobDir: string, attempt: number): Promise<string> {
  for (let i = 1; ; i++) {
    const dir = path.join(jobDir, i === 1 ? `attempt-${attempt}` : `attempt-${attempt}-${i}`);
    try {
      await mkdir(dir, { mode: FOLDER_MODE });
      await chmod(dir, FOLDER_MODE);
      return dir;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/** Creates `dir` (and missing parents) as a private folder. */
async function makePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: FOLDER_MODE });
  await chmod(dir, FOLDER_MODE);
}

/** Every regular file under `dir` (symbolic links are not followed: they could point anywhere on the host). */
async function listFiles(dir: string, prefix = ''): Promise<Staged[]> {
  const out: Staged[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const abs = path.join(dir, entry.name);
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await listFiles(abs, rel)));
    else if (entry.isFile()) {
      const info = await stat(abs);
      out.push({ rel, abs, size: info.size, mtimeMs: info.mtimeMs });
    }
  }
  return out;
}

async function sizeOf(dir: string): Promise<number> {
  try {
    return (await listFiles(dir)).reduce((sum, file) => sum + file.size, 0);
  } catch {
    return 0;
  }
}

/** A job id as a folder name (ids are numbers; anything else is made safe). */
function safeName(id: string): string {
  const safe = id.replace(/[^A-Za-z0-9._-]/g, '_');
  return safe === '' || safe === '.' || safe === '..' ? '_' : safe;
}

// ------------------------------------------------------------------------------------------------
// Retention

/**
 * Removes attempt folders older than `keepHours` (by the time they were written), job folders left
 * empty, and staging folders of copies that never finished. `keepHours` 0 keeps everything.
 * Returns how many attempt folders were removed.
 */
export async function sweepDiagnostics(root: string, keepHours: number, log: Logger, now = Date.now()): Promise<number> {
  const base = path.join(root, DIAGNOSTICS_DIR);
  let jobs: string[];
  try {
    jobs = await readdir(base);
  } catch {
    return 0;
  }
  const keepMs = keepHours * 3_600_000;
  let removed = 0;
  for (const job of jobs) {
    const jobDir = path.join(base, job);
    try {
      const info = await stat(jobDir);
      if (!info.isDirectory()) continue;
      if (job.startsWith('.copy-')) {
        if (now - info.mtimeMs > STAGING_MAX_AGE_MS) await rm(jobDir, { recursive: true, force: true });
        continue;
      }
      if (keepMs <= 0) continue;
      const attempts = await readdir(jobDir);
      let left = attempts.length;
      for (const attempt of attempts) {
        const dir = path.join(jobDir, attempt);
        if (now - (await stat(dir)).mtimeMs <= keepMs) continue;
        await rm(dir, { recursive: true, force: true });
        removed += 1;
        left -= 1;
      }
      if (left === 0) await rm(jobDir, { recursive: true, force: true });
    } catch (err) {
      // Removed meanwhile by another handler of this host sweeping the same folder.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn('error removing old runner diagnostics', { folder: jobDir, error: describeError(err) });
    }
  }
  if (removed > 0) log.info('removed runner diagnostics older than runner_diagnostics_keep_hours', { removed, keepHours, folder: base });
  return removed;
}

export interface DiagnosticsSweeper {
  stop(): void;
}

/** Sweeps now and then every hour (more often for a short `runner_diagnostics_keep_hours`). */
export function startDiagnosticsSweeper(ctx: HandlerContext<HandlerConfig>): DiagnosticsSweeper {
  const root = diagnosticsRootOf(ctx);
  const keepHours = ctx.config.runner_diagnostics_keep_hours;
  let sweeping = false;
  const tick = async () => {
    if (sweeping) return;
    sweeping = true;
    try {
      await sweepDiagnostics(root, keepHours, ctx.logger);
    } catch (err) {
      ctx.logger.warn('error sweeping runner diagnostics', { error: describeError(err) });
    } finally {
      sweeping = false;
    }
  };
  void tick();
  const everyMs = keepHours > 0 ? Math.min(3_600_000, Math.max(60_000, (keepHours * 3_600_000) / 10)) : 3_600_000;
  const timer = setInterval(() => void tick(), everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
