import { realpathSync } from 'node:fs';
import { basename } from 'node:path';
import { AnkaSimError, notFoundError, usageError } from './errors.js';
import { applyMounts, ensureGuestRoot, killGuestProcesses, removeMounts } from './guest.js';
import type { SimPaths } from './paths.js';
import { findVm, nowIso, type MountRecord, type SimState, type VmRecord } from './state.js';

export function requireVm(state: SimState, nameOrUuid: string): VmRecord {
  const vm = findVm(state, nameOrUuid);
  if (!vm) throw notFoundError(nameOrUuid);
  return vm;
}

/** `host_path[:guest_name]`, split at the first colon; the host path must exist. */
export function parseMountSpec(spec: string): MountRecord {
  const colon = spec.indexOf(':');
  const hostPart = (colon < 0 ? spec : spec.slice(0, colon)).trim();
  const guestPart = colon < 0 ? undefined : spec.slice(colon + 1).trim();
  if (!hostPart || guestPart === '') throw usageError(`invalid mount '${spec}': expected host_path[:guest_folder_name]`);
  let host: string;
  try {
    host = realpathSync(hostPart);
  } catch {
    throw new AnkaSimError('generic', `${hostPart}: No such file or directory`);
  }
  return { host, guest: guestPart ?? basename(host) };
}

export function addMounts(paths: SimPaths, vm: VmRecord, mounts: ReadonlyArray<MountRecord>): void {
  for (const mount of mounts) {
    vm.mounts = vm.mounts.filter((m) => m.guest !== mount.guest);
    vm.mounts.push(mount);
  }
  if (vm.status === 'running') applyMounts(paths, vm.uuid, vm.mounts);
}

/**
 * Starts a VM with the checks a real host makes, in its order: state, licence, Apple's limit on
 * running macOS guests, licensed cores. Runs under the state lock, so concurrent starts can never
 * get past the limit together.
 */
export function startVm(state: SimState, paths: SimPaths, vm: VmRecord): void {
  if (vm.status === 'running') {
    if (state.host.start_when_running === 'error') throw new AnkaSimError('generic', `${vm.name}: already running`);
    return;
  }
  if (vm.status === 'failed') {
    throw new AnkaSimError('generic', `${vm.name}: failed to start: vm is in failed state, stop it with --force first`);
  }
  if (state.license.status !== 'valid') throw new AnkaSimError('license', state.license.error);
  const running = state.vms.filter((v) => v.status === 'running');
  if (running.length >= state.host.vm_limit) {
    throw new AnkaSimError('vmLimit', `${vm.uuid}: maximum number of running instances exceeded`);
  }
  const maxCores = state.license.max_number_of_cores;
  const usedCores = running.reduce((sum, v) => sum + v.cpu_cores, 0);
  if (maxCores > 0 && usedCores + vm.cpu_cores > maxCores) {
    throw new AnkaSimError('license', `${vm.name}: license limit exceeded: ${usedCores} of ${maxCores} cores in use, vm needs ${vm.cpu_cores}`);
  }
  state.serial += 1;
  const now = nowIso();
  vm.status = 'running';
  vm.start_date = now;
  vm.access_date = now;
  vm.ip = `192.168.64.${(state.serial % 250) + 2}`;
  vm.vnc_port = 5900 + (state.serial % 100);
  // A made-up hypervisor pid: nothing runs until `anka run` starts a guest process.
  vm.pid = 40000 + state.serial;
  ensureGuestRoot(paths, vm.uuid);
  applyMounts(paths, vm.uuid, vm.mounts);
}

/** Powers a VM off: its guest processes die; a `failed` VM needs `force`. */
export function stopVm(paths: SimPaths, vm: VmRecord, force: boolean): void {
  if (vm.status === 'failed' && !force) {
    throw new AnkaSimError('generic', `${vm.name}: vm is in failed state, use --force`);
  }
  killGuestProcesses(paths, vm.uuid);
  if (vm.status === 'stopped') return;
  removeMounts(paths, vm.uuid);
  const now = nowIso();
  vm.status = 'stopped';
  vm.stop_date = now;
  vm.access_date = now;
  vm.ip = undefined;
  vm.vnc_port = undefined;
  vm.pid = undefined;
  vm.start_date = undefined;
}

/** A fresh locally-administered MAC address. */
export function macFor(serial: number): string {
  const hex = serial.toString(16).padStart(6, '0').slice(-6);
  return `aa:bb:cc:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`;
}
