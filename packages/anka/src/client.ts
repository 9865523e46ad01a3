import { randomUUID } from 'node:crypto';
import { statfsSync } from 'node:fs';
import type {
  Admission,
  AnkaCallOptions,
  AnkaClient,
  HeldTemplate,
  AnkaVm,
  EnsureTemplateOptions,
  EnsureTemplateResult,
  HostCoordination,
  HostUsage,
  Logger,
  PluginMetrics,
  PullProgress,
  RunOptions,
  RunResult,
  VmRequirements,
  VmReservation,
} from '@anklet/core';
import { AnkaRunner, defaultTimeouts, toVm, type AnkaTimeouts } from './cli.js';
import { numberField, parseEnvelope, parseEnvelopeLine, stringField } from './envelope.js';
import { AnkaCliError, classifyAnkaError } from './errors.js';
import { mergeMounts, parseMount } from './mounts.js';
import { TemplateTracker } from './tracker.js';
import { featuresOf, parseAnkaVersion, versionAtLeast, type AnkaFeatures } from './version.js';

/** Every VM anklet creates is named with this prefix, so a host can find its orphans. */
export const VM_NAME_PREFIX = 'anklet-vm-';

/** The Go anklet's default when `template_disk_buffer` is unset or 0. */
export const DEFAULT_TEMPLATE_DISK_BUFFER_PERCENT = 10;

/** Licence types that cannot run anklet's VMs (Anka Run, Anka Develop). */
const UNSUPPORTED_LICENSES = new Set(['com.veertu.anka.run', 'com.veertu.anka.develop']);

/** The host services the client shares with the rest of the process. */
export type AnkaHostCoordination = Pick<HostCoordination, 'cpuCount' | 'memoryBytes' | 'vmSlots' | 'pullLock' | 'preparingLock'>;

export interface AnkaHostOptions {
  readonly coordination: AnkaHostCoordination;
  /** The `anka` executable (default `anka`, found on PATH). */
  readonly bin?: string | undefined;
  readonly env?: NodeJS.ProcessEnv | undefined;
  readonly logger?: Logger | undefined;
  /** True when any host-to-guest mount is configured: start then checks `anka mount` is supported. */
  readonly mountsConfigured?: boolean | undefined;
  /**
   * Whether the host is Apple Silicon, where mounts exist. Off macOS (a simulator) it is assumed
   * true; on an Intel Mac mounts are refused whatever the version.
   */
  readonly appleSilicon?: boolean | undefined;
  /** Size of the disk templates live on; `statfs('/')` by default. */
  readonly diskTotalBytes?: (() => number) | undefined;
  readonly timeouts?: Partial<AnkaTimeouts> | undefined;
  /** Period of the "still in progress" log line (default 10 s). */
  readonly progressLogMs?: number | undefined;
  /** Grace between SIGTERM and SIGKILL of a stopped call (default 5 s). */
  readonly killGraceMs?: number | undefined;
  /** Attempts and pause for VM deletion (default 5, 2 s). */
  readonly deleteAttempts?: number | undefined;
  readonly deleteRetryDelayMs?: number | undefined;
  /**
   * Start the template discovery ({@link AnkaHost.discoverTemplates}) with the checks: its
   * `anka -j list` runs beside `version` and `license show` instead of after them. Default false.
   */
  readonly discover?: boolean | undefined;
}

/** The settings of one handler plugin that change what the client does. */
export interface AnkaPluginSettings {
  /** `registry_url`: the registry to pull from (`--remote`); the CLI's default registry when unset. */
  readonly registryUrl?: string | undefined;
  /** `skip_pull`: never pull; a template or tag that is not here sends the job elsewhere. */
  readonly skipPull?: boolean | undefined;
  /** `template_disk_buffer` (falling back to `global_template_disk_buffer`, then 10): % of the disk kept free. */
  readonly templateDiskBufferPercent?: number | undefined;
  /** `skip_cpu_and_memory_resource_checks` (or the global one). The VM limit still applies. */
  readonly skipResourceChecks?: boolean | undefined;
  /** `global_host_to_guest_folder_mounts`, mounted first. */
  readonly globalMounts?: ReadonlyArray<string> | undefined;
  /** The plugin's `host_to_guest_folder_mounts`. */
  readonly mounts?: ReadonlyArray<string> | undefined;
}

export interface AnkaLicense {
  readonly status: string;
  readonly licenseType: string;
  readonly product: string | undefined;
}

const positive = (value: unknown): number | undefined => (typeof value === 'number' && value > 0 ? value : undefined);
const stringList = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);

/**
 * Reads the Anka settings of a handler from its config block and the top-level config, applying
 * the `global_*` keys (the global disk buffer is honoured, unlike in Go, and 0 means the default).
 */
export function ankaSettingsFromConfig(block: Readonly<Record<string, unknown>>, top: Readonly<Record<string, unknown>> = {}): AnkaPluginSettings {
  return {
    registryUrl: typeof block.registry_url === 'string' && block.registry_url.trim() !== '' ? block.registry_url.trim() : undefined,
    skipPull: block.skip_pull === true,
    templateDiskBufferPercent:
      positive(block.template_disk_buffer) ?? positive(top.global_template_disk_buffer) ?? DEFAULT_TEMPLATE_DISK_BUFFER_PERCENT,
    skipResourceChecks: block.skip_cpu_and_memory_resource_checks === true || top.global_skip_cpu_and_memory_resource_checks === true,
    globalMounts: stringList(top.global_host_to_guest_folder_mounts),
    mounts: stringList(block.host_to_guest_folder_mounts),
  };
}

