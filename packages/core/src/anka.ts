/**
 * The Anka CLI client the host injects into handler plugins as `ctx.anka`. Handlers never spawn
 * `anka` themselves: the host's client runs every command with argument arrays and timeouts, and
 * coordinates pulls and VM slots between the handlers of one host.
 */

/** A VM or template as `anka -j list` / `show` reports it. */
export interface AnkaVm {
  readonly name: string;
  readonly uuid: string;
  readonly status: string;
  readonly cpuCores?: number | undefined;
  readonly ramBytes?: number | undefined;
  readonly tag?: string | undefined;
}

/** The subset of the Anka CLI a handler needs. */
export interface AnkaClient {
  /** `anka version`, e.g. `3.9.0`. */
  version(): Promise<string>;
  /** All VMs and templates on this host. */
  list(): Promise<ReadonlyArray<AnkaVm>>;
  /** One VM or template, or null when it does not exist. */
  show(nameOrUuid: string): Promise<AnkaVm | null>;
  /** Makes sure a template (and tag) is on the host, pulling it if needed. */
  ensureTemplate(template: string, tag?: string, signal?: AbortSignal): Promise<void>;
  /** Clones `template` (at `tag`) into a new VM called `name`. */
  clone(template: string, name: string, tag?: string): Promise<void>;
  start(name: string): Promise<void>;
  stop(name: string): Promise<void>;
  /** Deletes a VM; retried, and never interrupted by a shutdown. */
  delete(name: string): Promise<void>;
  /** Runs a command in the VM. `stdin` is how secrets reach the guest. */
  run(name: string, command: ReadonlyArray<string>, options?: { stdin?: string; signal?: AbortSignal }): Promise<{ stdout: string; exitCode: number }>;
  /** Copies a host file into the VM. */
  copy(name: string, hostPath: string, guestPath: string): Promise<void>;
}
