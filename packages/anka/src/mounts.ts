import { realpathSync } from 'node:fs';

/** One `host_path[:guest_folder_name]` entry. */
export interface MountSpec {
  /** The entry as configured. */
  readonly entry: string;
  readonly hostPath: string;
  readonly guestName: string | undefined;
}

/**
 * Parses a mount entry. It splits at the first colon (a guest folder name cannot hold one); both
 * sides are trimmed; an empty side is an error.
 */
export function parseMount(entry: string): MountSpec {
  const at = entry.indexOf(':');
  const hostPath = (at < 0 ? entry : entry.slice(0, at)).trim();
  const guestName = at < 0 ? undefined : entry.slice(at + 1).trim();
  if (hostPath === '') throw new Error(`host-to-guest folder mount "${entry}": the host path is empty`);
  if (guestName === '') throw new Error(`host-to-guest folder mount "${entry}": the guest folder name after ":" is empty`);
  return { entry, hostPath, guestName };
}

/** `<realpath>[:<guest>]`, the argument `anka mount` gets. Throws when the host folder does not exist. */
export function resolveMount(spec: MountSpec): string {
  let real: string;
  try {
    real = realpathSync(spec.hostPath);
  } catch {
    throw new Error(`host-to-guest folder mount "${spec.entry}": host path ${spec.hostPath} does not exist`);
  }
  return spec.guestName === undefined ? real : `${real}:${spec.guestName}`;
}

/**
 * The global entries first, then the plugin's, dropping any whose resolved form was seen already
 * (a repeated entry, or a symlink to a folder already listed). Resolved now, at the time of use,
 * because folders may appear or move after start.
 */
export function mergeMounts(globalEntries: ReadonlyArray<string>, pluginEntries: ReadonlyArray<string>): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const entry of [...globalEntries, ...pluginEntries]) {
    const resolved = resolveMount(parseMount(entry));
    if (seen.has(resolved)) continue;
    seen.add(resolved);
    out.push(resolved);
  }
  return out;
}
