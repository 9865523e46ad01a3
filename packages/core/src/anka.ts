/**
 * The Anka CLI client the host injects into handler plugins as `ctx.anka`. Handlers never spawn
 * `anka` themselves: the host's client runs every command with argument arrays and timeouts, and
 * coordinates pulls, disk space and VM slots between the handlers of one host.
 *
 * Failures reject with an `AnkletError` whose code is `ANKLET_ERR_ANKA_FAILED` and which carries
 * the fields of {@link AnkaFailure}; test for it with {@link isAnkaFailure}. A shutdown signal
 * rejects with `ANKLET_ERR_ABORTED` instead.
 */
import { ErrorCodes, isAnkletError, type AnkletError } from './errors.js';

/** A VM or template as `anka -j list` / `show` reports it. */
export interface AnkaVm {
  readonly name: string;
  readonly uuid: string;
  /** `running`, `stopped`, `suspended` or `failed`. */
  readonly status: string;
  /** The local tag (templates only). */
  readonly tag?: string | undefined;
  readonly cpuCores?: number | undefined;
  readonly ramBytes?: number | undefined;
  /** Real disk use of the VM, in bytes. */
  readonly imageSizeBytes?: number | undefined;
  /** Last start/stop/clone, RFC 3339. */
  readonly accessDate?: string | undefined;
}

/** A template on the host (see {@link AnkaClient.heldTemplates}). */
export interface HeldTemplate {
  readonly uuid: string;
  readonly name: string;
  /** The tag it is at on this host, when known. */
  readonly tag?: string | undefined;
}

/** What went wrong in an `anka` call, in words a handler can branch on. */
export type AnkaFailureReason =
  | 'not_found'
  | 'already_exists'
  | 'vm_limit'
  | 'license'
  | 'disk_full'
  | 'registry'
  | 'usage'
  | 'timeout'
  | 'no_json'
  | 'missing_cli'
  | 'unsupported'
  | 'failed';

/** The fields an Anka failure carries (the error is an `AnkletError` with code `ANKLET_ERR_ANKA_FAILED`). */
export interface AnkaFailure extends AnkletError {
  /** The command as run, e.g. `['anka', '-j', 'start', 'anklet-vm-…']`. Never holds a secret. */
  readonly command: ReadonlyArray<string>;
  /** The process exit code (null when it was killed or never started). */
  readonly exitCode: number | null;
  /** The envelope's `code` (3 = not found, 18 = already exists, …), when there was one. */
  readonly ankaCode: number | undefined;
  readonly exceptionType: string | undefined;
  /** Anka's own message (the envelope's `message`, or the last output line). */
  readonly ankaMessage: string;
  readonly reason: AnkaFailureReason;
  /** True when another attempt (possibly on another host) may succeed. */
  readonly retryable: boolean;
}

/** True for an Anka failure from any copy of `@anklet/core` / `@anklet/anka`. */
export function isAnkaFailure(value: unknown): value is AnkaFailure {
  return isAnkletError(value) && value.code === ErrorCodes.ANKA_FAILED && typeof (value as { retryable?: unknown }).retryable === 'boolean';
}

/** Per-call options every command accepts. */
export interface AnkaCallOptions {
  /** Aborts the call (the `anka` process is killed). Not honoured by deletions. */
  readonly signal?: AbortSignal | undefined;
  /** Overrides the command's default time limit. */
  readonly timeoutMs?: number | undefined;
}

/** One progress report of a template pull. */
export interface PullProgress {
  readonly template: string;
  readonly tag: string | undefined;
  /** 0–100 when `anka` reports it. */
  readonly percent: number | undefined;
  readonly downloadedBytes: number | undefined;
  readonly totalBytes: number | undefined;
}

export interface EnsureTemplateOptions extends AnkaCallOptions {
  /** Called for every progress line of a pull (also logged and counted by the client). */
  readonly onProgress?: ((progress: PullProgress) => void) | undefined;
}

/**
 * The outcome of {@link AnkaClient.ensureTemplate}. Only `ready` lets the job go on here; the others
 * say what to do with the job:
 * - `pull_in_progress`: another pull runs on this host; hand the job to another host (no attempt counted).
 * - `not_on_host`: `skip_pull` is set and the template/tag is not here; try another host.
 * - `not_found`: the registry has no such template or tag; the job cannot run anywhere (cancel it).
 * - `no_space`: not enough disk even after removing least-recently-used templates; try another host.
 */
export type EnsureTemplateResult =
  | { readonly status: 'ready'; readonly uuid: string; readonly name: string; readonly tag: string | undefined; readonly pulled: boolean }
  | { readonly status: 'pull_in_progress'; readonly message: string }
  | { readonly status: 'not_on_host'; readonly message: string }
  | { readonly status: 'not_found'; readonly message: string }
  | { readonly status: 'no_space'; readonly message: string };

/** CPU and memory a VM needs. */
export interface VmRequirements {
  readonly cpuCores: number;
  readonly ramBytes: number;
}

