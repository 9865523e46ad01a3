/**
 * Normalises what `anka -j version` reports (`3.9.0 (build 210)`, `v4.0.1`) to three numbers, or
 * null when it has fewer than three dot-separated parts (the Go anklet refuses those too).
 */
export function parseAnkaVersion(raw: string): [number, number, number] | null {
  const word = raw.trim().split(/\s+/)[0] ?? '';
  const parts = word.replace(/^v/i, '').split('.');
  if (parts.length < 3) return null;
  const numbers = parts.slice(0, 3).map((p) => /^\d+/.exec(p)?.[0]);
  if (numbers.some((n) => n === undefined)) return null;
  return numbers.map(Number) as [number, number, number];
}

/** True when `raw` is at least `major.minor.patch`; false when it cannot be read. */
export function versionAtLeast(raw: string, major: number, minor: number, patch: number): boolean {
  const v = parseAnkaVersion(raw);
  if (!v) return false;
  const want = [major, minor, patch];
  for (let i = 0; i < 3; i++) {
    if (v[i]! !== want[i]!) return v[i]! > want[i]!;
  }
  return true;
}

/** What this `anka` can do, decided once at start. */
export interface AnkaFeatures {
  /** The command that lists configured registries: renamed in 3.9.0. */
  readonly registryListArgs: ReadonlyArray<string>;
  /** `anka mount` exists (3.9.0+). */
  readonly mounts: boolean;
}

export function featuresOf(version: string): AnkaFeatures {
  const modern = versionAtLeast(version, 3, 9, 0);
  return {
    registryListArgs: modern ? ['registry', '--list'] : ['registry', 'list-repos'],
    mounts: modern,
  };
}
