import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync, lstatSync } from 'node:fs';
import { isAbsolute, join, normalize } from 'node:path';
import { GUEST_HOME, GUEST_MOUNTS, guestRoot, vmDir, type SimPaths } from './paths.js';
import type { MountRecord } from './state.js';

/**
 * A VM's "disk" is a directory on the host: `vms/<uuid>/root` stands for the guest's `/`. Guest
 * paths given to `cp` and `run -w` are mapped into it; processes started by `run` are recorded in
 * `vms/<uuid>/pids` so stopping or deleting the VM kills them, as powering off a guest would.
 */

export function ensureGuestRoot(paths: SimPaths, uuid: string): string {
  const root = guestRoot(paths, uuid);
  mkdirSync(join(root, GUEST_HOME), { recursive: true });
  mkdirSync(join(root, 'tmp'), { recursive: true });
  return root;
}

/** Maps a guest path to the host: relative paths are relative to the guest user's home. */
export function guestToHost(paths: SimPaths, uuid: string, guestPath: string): string {
  const root = guestRoot(paths, uuid);
  const absolute = guestPath === '' ? GUEST_HOME : isAbsolute(guestPath) ? guestPath : join(GUEST_HOME, guestPath);
  // normalize() resolves `..` before joining, so a guest path can never climb out of the root.
  return join(root, normalize(`/${absolute}`));
}

/** Makes the mounts visible under `/Volumes/My Shared Files/<name>` as symlinks to the host. */
export function applyMounts(paths: SimPaths, uuid: string, mounts: ReadonlyArray<MountRecord>): void {
  const dir = join(ensureGuestRoot(paths, uuid), GUEST_MOUNTS);
  mkdirSync(dir, { recursive: true });
  for (const mount of mounts) {
    const link = join(dir, mount.guest);
    try {
      if (lstatSync(link).isSymbolicLink()) unlinkSync(link);
    } catch {
      // not there yet
    }
    if (!existsSync(link)) symlinkSync(mount.host, link);
  }
}

export function removeMounts(paths: SimPaths, uuid: string): void {
  rmSync(join(guestRoot(paths, uuid), GUEST_MOUNTS), { recursive: true, force: true });
}

function pidsDir(paths: SimPaths, uuid: string): string {
  return join(vmDir(paths, uuid), 'pids');
}

/** Remembers the process group of a guest command. */
export function recordGuestProcess(paths: SimPaths, uuid: string, pgid: number): string {
  const dir = pidsDir(paths, uuid);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, String(pgid));
  writeFileSync(file, '');
  return file;
}

/**
 * Kills every process group started in the VM, including what guest scripts left running in
 * the background (a runner service), as powering the VM off would.
 */
export function killGuestProcesses(paths: SimPaths, uuid: string): void {
  const dir = pidsDir(paths, uuid);
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const entry of entries) {
    const pgid = Number(entry);
    if (Number.isInteger(pgid) && pgid > 1) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(join(dir, entry), { force: true });
  }
}

export function removeVmFiles(paths: SimPaths, uuid: string): void {
  killGuestProcesses(paths, uuid);
  rmSync(vmDir(paths, uuid), { recursive: true, force: true });
}