/** What this host has and what its running VMs use. */
export interface HostUsage {
  readonly cpuCount: number;
  readonly memoryBytes: number;
  readonly runningVms: number;
  readonly vmLimit: number;
  readonly usedCpuCores: number;
  readonly usedRamBytes: number;
}

/**
 * Whether a VM can start on this host:
 * - `fits_now`;
 * - `fits_later`: the VM limit or running VMs' CPU/RAM are in the way; wait or let another host take it;
 * - `never_fits`: the VM is bigger than the host; never wait here.
 */
export type Admission =
  | { readonly decision: 'fits_now'; readonly usage: HostUsage }
  | { readonly decision: 'fits_later'; readonly reason: string; readonly usage: HostUsage }
  | { readonly decision: 'never_fits'; readonly reason: string; readonly usage: HostUsage };

/** A VM slot taken by {@link AnkaClient.reserveVm}. */
export interface VmReservation {
  /** Lets other handlers size their VMs again; call it once the VM runs (or failed to start). */
  started(): void;
  /** Gives the slot back; call it after the VM is deleted. Also ends the preparing phase. Idempotent. */
  release(): void;
}

export interface RunOptions extends AnkaCallOptions {
  /** Written to the command's stdin, then closed. This is how secrets reach the guest (never argv). */
  readonly stdin?: string | undefined;
  /** Guest working directory (`-w`). */
  readonly workdir?: string | undefined;
}

export interface RunResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The subset of the Anka CLI a handler needs, bound to the handler's settings. */
export interface AnkaClient {
  /** The `anka` version found at start, e.g. `3.9.1`. */
  version(): Promise<string>;
  /** All VMs and templates on this host (`anka -j list`). */
  list(options?: AnkaCallOptions): Promise<ReadonlyArray<AnkaVm>>;
  /** Running VMs (`anka -j list --running`). */
  listRunning(options?: AnkaCallOptions): Promise<ReadonlyArray<AnkaVm>>;
  /**
   * The templates on this host as the host's template record knows them (no `anka` call), not
   * counting one being pulled: what the host publishes for template-affinity scheduling.
   * Optional: clients written before it lack it, and their hosts publish no templates.
   */
  heldTemplates?(): Promise<ReadonlyArray<HeldTemplate>>;
  /** VMs whose name carries anklet's prefix (`anklet-vm-`), for orphan clean-up. */
  listOwnVms(options?: AnkaCallOptions): Promise<ReadonlyArray<AnkaVm>>;
  /** One VM or template, or null when it does not exist. */
  show(nameOrUuid: string, options?: AnkaCallOptions): Promise<AnkaVm | null>;
  /**
   * Makes sure a template (at `tag`, or its latest) is on the host, pulling it with `--shrink`
   * from `registry_url` unless `skip_pull` is set. One pull per host; disk buffer and LRU clean-up apply.
   */
  ensureTemplate(template: string, tag?: string, options?: EnsureTemplateOptions): Promise<EnsureTemplateResult>;
  /** CPU and RAM a template (or VM) is given. */
  requirementsOf(nameOrUuid: string, options?: AnkaCallOptions): Promise<VmRequirements>;
  /** Host totals and what the running VMs use. */
  hostUsage(options?: AnkaCallOptions): Promise<HostUsage>;
  /** Whether a VM of this size fits (honours `skip_cpu_and_memory_resource_checks` and the VM limit). */
  checkAdmission(requirements: VmRequirements, options?: AnkaCallOptions): Promise<Admission>;
  /**
   * Takes the host's preparing lock, checks admission and takes a VM slot. With `fits_now` the
   * reservation is returned; otherwise nothing is held.
   */
  reserveVm(requirements: VmRequirements, options?: AnkaCallOptions): Promise<{ admission: Admission; reservation: VmReservation | null }>;
  /** A new VM name, `anklet-vm-<uuid>`. */
  newVmName(): string;
  /** Clones `template` (at `tag`) into a new VM; returns its name (`name` or a new one). */
  clone(template: string, options?: AnkaCallOptions & { tag?: string | undefined; name?: string | undefined }): Promise<string>;
  /** Starts a VM and applies the host-to-guest mounts (global first, then the plugin's). */
  start(name: string, options?: AnkaCallOptions): Promise<void>;
  stop(name: string, options?: AnkaCallOptions & { force?: boolean }): Promise<void>;
  /** Deletes a VM; retried, never interrupted by a signal; a VM that is already gone is fine. */
  delete(name: string): Promise<void>;
  /** Runs a command in the VM; a non-zero exit is a result, not an error. */
  run(name: string, command: ReadonlyArray<string>, options?: RunOptions): Promise<RunResult>;
  /** Copies a host file or folder into the VM (`guestPath` relative to `/Users/anka`, default the home). */
  copyIn(name: string, hostPath: string, guestPath?: string, options?: AnkaCallOptions): Promise<void>;
  /** Copies a guest file or folder out to the host. */
  copyOut(name: string, guestPath: string, hostPath: string, options?: AnkaCallOptions): Promise<void>;
}
