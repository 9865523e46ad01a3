import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import type { InstanceHolder } from '@anklet/core';

/** Where Linux keeps the machine id (systemd first, then D-Bus). */
const LINUX_MACHINE_ID_FILES = ['/etc/machine-id', '/var/lib/dbus/machine-id'];

/**
 * An id of this machine that survives restarts and differs between machines, even ones cloned from
 * one image or given the same host name: the hardware UUID on macOS, the machine id on Linux. Falls
 * back to the host name when neither can be read (a container without a machine id).
 */
export function readMachineId(platform: NodeJS.Platform = process.platform): string {
  if (platform === 'darwin') {
    try {
      const out = execFileSync('/usr/sbin/ioreg', ['-rd1', '-c', 'IOPlatformExpertDevice'], { encoding: 'utf8', timeout: 5_000, stdio: ['ignore', 'pipe', 'ignore'] });
      const uuid = /"IOPlatformUUID"\s*=\s*"([^"]+)"/.exec(out)?.[1];
      if (uuid) return uuid;
    } catch {
      // No ioreg (not a real Mac): the host name below.
    }
  }
  for (const file of LINUX_MACHINE_ID_FILES) {
    try {
      const id = readFileSync(file, 'utf8').trim();
      if (id) return id;
    } catch {
      // Not there: the next one.
    }
  }
  return `hostname:${hostname()}`;
}

/**
 * The work dir as the file system knows it (a symlinked path and its target are one work dir; on
 * macOS `/tmp` is `/private/tmp`). It is created first: the host id must not change between the
 * first start, before the folder exists, and the next.
 */
function canonical(dir: string): string {
  try {
    mkdirSync(dir, { recursive: true });
    return realpathSync(dir);
  } catch {
    return path.resolve(dir);
  }
}

/**
 * This process's identity in the fleet: the host id (16 hex digits of a hash of the machine id and
 * the work dir: stable across restarts, different on another Mac with the same config or a copy of
 * this work dir, and different for another work dir of this Mac), with the host name, pid and work
 * dir people need to find the process. Handlers register their instance names with it and qualify
 * their lease owners with the host id.
 */
export function hostIdentity(workDir: string, machineId: string = readMachineId()): InstanceHolder {
  const dir = canonical(workDir);
  const hostId = createHash('sha256').update(`${machineId}\n${dir}`).digest('hex').slice(0, 16);
  return { hostId, hostName: hostname(), pid: process.pid, workDir: dir };
}
