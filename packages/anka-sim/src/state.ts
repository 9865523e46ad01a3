/**
 * The simulated host's state, kept as one JSON file. Field names of VM records follow the keys
 * `anka -j show` prints, so commands can print them without renaming.
 */

export type VmStatus = 'stopped' | 'running' | 'suspended' | 'failed';

/** The sizes of one template tag; `image_size` is what the tag really occupies on disk. */
export interface TagSizes {
  cpu_cores: number;
  ram_size: number;
  hard_drive: number;
  image_size: number;
}

export interface MountRecord {
  /** Host path as given (after symlink resolution). */
  host: string;
  /** Folder name under `/Volumes/My Shared Files` in the guest. */
  guest: string;
}

export interface VmRecord extends TagSizes {
  uuid: string;
  name: string;
  status: VmStatus;
  /** Current local tag (`version` in `list`); templates only. */
  version?: string | undefined;
  /** Local tags of a template and what each costs on disk. */
  local_tags?: Record<string, TagSizes> | undefined;
  /** Set on clones; clones share blocks with their template (APFS), so they cost no disk here. */
  cloned_from?: string | undefined;
  /** `clone -c`: an independent full copy, which does cost disk. */
  full_copy?: boolean | undefined;
  creation_date: string;
  access_date: string;
  stop_date?: string | undefined;
  start_date?: string | undefined;
  ip?: string | undefined;
  pid?: number | undefined;
  vnc_port?: number | undefined;
  mac: string;
  mounts: MountRecord[];
  labels: string[];
  port_forwarding: Array<{ name: string; protocol: string; guest_port: number; host_port?: number }>;
}

export interface RegistryTag extends TagSizes {
  tag: string;
}

export interface RegistryTemplate {
  uuid: string;
  name: string;
  /** Oldest first; the last one is what a pull without `--tag` takes. */
  tags: RegistryTag[];
}

export interface RegistryRepo {
  name: string;
  url: string;
  default: boolean;
}

export interface LicenseState {
  license_type: string;
  status: string;
  expires: string;
  max_number_of_cores: number;
  fulfillment: string;
  product: string;
  /** What commands that need a licence print when `status` is not `valid`. */
  error: string;
}

export interface SimState {
  schema: 1;
  anka: { product: string; version: string; build: string };
  license: LicenseState;
  host: {
    /** Running VMs allowed at once (Apple allows 2 macOS guests). */
    vm_limit: number;
    disk_total_bytes: number;
    /** Disk used by things other than Anka's library. */
    disk_other_bytes: number;
    /** What `start` on a running VM does; the real CLI's behaviour is not documented. */
    start_when_running: 'ok' | 'error';
    /** Print debug chatter on stderr for every command, as `--debug` does. */
    debug_noise: boolean;
  };
  registry: {
    online: boolean;
    repos: RegistryRepo[];
    templates: RegistryTemplate[];
    /** How long a pull takes and how many progress lines it prints. */
    pull_duration_ms: number;
    pull_progress_lines: number;
  };
  vms: VmRecord[];
  /** Extra environment for every `anka run` (how tests point guest scripts at simulators). */
  guest_env: Record<string, string>;
  /** Counter for IPs, VNC ports and MACs, so they never repeat on one host. */
  serial: number;
}

const GiB = 1024 ** 3;

/** A fresh host: no VMs, an empty registry, a valid Enterprise Plus licence, Anka 3.9.1. */
export function defaultState(): SimState {
  return {
    schema: 1,
    anka: { product: 'Anka Build Enterpriseplus', version: '3.9.1', build: '216' },
    license: {
      license_type: 'com.veertu.anka.entplus',
      status: 'valid',
      expires: '31-dec-2030',
      max_number_of_cores: 0,
      fulfillment: 'sim',
      product: 'Anka Build Enterpriseplus',
      error: 'Wrong host for license (-4)',
    },
    host: {
      vm_limit: 2,
      disk_total_bytes: 1000 * GiB,
      disk_other_bytes: 100 * GiB,
      start_when_running: 'ok',
      debug_noise: false,
    },
    registry: {
      online: true,
      repos: [{ name: 'default', url: 'http://anka.registry.sim:8089', default: true }],
      templates: [],
      pull_duration_ms: 0,
      pull_progress_lines: 3,
    },
    vms: [],
    guest_env: {},
    serial: 0,
  };
}

/** Bytes of the host disk the VM library uses: templates and full copies, not linked clones. */
export function libraryBytes(state: SimState): number {
  let total = 0;
  for (const vm of state.vms) {
    if (vm.cloned_from && !vm.full_copy) continue;
    const tags = vm.local_tags ? Object.values(vm.local_tags) : [];
    total += tags.length > 0 ? tags.reduce((sum, t) => sum + t.image_size, 0) : vm.image_size;
  }
  return total;
}

export function availableBytes(state: SimState): number {
  return Math.max(0, state.host.disk_total_bytes - state.host.disk_other_bytes - libraryBytes(state));
}

/** Finds a VM by name or uuid, the way every anka command accepts either. */
export function findVm(state: SimState, nameOrUuid: string): VmRecord | undefined {
  return state.vms.find((vm) => vm.uuid === nameOrUuid) ?? state.vms.find((vm) => vm.name === nameOrUuid);
}

export function findRegistryTemplate(state: SimState, nameOrUuid: string): RegistryTemplate | undefined {
  return (
    state.registry.templates.find((t) => t.uuid === nameOrUuid) ?? state.registry.templates.find((t) => t.name === nameOrUuid)
  );
}

/** RFC 3339 without milliseconds, as Anka prints dates. */
export function nowIso(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}
