import type { InstanceHolder } from '@anklet/core';

/**
 * The stored form of an instance name's holder: JSON with its fields in a fixed order, so that two
 * equal holders give the same text (the stores compare the text).
 */
export function holderJson(holder: InstanceHolder): string {
  return JSON.stringify({ hostId: holder.hostId, hostName: holder.hostName, pid: holder.pid, workDir: holder.workDir });
}

/**
 * Reads a stored holder. Text another tool wrote (or a damaged value) still names a holder, with
 * what could be read, so the refusal can say something and the name is never taken by mistake.
 */
export function readHolder(text: string): InstanceHolder {
  let value: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) value = parsed as Record<string, unknown>;
  } catch {
    // Not JSON: an unknown holder.
  }
  const str = (v: unknown) => (typeof v === 'string' ? v : '?');
  return { hostId: str(value['hostId']), hostName: str(value['hostName']), pid: typeof value['pid'] === 'number' ? value['pid'] : 0, workDir: str(value['workDir']) };
}