function diskTotalOfRoot(): number {
  const stats = statfsSync('/');
  return stats.blocks * stats.bsize;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Checks `anka` and creates the host's client: the CLI answers, `anka -j version` and
 * `anka -j license show` succeed, the licence is valid and of a type that runs VMs, and mounts are
 * supported when configured. Failures are operator errors with a hint.
 */
export async function createAnkaHost(options: AnkaHostOptions): Promise<AnkaHost> {
  const timeouts = { ...defaultTimeouts, ...options.timeouts };
  const bin = options.bin ?? 'anka';
  const runner = new AnkaRunner(
    { bin, env: options.env, logger: options.logger, progressLogMs: options.progressLogMs ?? 10_000, killGraceMs: options.killGraceMs ?? 5_000 },
    options.logger,
  );
  const query = { timeoutMs: timeouts.query };
  // The three checks run at once (each is a process start); their results are judged in order.
  const settle = <T>(p: Promise<T>) => p.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }));
  // A read-only listing; if a check fails it is dropped with the host (its failure is handled there).
  const listing = options.discover ? runner.json(['list'], query) : undefined;
  listing?.catch(() => undefined);
  const [bareResult, versionResult, licenseResult] = await Promise.all([
    settle(runner.raw([], query)),
    settle(runner.json(['version'], query)),
    settle(runner.json(['license', 'show'], query)),
  ]);
  if (!bareResult.ok) throw bareResult.error;
  const bare = bareResult.value;
  if (bare.exitCode !== 0) {
    throw new AnkaCliError({
      command: [bin],
      exitCode: bare.exitCode,
      ankaMessage: 'anka command not found or not working properly',
      reason: 'missing_cli',
      operator: true,
      hint: 'check that `anka` runs for the user anklet runs as',
    });
  }
  if (!versionResult.ok) throw versionResult.error;
  const versionBody = versionResult.value.body;
  const version = stringField(versionBody, 'version') ?? '';
  if (!licenseResult.ok) throw licenseResult.error;
  const licenseBody = licenseResult.value.body;
  const license: AnkaLicense = {
    status: stringField(licenseBody, 'status') ?? '',
    licenseType: stringField(licenseBody, 'license_type') ?? '',
    product: stringField(licenseBody, 'product'),
  };
  const licenseCommand = [bin, '-j', 'license', 'show'];
  if (license.status !== 'valid') {
    throw new AnkaCliError({
      command: licenseCommand,
      exitCode: 0,
      ankaMessage: `anka license is invalid (status ${JSON.stringify(license.status)})`,
      reason: 'license',
      operator: true,
      hint: 'run `anka license show` on this host and activate a valid Anka Build licence',
    });
  }
  if (UNSUPPORTED_LICENSES.has(license.licenseType)) {
    throw new AnkaCliError({
      command: licenseCommand,
      exitCode: 0,
      ankaMessage: `anka license type is not supported (${license.licenseType})`,
      reason: 'license',
      operator: true,
      hint: 'anklet needs an Anka Build licence; Anka Run and Anka Develop cannot run its VMs',
    });
  }
  const features = featuresOf(version);
  const appleSilicon = options.appleSilicon ?? (process.platform !== 'darwin' || process.arch === 'arm64');
  if (options.mountsConfigured) {
    if (!appleSilicon) {
      throw new AnkaCliError({
        command: [bin, 'mount'],
        exitCode: null,
        ankaMessage: 'host-to-guest folder mounts are only supported on Apple Silicon hosts',
        reason: 'unsupported',
        operator: true,
        hint: 'remove host_to_guest_folder_mounts / global_host_to_guest_folder_mounts on Intel hosts',
      });
    }
    if (parseAnkaVersion(version) === null || !versionAtLeast(version, 3, 9, 0)) {
      throw new AnkaCliError({
        command: [bin, '-j', 'version'],
        exitCode: 0,
        ankaMessage: `mounting host folders into the guest VM requires Anka >= 3.9.0, got ${JSON.stringify(version)}`,
        reason: 'unsupported',
        operator: true,
        hint: 'upgrade Anka to 3.9.0 or later, or remove the host-to-guest folder mounts',
      });
    }
  }
  const host = new AnkaHost(runner, options, timeouts, version, license, features);
  if (listing) host.discoverTemplates(listing).catch(() => undefined);
  return host;
}

/** The host's Anka client: one per process, shared by every handler plugin. */
export class AnkaHost {
  readonly tracker = new TemplateTracker();
  /** VM name -> the template uuid it was cloned from (for the tracker's in-use count). */
  readonly #clonedFrom = new Map<string, string>();
  #discovery: Promise<void> | undefined;
  #listed: Promise<void> | undefined;
  /** CPU/RAM of the VMs handlers of this process have reserved (counted at once, before `anka` sees them). */
  readonly #reserved = new Set<VmRequirements>();
  /** Running VMs anklet did not make (names without our prefix), from the last `anka -j list [--running]`. */
  #foreign: ForeignUsage = { count: 0, cpuCores: 0, ramBytes: 0 };
  #foreignCheck: Promise<ForeignUsage> | undefined;
  /** The `anka -j list` of start-up, lent to each handler's first orphan scan; dropped on any clone or delete. */
  #startList: { readonly at: number; readonly vms: ReadonlyArray<AnkaVm> } | undefined;

