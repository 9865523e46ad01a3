/** Compares dotted versions numerically; `3.10.0` is newer than `3.9.1`. Build suffixes are ignored. */
export function versionAtLeast(version: string, minimum: string): boolean {
  const parse = (v: string) => v.trim().replace(/^v/, '').split(/[\s(]/)[0]!.split('.').map((part) => parseInt(part, 10) || 0);
  const a = parse(version);
  const b = parse(minimum);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const diff = (a[i] ?? 0) - (b[i] ?? 0);
    if (diff !== 0) return diff > 0;
  }
  return true;
}
