import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { ankaSimBinDir } from './bin-dir.js';
import type { ControlFile, Fault } from './faults.js';
import { withLock } from './lock.js';
import { ANKA_SIM_HOME_ENV, guestRoot, registryTagRoot, simPaths, type SimPaths } from './paths.js';
import {
  defaultState,
  nowIso,
  type LicenseState,
  type RegistryRepo,
  type SimState,
  type TagSizes,
  type VmStatus,
} from './state.js';
import { readState, transact, writeJsonAtomic } from './store.js';
import { guestToHost, killGuestProcesses } from './guest.js';
import { macFor } from './vm-ops.js';

const GiB = 1024 ** 3;

/** Files to place in a guest: guest path (absolute, or relative to `/Users/anka`) to content. */
export type GuestFiles = Record<string, string | { content: string; mode?: number }>;

interface SizeSeed {
  cpuCores?: number;
  ramBytes?: number;
  hardDriveBytes?: number;
  /** What the tag really occupies on the host disk. */
  imageSizeBytes?: number;
}

export interface RegistryTagSeed extends SizeSeed {
  tag: string;
  /** Files a pull of this tag installs into the template (and so into every clone). */
  files?: GuestFiles;
}

export interface RegistryTemplateSeed {
  name: string;
  uuid?: string;
  /** Oldest first; the last is what a pull without `--tag` takes. */
  tags: RegistryTagSeed[];
}

export interface LocalTemplateSeed extends SizeSeed {
  name: string;
  /** Defaults to the uuid of the registry template of the same name, else a new one. */
  uuid?: string;
  /** The local tag (`version` in `anka list`); sizes default to the registry tag's. */
  tag?: string;
  status?: VmStatus;
  files?: GuestFiles;
}

export interface AnkaSimOptions {
  /** Use this directory (created if needed) instead of a new temporary one. */
  dir?: string;
  /** Simulated Anka version; 3.9.0+ has `mount` and `registry --list`, older has `registry list-repos`. */
  version?: string;
  build?: string;
  product?: string;
  license?: Partial<LicenseState>;
  /** Running VMs allowed at once (default 2, Apple's limit). */
  vmLimit?: number;
  disk?: { totalBytes?: number; otherBytes?: number };
  /** What `start` on a running VM does (default `ok`). */
  startWhenRunning?: 'ok' | 'error';
  /** Print debug lines on stderr for every call. */
  debugNoise?: boolean;
  registry?: {
    online?: boolean;
    repos?: RegistryRepo[];
    templates?: RegistryTemplateSeed[];
    pullDurationMs?: number;
    pullProgressLines?: number;
  };
  /** Templates already on the host. */
  templates?: LocalTemplateSeed[];
  /** Extra environment for every `anka run`. */
  guestEnv?: Record<string, string>;
  /** Initial fault rules (see the README). */
  faults?: Fault[];
}

/** One line of `calls.jsonl`: every invocation of the simulated `anka`. */
export interface CallRecord {
  time: string;
  pid: number;
  argv: string[];
}

/** One line of `timings.jsonl`: a finished invocation, from its process start to its exit. */
export interface CallTiming {
  pid: number;
  argv: string[];
  /** ISO time the `anka` process started (before Node's start-up). */
  start: string;
  /** ISO time it exited. */
  end: string;
  exitCode: number;
}

/** A seeded simulator state directory and helpers to drive it from tests. */
export interface AnkaSimHome {
  /** The state directory; export it as `ANKA_SIM_HOME`. */
  readonly dir: string;
  /** `ANKA_SIM_HOME` and a `PATH` with the simulated `anka` first: spread into a child's env. */
  readonly env: { ANKA_SIM_HOME: string; PATH: string };
  readonly binDir: string;
  readonly paths: SimPaths;
  /** A snapshot of the state. */
  readState(): SimState;
  /** Changes the state under the simulator's lock (safe while `anka` processes run). */
  updateState(change: (state: SimState) => void): void;
  /** Replaces the fault rules. */
  setFaults(faults: ReadonlyArray<Fault>): void;
  /** Appends a fault rule. */
  addFault(fault: Fault): void;
  /** The fault rules still pending (consumed ones are gone). */
  faults(): Fault[];
  /** Every `anka` call so far, oldest first. */
  calls(): CallRecord[];
  /** Every finished `anka` call with its start and end, in the order they ended. */
  timings(): CallTiming[];
  /** Kills leftover guest processes and deletes the directory. */
  remove(): void;
}

function sizesOf(seed: SizeSeed, fallback?: TagSizes): TagSizes {
  return {
    cpu_cores: seed.cpuCores ?? fallback?.cpu_cores ?? 4,
    ram_size: seed.ramBytes ?? fallback?.ram_size ?? 8 * GiB,
    hard_drive: seed.hardDriveBytes ?? fallback?.hard_drive ?? 100 * GiB,
    image_size: seed.imageSizeBytes ?? fallback?.image_size ?? 20 * GiB,
  };
}

function writeGuestFiles(rootFor: (guestPath: string) => string, files: GuestFiles | undefined): void {
  for (const [guestPath, spec] of Object.entries(files ?? {})) {
    const path = rootFor(guestPath);
    const { content, mode } = typeof spec === 'string' ? { content: spec, mode: undefined } : spec;
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
    if (mode !== undefined) chmodSync(path, mode);
  }
}