  constructor(
    readonly runner: AnkaRunner,
    readonly options: AnkaHostOptions,
    readonly timeouts: AnkaTimeouts,
    readonly version: string,
    readonly license: AnkaLicense,
    readonly features: AnkaFeatures,
  ) {}

  get coordination(): AnkaHostCoordination {
    return this.options.coordination;
  }

  diskTotalBytes(): number {
    return (this.options.diskTotalBytes ?? diskTotalOfRoot)();
  }

  /** The registries `anka` knows, with the command that fits this version (renamed in 3.9.0). */
  async listRegistries(options: AnkaCallOptions = {}): Promise<Array<{ name: string; url: string; default: boolean }>> {
    const body = (await this.runner.json(this.features.registryListArgs, { timeoutMs: options.timeoutMs ?? this.timeouts.query, signal: options.signal })).body;
    // Older CLIs print a map keyed by name; newer ones an array.
    const items = Array.isArray(body)
      ? body
      : body && typeof body === 'object'
        ? Object.entries(body as Record<string, unknown>).map(([name, v]) => ({ name, ...(v as object) }))
        : [];
    return items.map((item) => ({
      name: stringField(item, 'name') ?? '',
      url: stringField(item, 'url') ?? '',
      default: (item as { default?: unknown }).default === true,
    }));
  }

  /**
   * Fills the template tracker from the templates already on the host (once per process): one
   * `anka -j list`, then one `show` per template, all at once. The tracker then knows each
   * template's tag and sizes, so a job for a template already here costs no `anka` call. The host
   * starts it without waiting for it; calls that read the tracker wait for it ({@link discovered}).
   */
  discoverTemplates(listing?: Promise<{ body: unknown }>): Promise<void> {
    this.#discovery ??= this.#discover(listing ?? this.runner.json(['list'], { timeoutMs: this.timeouts.query }));
    return this.#discovery;
  }

