import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** The fixed prefix of every VM anklet makes (the host finds orphans by it). */
export const VM_NAME_PREFIX = 'anklet-vm-';

const TOKEN_FILE = 'vm-name-token';
const TOKEN_PATTERN = /^([0-9a-f]{12})(?:\s+(\S+))?$/;

/**
 * The VM-name prefix of one handler instance on this host: `anklet-vm-<token>-`, where the token is
 * 12 random hex digits kept in the instance's data folder, so it survives restarts. VMs and runners
 * named with it are provably this handler's: handlers with other queues on the same host, or
 * another host's handler of the same name, never delete them. (A Go-style `anklet-vm-<uuid>` name
 * cannot match: a UUID's first group has 8 digits.) VM name = runner name, at most 59 characters,
 * under GitHub's 64 for runner names.
 *
 * The file also records the host id it was made for (`<token> <host id>`): a data folder copied to
 * another Mac (or work dir) gets a new token there, so the two hosts never take each other's VMs
 * or runners for orphans. A file without a host id (written before the fleet identity) is kept and
 * completed.
 */
export function loadVmNamePrefix(dataDir: string, hostId?: string): string {
  const file = path.join(dataDir, TOKEN_FILE);
  let text = '';
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch {
    // First start of this instance.
  }
  const match = TOKEN_PATTERN.exec(text);
  let token = match?.[1];
  const madeFor = match?.[2];
  if (!token || (hostId && madeFor && madeFor !== hostId)) token = randomBytes(6).toString('hex');
  // Without a host id (an older host) a valid file is left as it is.
  const wanted = hostId ? `${token} ${hostId}` : match && token === match[1] ? text : token;
  if (wanted !== text) writeFileSync(file, `${wanted}\n`, { mode: 0o644 });
  return `${VM_NAME_PREFIX}${token}-`;
}

/** A new VM (and runner) name for one attempt. */
export function newVmName(prefix: string): string {
  return `${prefix}${randomUUID()}`;
}