function readControl(paths: SimPaths): ControlFile {
  try {
    return JSON.parse(readFileSync(paths.control, 'utf8')) as ControlFile;
  } catch {
    return { faults: [] };
  }
}

/**
 * Creates a simulated Anka host: state, registry and local templates. Other packages' tests use
 * it together with `home.env` to run real code against the simulated `anka`.
 *
 * @example
 * ```ts
 * const home = createAnkaSimHome({
 *   registry: { templates: [{ name: 'macos-15', tags: [{ tag: 'v1', cpuCores: 4, ramBytes: 8 * 2 ** 30 }] }] },
 * });
 * execFileSync('anka', ['-j', 'registry', 'pull', 'macos-15'], { env: { ...process.env, ...home.env } });
 * ```
 */
export function createAnkaSimHome(options: AnkaSimOptions = {}): AnkaSimHome {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'anka-sim-'));
  mkdirSync(dir, { recursive: true });
  const paths = simPaths(dir);
  mkdirSync(paths.vms, { recursive: true });
  mkdirSync(paths.registry, { recursive: true });

  const state = defaultState();
  if (options.version) state.anka.version = options.version;
  if (options.build) state.anka.build = options.build;
  if (options.product) state.anka.product = options.product;
  Object.assign(state.license, options.license);
  if (options.vmLimit !== undefined) state.host.vm_limit = options.vmLimit;
  if (options.disk?.totalBytes !== undefined) state.host.disk_total_bytes = options.disk.totalBytes;
  if (options.disk?.otherBytes !== undefined) state.host.disk_other_bytes = options.disk.otherBytes;
  if (options.startWhenRunning) state.host.start_when_running = options.startWhenRunning;
  if (options.debugNoise !== undefined) state.host.debug_noise = options.debugNoise;
  const registry = options.registry ?? {};
  if (registry.online !== undefined) state.registry.online = registry.online;
  if (registry.repos) state.registry.repos = registry.repos;
  if (registry.pullDurationMs !== undefined) state.registry.pull_duration_ms = registry.pullDurationMs;
  if (registry.pullProgressLines !== undefined) state.registry.pull_progress_lines = registry.pullProgressLines;
  for (const seed of registry.templates ?? []) {
    const uuid = seed.uuid ?? randomUUID();
    state.registry.templates.push({ uuid, name: seed.name, tags: seed.tags.map((t) => ({ tag: t.tag, ...sizesOf(t) })) });
    for (const tag of seed.tags) {
      writeGuestFiles((p) => join(registryTagRoot(paths, uuid, tag.tag), p.startsWith('/') ? p : `/Users/anka/${p}`), tag.files);
    }
  }
  for (const seed of options.templates ?? []) {
    const remote = state.registry.templates.find((t) => t.name === seed.name);
    const uuid = seed.uuid ?? remote?.uuid ?? randomUUID();
    const remoteTag = remote?.tags.find((t) => t.tag === seed.tag);
    const sizes = sizesOf(seed, remoteTag);
    const now = nowIso();
    state.serial += 1;
    state.vms.push({
      uuid,
      name: seed.name,
      status: seed.status ?? 'stopped',
      ...sizes,
      version: seed.tag,
      local_tags: seed.tag === undefined ? undefined : { [seed.tag]: sizes },
      creation_date: now,
      access_date: now,
      mac: macFor(state.serial),
      mounts: [],
      labels: [],
      port_forwarding: [],
    });
    mkdirSync(join(guestRoot(paths, uuid), 'Users/anka'), { recursive: true });
    writeGuestFiles((p) => guestToHost(paths, uuid, p), seed.files);
  }
  state.guest_env = { ...options.guestEnv };
  writeJsonAtomic(paths.state, state);
  if (options.faults) writeJsonAtomic(paths.control, { faults: options.faults });

  const binDir = ankaSimBinDir();
  const setFaults = (faults: ReadonlyArray<Fault>) => withLock(paths.lock, () => writeJsonAtomic(paths.control, { faults }));
  return {
    dir,
    binDir,
    paths,
    env: { [ANKA_SIM_HOME_ENV]: dir, PATH: `${binDir}${delimiter}${process.env.PATH ?? ''}` } as AnkaSimHome['env'],
    readState: () => readState(paths),
    updateState: (change) => transact(paths, change),
    setFaults,
    addFault: (fault) =>
      withLock(paths.lock, () => {
        const control = readControl(paths);
        writeJsonAtomic(paths.control, { faults: [...(control.faults ?? []), fault] });
      }),
    faults: () => readControl(paths).faults ?? [],
    calls: () => readJsonLines<CallRecord>(paths.calls),
    timings: () => readJsonLines<CallTiming>(paths.timings),
    remove: () => {
      try {
        // Guest processes left running (a background runner) would outlive the directory.
        for (const vm of readState(paths).vms) killGuestProcesses(paths, vm.uuid);
      } catch {
        // no state: nothing running
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The records of a JSON-lines log; none when it does not exist yet. */
function readJsonLines<T>(file: string): T[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as T);
}
