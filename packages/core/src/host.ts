/** Releases something acquired from the host. Calling it twice is harmless. */
export type Release = () => void;

/** A host-wide mutual exclusion shared by every plugin in the process. */
export interface HostLock {
  /** Waits for the lock; rejects with `ANKLET_ERR_ABORTED` if `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<Release>;
  /** Takes the lock if it is free, else returns null at once. */
  tryAcquire(): Release | null;
  readonly held: boolean;
}

/** The VM slots of this host (Apple allows two running macOS guests per host). */
export interface VmSlots {
  readonly total: number;
  readonly used: number;
  /** Takes a free slot, or returns null at once when every slot is taken. */
  tryAcquire(): Release | null;
}

/**
 * How the host is shutting down.
 * - `none`: running.
 * - `graceful` (SIGQUIT): finish the current unit of work, then stop; no new jobs.
 * - `interrupt` (SIGINT/SIGTERM): stop as soon as possible; hand unfinished jobs back to the queue.
 */
export type ShutdownMode = 'none' | 'graceful' | 'interrupt';

/** Coordination between the plugins of one host process. */
export interface HostCoordination {
  /** This host's name (for logs and people; it may change and two machines may share it). */
  readonly hostName: string;
  /**
   * This host's identity: 16 hex digits derived from the machine's id (macOS hardware UUID, Linux
   * machine-id) and the work dir, so it is the same across restarts, and differs between two Macs
   * that share a config (or a copied work dir) and between two work dirs of one Mac. A handler
   * qualifies its lease owner with it (`<name>@<hostId>`) so that start-up recovery adopts only
   * its own leases. Absent on hosts older than the fleet identity.
   */
  readonly hostId?: string | undefined;
  /** Logical CPUs and physical memory of the host, for VM admission. */
  readonly cpuCount: number;
  readonly memoryBytes: number;
  readonly vmSlots: VmSlots;
  /** Held while a template is pulled: one pull per host at a time. */
  readonly pullLock: HostLock;
  /** Held by a handler while it sizes and starts a VM, so two handlers do not both take the last room. */
  readonly preparingLock: HostLock;
  /** True while the drain file exists (`anklet drain`): take no new jobs. Read live. */
  isDraining(): boolean;
  /** The current shutdown mode. */
  shutdownMode(): ShutdownMode;
}

/** Folders a plugin may use. */
export interface PluginPaths {
  /** The npm prefix plugins are installed into (`plugins_path`). */
  readonly pluginsPath: string;
  /** The folder of this plugin's package (its own files, e.g. runner scripts). */
  readonly packageDir: string;
  /** A writable folder for this plugin instance's state; it exists when the plugin starts. */
  readonly dataDir: string;
  /** The anklet config folder (`~/.config/anklet`). */
  readonly configDir: string;
  /**
   * The host's work dir (`work_dir`, else the config folder), shared by every plugin of the host:
   * what a plugin keeps for operators (runner diagnostics) goes under it, and timeline events name
   * such folders relative to it. Absent on hosts older than this field.
   */
  readonly workDir?: string | undefined;
}