  /** Resolves once the start-up discovery, if one was started, has ended (whatever its outcome). */
  discovered(): Promise<void> {
    return this.#discovery ? this.#discovery.then(
      () => undefined,
      () => undefined,
    ) : Promise.resolve();
  }

  /** Resolves once the start-up discovery's `list` has answered (or failed): what the orphan scan needs. */
  listed(): Promise<void> {
    return this.#listed ?? Promise.resolve();
  }

  async #discover(listing: Promise<{ body: unknown }>): Promise<void> {
    this.#listed = listing.then(
      () => undefined,
      () => undefined,
    );
    const body = (await listing).body;
    const vms = (Array.isArray(body) ? body : []).map(toVm);
    this.#startList = { at: Date.now(), vms };
    this.#foreign = { count: vms.filter((vm) => vm.status === 'running' && !vm.name.startsWith(VM_NAME_PREFIX)).length, cpuCores: 0, ramBytes: 0 };
    // Our own clones are VMs, not templates (the Go tracker mixes them up).
    const templates = vms.filter((vm) => !vm.name.startsWith(VM_NAME_PREFIX) && vm.uuid !== '');
    await Promise.all(
      templates.map(async (vm) => {
        let shown: AnkaVm | undefined;
        try {
          shown = toVm((await this.runner.json(['show', vm.uuid], { timeoutMs: this.timeouts.query })).body);
        } catch (err) {
          this.options.logger?.warn('failed to read template size', { template: vm.name, error: String(err) });
        }
        const accessed = (shown?.accessDate ? Date.parse(shown.accessDate) : NaN) || Date.now();
        this.tracker.discover(vm.uuid, vm.name, vm.tag, shown?.imageSizeBytes ?? 0, accessed);
        if (shown && shown.status !== 'failed') this.tracker.learn(vm.uuid, shown);
      }),
    );
  }

  /** The start-up `list`, while no VM was cloned or deleted since and it is under 30 s old. */
  startList(): ReadonlyArray<AnkaVm> | undefined {
    const list = this.#startList;
    if (list && Date.now() - list.at < 30_000) return list.vms;
    this.#startList = undefined;
    return undefined;
  }

  /** Drops the start-up `list` (a VM was cloned or deleted). */
  vmsChanged(): void {
    this.#startList = undefined;
  }

  /** What the reserved VMs of this process and the last known foreign VMs use. */
  knownUsage(): HostUsage {
    const { cpuCount, memoryBytes, vmSlots } = this.coordination;
    let usedCpuCores = this.#foreign.cpuCores;
    let usedRamBytes = this.#foreign.ramBytes;
    for (const r of this.#reserved) {
      usedCpuCores += r.cpuCores;
      usedRamBytes += r.ramBytes;
    }
    return { cpuCount, memoryBytes, runningVms: vmSlots.used + this.#foreign.count, vmLimit: vmSlots.total, usedCpuCores, usedRamBytes };
  }

  reserve(requirements: VmRequirements): () => void {
    const entry = { ...requirements };
    this.#reserved.add(entry);
    return () => void this.#reserved.delete(entry);
  }

  /**
   * Looks again at the VMs anklet did not make (`anka -j list --running`, plus a `show` for each
   * such VM: usually none). Calls made while one runs share it.
   */
  refreshForeign(runner: AnkaRunner = this.runner): Promise<ForeignUsage> {
    if (this.#foreignCheck) return this.#foreignCheck;
    const check = (async () => {
      const query = { timeoutMs: this.timeouts.query };
      const body = (await runner.json(['list', '--running'], query)).body;
      const foreign = (Array.isArray(body) ? body : []).map(toVm).filter((vm) => !vm.name.startsWith(VM_NAME_PREFIX));
      const sizes = await Promise.all(
        foreign.map((vm) =>
          runner.json(['show', vm.uuid || vm.name], query).then(
            (r) => toVm(r.body),
            () => null, // deleted meanwhile: counts for nothing
          ),
        ),
      );
      const shown = sizes.filter((vm): vm is AnkaVm => vm !== null);
      const usage: ForeignUsage = {
        count: shown.length,
        cpuCores: shown.reduce((sum, vm) => sum + (vm.cpuCores ?? 0), 0),
        ramBytes: shown.reduce((sum, vm) => sum + (vm.ramBytes ?? 0), 0),
      };
      this.#foreign = usage;
      return usage;
    })();
    this.#foreignCheck = check;
    const clear = () => {
      if (this.#foreignCheck === check) this.#foreignCheck = undefined;
    };
    check.then(clear, clear);
    return check;
  }

  /** Remembers which template a VM came from, so the template is never cleaned up under it. */
  noteClone(vmName: string, templateUuid: string | undefined): void {
    this.vmsChanged();
    if (!templateUuid) return;
    this.#clonedFrom.set(vmName, templateUuid);
    this.tracker.changeInUse(templateUuid, 1);
  }

  noteDeleted(vmName: string): void {
    this.vmsChanged();
    const uuid = this.#clonedFrom.get(vmName);
    if (uuid === undefined) return;
    this.#clonedFrom.delete(vmName);
    this.tracker.changeInUse(uuid, -1);
  }

  /** A client bound to one handler's settings, logger and metrics. */
  forPlugin(settings: AnkaPluginSettings = {}, services: { logger?: Logger | undefined; metrics?: PluginMetrics | undefined } = {}): AnkaClient {
    // Entries are checked now so a typo is reported at start, not at the first job.
    for (const entry of [...(settings.globalMounts ?? []), ...(settings.mounts ?? [])]) parseMount(entry);
    return new PluginAnkaClient(this, settings, services.logger ?? this.options.logger, services.metrics);
  }
}

/** Running VMs on the host that anklet did not make, and what they use. */
interface ForeignUsage {
  readonly count: number;
  readonly cpuCores: number;
  readonly ramBytes: number;
}

/** Admission from a host's usage (see {@link PluginAnkaClient.checkAdmission}). */
function decide(requirements: VmRequirements, usage: HostUsage, skip: boolean): Admission {
  if (!skip && requirements.cpuCores > usage.cpuCount) {
    return { decision: 'never_fits', reason: `host does not have enough CPU cores to run VM (need ${requirements.cpuCores}, host has ${usage.cpuCount})`, usage };
  }
  if (!skip && requirements.ramBytes > usage.memoryBytes) {
    return { decision: 'never_fits', reason: `host does not have enough memory to run VM (need ${requirements.ramBytes}, host has ${usage.memoryBytes})`, usage };
  }
  if (usage.runningVms >= usage.vmLimit) {
    return { decision: 'fits_later', reason: `maximum number of running VMs reached (${usage.runningVms} of ${usage.vmLimit})`, usage };
  }
  if (!skip && requirements.cpuCores + usage.usedCpuCores > usage.cpuCount) {
    return { decision: 'fits_later', reason: 'host does not have enough CPU cores to run VM', usage };
  }
  if (!skip && requirements.ramBytes + usage.usedRamBytes > usage.memoryBytes) {
    return { decision: 'fits_later', reason: 'host does not have enough memory to run VM', usage };
  }
  return { decision: 'fits_now', usage };
}

class PluginAnkaClient implements AnkaClient {
  readonly #runner: AnkaRunner;
  /** The check of foreign VMs started by the last `reserveVm`, awaited by `start` (see reserveVm). */
  #pendingCheck: { readonly requirements: VmRequirements; readonly check: Promise<ForeignUsage> } | undefined;

  constructor(
    readonly host: AnkaHost,
    readonly settings: AnkaPluginSettings,
    readonly logger: Logger | undefined,
    readonly metrics: PluginMetrics | undefined,
  ) {
    // The plugin's own logger, so "still in progress" lines carry the plugin's name.
    this.#runner = logger ? new AnkaRunner({ ...host.runner.settings, logger }, logger) : host.runner;
  }

  #json(args: ReadonlyArray<string>, kind: keyof AnkaTimeouts, options: AnkaCallOptions & { onLine?: (line: string) => void } = {}) {
    return this.#runner.json(args, { timeoutMs: options.timeoutMs ?? this.host.timeouts[kind], signal: options.signal, onLine: options.onLine });
  }

  /** `registry [--remote <url>] <sub…>`: the registry option goes before the sub-command. */
  #registry(sub: ReadonlyArray<string>): string[] {
    return ['registry', ...(this.settings.registryUrl ? ['--remote', this.settings.registryUrl] : []), ...sub];
  }

  async version(): Promise<string> {
    return this.host.version;
  }

  async list(options: AnkaCallOptions = {}): Promise<ReadonlyArray<AnkaVm>> {
    const body = (await this.#json(['list'], 'query', options)).body;
    return Array.isArray(body) ? body.map(toVm) : [];
  }

  async listRunning(options: AnkaCallOptions = {}): Promise<ReadonlyArray<AnkaVm>> {
    const body = (await this.#json(['list', '--running'], 'query', options)).body;
    return Array.isArray(body) ? body.map(toVm) : [];
  }

  async heldTemplates(): Promise<ReadonlyArray<HeldTemplate>> {
    // The tracker is filled by the start-up discovery, then kept by pulls, clones and clean-ups:
    // no `anka` call here, so hosts can publish what they hold every second.
    await this.host.discovered();
    return this.host.tracker
      .all()
      .filter((t) => !t.pulling && t.verified !== false)
      .map((t) => ({ uuid: t.uuid, name: t.name, tag: t.tag }));
  }

  async listOwnVms(options: AnkaCallOptions = {}): Promise<ReadonlyArray<AnkaVm>> {
    await this.host.listed();
    // Right after start the host's discovery `list` answers (every handler scans for orphans then).
    const vms = this.host.startList() ?? (await this.list(options));
    return vms.filter((vm) => vm.name.startsWith(VM_NAME_PREFIX));
  }

  async show(nameOrUuid: string, options: AnkaCallOptions = {}): Promise<AnkaVm | null> {
    try {
      return toVm((await this.#json(['show', nameOrUuid], 'query', options)).body);
    } catch (err) {
      if (err instanceof AnkaCliError && err.reason === 'not_found') return null;
      throw err;
    }
  }

  /** `anka -j list <template>`: the local template, or null when it is not on the host. */
  async #local(template: string, options: AnkaCallOptions): Promise<AnkaVm | null> {
    try {
      const body = (await this.#json(['list', template], 'query', options)).body;
      const first: unknown = Array.isArray(body) ? body[0] : undefined;
      return first === undefined ? null : toVm(first);
    } catch (err) {
      if (err instanceof AnkaCliError && err.reason === 'not_found') return null;
      throw err;
    }
  }

  async ensureTemplate(template: string, tag?: string, options: EnsureTemplateOptions = {}): Promise<EnsureTemplateResult> {
    await this.host.discovered();
    const log = this.logger;
    log?.info('ensuring vm template exists on host', { template, tag: tag ?? '(using latest)' });
    // The host's template record: a template we know is here at this tag costs no `anka` call.
    const known = this.host.tracker.known(template);
    if (known && (tag !== undefined ? known.tag === tag : known.tag === undefined || this.settings.skipPull)) {
      this.host.tracker.recordUse(known.uuid, known.name, known.tag, 0, Date.now());
      log?.debug('using existing template', { template: known.name, uuid: known.uuid, tag: known.tag });
      return { status: 'ready', uuid: known.uuid, name: known.name, tag: known.tag, pulled: false };
    }
    const local = await this.#local(template, options);
    if (local?.status === 'failed') {
      throw new AnkaCliError({
        command: [this.#runner.settings.bin, '-j', 'list', template],
        exitCode: 0,
        ankaMessage: `${template}: vm template is not running and instead failed`,
        reason: 'failed',
      });
    }
    // With no tag asked for, Go pulls again to pick up a newer latest; skip_pull keeps what is here.
    const needPull = local === null || (tag !== undefined ? local.tag !== tag : local.tag !== undefined);
    if (local && (!needPull || (this.settings.skipPull && tag === undefined))) {
      const shown = await this.show(local.uuid, options);
      this.host.tracker.recordUse(local.uuid, local.name, local.tag, shown?.imageSizeBytes ?? 0, Date.parse(shown?.accessDate ?? '') || Date.now());
      if (shown) this.host.tracker.learn(local.uuid, shown);
      log?.debug('using existing template', { template: local.name, uuid: local.uuid, tag: local.tag });
      return { status: 'ready', uuid: local.uuid, name: local.name, tag: local.tag, pulled: false };
    }
    if (this.settings.skipPull) {
      return { status: 'not_on_host', message: `${template}${tag ? ` tag ${tag}` : ''} is not on this host and skip_pull is set` };
    }

    let uuid: string;
    let name: string;
    try {
      const body = (await this.#json(this.#registry(['show', template, ...(tag ? ['--tag', tag] : [])]), 'query', options)).body;
      uuid = stringField(body, 'uuid') ?? stringField(body, 'id') ?? local?.uuid ?? template;
      name = stringField(body, 'name') ?? template;
    } catch (err) {
      if (err instanceof AnkaCliError && err.reason === 'not_found') return { status: 'not_found', message: err.ankaMessage };
      throw err;
    }

    // One pull per host: a second job that needs a pull goes to another host instead of waiting.
    const release = this.host.coordination.pullLock.tryAcquire();
    if (!release || this.host.tracker.anyPulling()) {
      release?.();
      return { status: 'pull_in_progress', message: 'a pull is already running on this host' };
    }
    const tracker = this.host.tracker;
    tracker.setPulling(uuid, name, tag, true);
    try {
      const space = await this.#ensureSpace(uuid, name, tag, options);
      if (space) return { status: 'no_space', message: space };
      await this.#pull(uuid, name, tag, options);
      const shown = await this.show(uuid, options);
      tracker.recordUse(uuid, name, shown?.tag ?? tag, shown?.imageSizeBytes ?? 0, Date.now());
      if (shown) tracker.learn(uuid, shown);
      log?.info('successfully pulled template', { template: name, uuid, tag });
      return { status: 'ready', uuid, name, tag: shown?.tag ?? tag, pulled: true };
    } catch (err) {
      // Only a real "not found" means the registry lacks the tag (Go cancels on any pull error).
      if (err instanceof AnkaCliError && err.reason === 'not_found') return { status: 'not_found', message: err.ankaMessage };
      throw err;
    } finally {
      tracker.setPulling(uuid, name, tag, false);
      release();
    }
  }

  async #pull(uuid: string, name: string, tag: string | undefined, options: EnsureTemplateOptions): Promise<void> {
    const started = Date.now();
    let lastLogged = -10;
    this.metrics?.setStatus('pulling');
    const onLine = (line: string) => {
      const envelope = parseEnvelopeLine(line.trim());
      const percent = numberField(envelope?.body, 'progress');
      if (percent === undefined) return;
      const progress: PullProgress = {
        template: name,
        tag,
        percent,
        downloadedBytes: numberField(envelope?.body, 'downloaded'),
        totalBytes: numberField(envelope?.body, 'total'),
      };
      this.metrics?.gauge('template_pull_progress_percent', percent, { template: name });
      // One line per 10 %, so a slow pull does not flood the log.
      if (percent >= lastLogged + 10 || percent === 100) {
        lastLogged = percent;
        this.logger?.info('pulling template', { template: name, tag, percent });
      }
      options.onProgress?.(progress);
    };
    try {
      await this.#json(this.#registry(['pull', '--shrink', uuid, ...(tag ? ['--tag', tag] : [])]), 'pull', { ...options, onLine });
      this.metrics?.count('template_pulls', { result: 'success' });
    } catch (err) {
      this.metrics?.count('template_pulls', { result: 'failure' });
      throw err;
    } finally {
      this.metrics?.observe('template_pull_duration_seconds', (Date.now() - started) / 1000);
      this.metrics?.setStatus('running');
    }
  }

  /** Makes room for a pull. Returns null when it fits, or why it cannot. */
  async #ensureSpace(uuid: string, name: string, tag: string | undefined, options: AnkaCallOptions): Promise<string | null> {
    const log = this.logger;
    const total = this.host.diskTotalBytes();
    const percent = this.settings.templateDiskBufferPercent ?? DEFAULT_TEMPLATE_DISK_BUFFER_PERCENT;
    const buffer = Math.floor((total * percent) / 100);
    const check = async () => {
      const args = ['pull', uuid, '--check-download-size', ...(tag ? ['--tag', tag] : []), ...(this.settings.registryUrl ? [this.settings.registryUrl] : [])];
      const body = (await this.#json(args, 'query', options)).body;
      const size = numberField(body, 'size') ?? 0;
      const cached = numberField(body, 'cached') ?? 0;
      const available = numberField(body, 'available') ?? 0;
      return { size, download: Math.max(0, size - cached), available, usable: Math.max(0, available - buffer) };
    };
    let now = await check();
    // `{}` means the tag is already here.
    if (now.size === 0) return null;
    if (now.size >= total) return `template is too big for the host (need ${now.size}, totalDiskSize ${total})`;
    if (now.usable >= now.download) return null;
    log?.warn('insufficient space for template, cleaning up LRU templates', {
      usableSpace: now.usable,
      downloadSize: now.download,
      bytesToFree: now.download - now.usable,
    });
    if (now.available < buffer) {
      return `template_disk_buffer (${percent}%) is too restrictive for current disk usage - available space (${now.available}) is less than required buffer (${buffer})`;
    }
    const candidates = this.host.tracker.leastRecentlyUsed().filter((t) => t.uuid !== uuid);
    if (candidates.length === 0) {
      return `insufficient space on host and no templates available for cleanup (need ${now.download}, usable ${now.usable})`;
    }
    const freeable = candidates.reduce((sum, t) => sum + t.imageSizeBytes, 0);
    if (now.usable + freeable < now.download) {
      return `insufficient space on host even if we cleaned up all templates (need ${now.download}, usable ${now.usable}, freeable ${freeable})`;
    }
    let deleted = 0;
    for (const candidate of candidates) {
      log?.info('deleting LRU template to free space', { template: candidate.name, uuid: candidate.uuid, imageSize: candidate.imageSizeBytes });
      try {
        // The whole template: deleting one tag would leave the others on disk.
        await this.#json(['delete', '--yes', candidate.uuid], 'delete');
        this.host.tracker.remove(candidate.uuid);
        deleted += 1;
      } catch (err) {
        log?.error('failed to delete LRU template', { template: candidate.name, error: String(err) });
        continue;
      }
      now = await check();
      if (now.usable >= now.download) {
        log?.info('successfully freed enough space for template', { template: name, deletedTemplates: deleted });
        return null;
      }
    }
    return `insufficient space on host even after cleaning up ${deleted} templates (need ${now.download}, usable ${now.usable})`;
  }

  async requirementsOf(nameOrUuid: string, options: AnkaCallOptions = {}): Promise<VmRequirements> {
    await this.host.discovered();
    // Known from the `show` of discovery, ensureTemplate or a pull: no second `show`.
    const known = this.host.tracker.known(nameOrUuid);
    if (known) return { cpuCores: known.cpuCores ?? 0, ramBytes: known.ramBytes ?? 0 };
    const vm = toVm((await this.#json(['show', nameOrUuid], 'query', options)).body);
    if (vm.uuid && this.host.tracker.has(vm.uuid) && vm.status !== 'failed') this.host.tracker.learn(vm.uuid, vm);
    return { cpuCores: vm.cpuCores ?? 0, ramBytes: vm.ramBytes ?? 0 };
  }

  async hostUsage(options: AnkaCallOptions = {}): Promise<HostUsage> {
    await this.host.discovered();
    const running = await this.listRunning(options);
    let usedCpuCores = 0;
    let usedRamBytes = 0;
    for (const vm of running) {
      // Every running VM counts, ours or not; one deleted meanwhile counts for nothing.
      const shown = await this.show(vm.uuid || vm.name, options);
      usedCpuCores += shown?.cpuCores ?? 0;
      usedRamBytes += shown?.ramBytes ?? 0;
    }
    const { cpuCount, memoryBytes, vmSlots } = this.host.coordination;
    return {
      cpuCount,
      memoryBytes,
      // Slots taken by handlers whose VM is not running yet (or is being deleted) count too.
      runningVms: Math.max(running.length, vmSlots.used),
      vmLimit: vmSlots.total,
      usedCpuCores,
      usedRamBytes,
    };
  }

  async checkAdmission(requirements: VmRequirements, options: AnkaCallOptions = {}): Promise<Admission> {
    await this.host.discovered();
    const usage = await this.hostUsage(options);
    return decide(requirements, usage, this.settings.skipResourceChecks === true);
  }

  /**
   * Admission without an `anka` call in the way: the VM count comes from the host's VM slots plus
   * the running VMs anklet did not make (as last seen), CPU/RAM from what this process reserved
   * plus those VMs. The preparing lock covers only this decision and the slot, so the handlers of
   * a host clone and start their VMs side by side. A fresh look at the foreign VMs
   * (`anka -j list --running`) starts here and runs alongside the clone; `start` waits for it and
   * refuses (reason `vm_limit`) when they leave no room, before Anka would.
   */
  async reserveVm(requirements: VmRequirements, options: AnkaCallOptions = {}): Promise<{ admission: Admission; reservation: VmReservation | null }> {
    await this.host.discovered();
    const { preparingLock, vmSlots } = this.host.coordination;
    const preparing = await preparingLock.acquire(options.signal);
    try {
      let admission = decide(requirements, this.host.knownUsage(), this.settings.skipResourceChecks === true);
      const slot = admission.decision === 'fits_now' ? vmSlots.tryAcquire() : null;
      if (admission.decision === 'fits_now' && !slot) {
        admission = { decision: 'fits_later', reason: 'every VM slot of this host is taken', usage: admission.usage };
      }
      if (!slot) return { admission, reservation: null };
      const unreserve = this.host.reserve(requirements);
      const check = this.host.refreshForeign(this.#runner);
      check.catch(() => undefined); // judged by start(); a failed look is not fatal
      this.#pendingCheck = { requirements, check };
      let released = false;
      return {
        admission,
        reservation: {
          started: () => undefined,
          release: () => {
            if (released) return;
            released = true;
            unreserve();
            slot();
          },
        },
      };
    } finally {
      preparing();
    }
  }

  /** Waits for the look at foreign VMs that `reserveVm` started, and refuses to start a VM they leave no room for. */
  async #confirmRoom(name: string): Promise<void> {
    const pending = this.#pendingCheck;
    if (!pending) return;
    this.#pendingCheck = undefined;
    const foreign = await pending.check.catch((err: unknown) => {
      this.logger?.warn('failed to list running VMs; relying on anka to enforce the VM limit', { error: String((err as Error).message) });
      return null;
    });
    if (!foreign || foreign.count === 0) return;
    const usage = this.host.knownUsage();
    const skip = this.settings.skipResourceChecks === true;
    // Our reservation is already in `usage` (slot and CPU/RAM): the room is short when usage exceeds the host.
    const reason =
      usage.runningVms > usage.vmLimit
        ? `maximum number of running VMs reached (${usage.runningVms - 1} of ${usage.vmLimit}, ${foreign.count} not started by anklet)`
        : !skip && usage.usedCpuCores > usage.cpuCount
          ? 'host does not have enough CPU cores to run VM (VMs not started by anklet use them)'
          : !skip && usage.usedRamBytes > usage.memoryBytes
            ? 'host does not have enough memory to run VM (VMs not started by anklet use it)'
            : undefined;
    if (reason) {
      throw new AnkaCliError({ command: [this.#runner.settings.bin, '-j', 'start', name], exitCode: null, ankaMessage: reason, reason: 'vm_limit' });
    }
  }

  newVmName(): string {
    return `${VM_NAME_PREFIX}${randomUUID()}`;
  }

  async clone(template: string, options: AnkaCallOptions & { tag?: string | undefined; name?: string | undefined } = {}): Promise<string> {
    const name = options.name ?? this.newVmName();
    try {
      await this.#json(['clone', ...(options.tag ? ['-t', options.tag] : []), template, name], 'clone', options);
    } catch (err) {
      // The template (or tag) is not where the record said: the next ensureTemplate asks anka again.
      if (err instanceof AnkaCliError && err.reason === 'not_found') this.host.tracker.invalidate(template);
      throw err;
    }
    const tracked = this.host.tracker.all().find((t) => t.uuid === template || t.name === template);
    this.host.noteClone(name, tracked?.uuid);
    return name;
  }

  async start(name: string, options: AnkaCallOptions = {}): Promise<void> {
    await this.#confirmRoom(name);
    await this.#json(['start', name], 'start', options);
    const globalMounts = this.settings.globalMounts ?? [];
    const own = this.settings.mounts ?? [];
    if (globalMounts.length + own.length === 0) return;
    const command = [this.#runner.settings.bin, '-j', 'mount', name];
    if (!this.host.features.mounts) {
      throw new AnkaCliError({ command, exitCode: null, ankaMessage: `host-to-guest folder mounts need Anka >= 3.9.0, got ${this.host.version}`, reason: 'unsupported' });
    }
    let specs: string[];
    try {
      specs = mergeMounts(globalMounts, own);
    } catch (err) {
      this.logger?.error('host-to-guest folder mount configuration invalid', { vm: name, error: String((err as Error).message) });
      throw new AnkaCliError({ command, exitCode: null, ankaMessage: `host-to-guest folder mounts: ${(err as Error).message}`, reason: 'failed', cause: err });
    }
    this.logger?.info('applying host-to-guest folder mounts to vm', { vm: name, mounts: specs });
    for (const spec of specs) {
      await this.#json(['mount', name, spec], 'query', options);
      this.logger?.info('mounted host folder into guest vm', { vm: name, mountSpec: spec });
    }
  }

  async stop(name: string, options: AnkaCallOptions & { force?: boolean } = {}): Promise<void> {
    await this.#json(['stop', ...(options.force ? ['--force'] : []), name], 'stop', options);
  }

  /**
   * Deletes a VM. No signal reaches it (a VM must never be left behind because the host is
   * stopping); a failed JSON call is retried, then tried once without `-j`, as the Go anklet does.
   */
  async delete(name: string): Promise<void> {
    const attempts = Math.max(1, this.host.options.deleteAttempts ?? 5);
    const pause = this.host.options.deleteRetryDelayMs ?? 2_000;
    let last: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        await this.#json(['delete', '--yes', name], 'delete');
        this.host.noteDeleted(name);
        return;
      } catch (err) {
        if (err instanceof AnkaCliError && err.reason === 'not_found') {
          this.host.noteDeleted(name);
          return;
        }
        last = err;
        this.logger?.warn('failed to delete vm', { vmName: name, attempt, error: String((err as Error).message) });
      }
      if (attempt === attempts) {
        try {
          const fallback = await this.#runner.raw(['delete', '--yes', name], { timeoutMs: this.host.timeouts.delete });
          if (fallback.exitCode === 0) {
            this.host.noteDeleted(name);
            return;
          }
        } catch (err) {
          last = err;
        }
      } else {
        await sleep(pause * attempt);
      }
    }
    throw last;
  }

  async run(name: string, command: ReadonlyArray<string>, options: RunOptions = {}): Promise<RunResult> {
    if (command.length === 0) throw new TypeError('run: command is empty');
    const args = ['-j', 'run', ...(options.workdir ? ['-w', options.workdir] : []), name, ...command];
    const result = await this.#runner.raw(args, {
      timeoutMs: options.timeoutMs ?? this.host.timeouts.run,
      signal: options.signal,
      stdin: options.stdin,
    });
    // `anka run` passes the guest's output through; only Anka's own failures (no such VM, the
    // VM limit on the implicit start) come back as one ERROR envelope, which makes them errors.
    if (result.exitCode !== 0 && result.stderr.trim() === '') {
      const envelope = parseEnvelope(result.stdout);
      if (envelope && envelope.status === 'ERROR' && envelope.exceptionType !== undefined && result.stdout.trim().split('\n').length === 1) {
        throw new AnkaCliError({
          command: [this.#runner.settings.bin, '-j', 'run', name, '…'],
          exitCode: result.exitCode,
          ankaCode: envelope.code,
          exceptionType: envelope.exceptionType,
          ankaMessage: envelope.message,
          reason: classifyAnkaError(envelope.code, envelope.exceptionType, envelope.message),
        });
      }
    }
    return result;
  }

  async copyIn(name: string, hostPath: string, guestPath = '', options: AnkaCallOptions = {}): Promise<void> {
    await this.#json(['cp', '-a', hostPath, `${name}:${guestPath}`], 'copy', options);
  }

  async copyOut(name: string, guestPath: string, hostPath: string, options: AnkaCallOptions = {}): Promise<void> {
    await this.#json(['cp', '-a', `${name}:${guestPath}`, hostPath], 'copy', options);
  }
}
