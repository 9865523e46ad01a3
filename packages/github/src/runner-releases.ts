/**
 * Facts about `actions/runner` releases that more than one package needs: comparing runner
 * versions, GitHub's rule for runners that do not update themselves, and the SHA-256 checksums a
 * release body publishes.
 */

/** Days GitHub gives a runner to update once a newer release is out; later it no longer gets jobs. */
export const RUNNER_UPDATE_GRACE_DAYS = 30;

const DAY_MS = 86_400_000;

/** A published runner release: its version (`2.330.0`) and when it was published. */
export interface RunnerReleaseInfo {
  readonly version: string;
  /** ISO date or epoch milliseconds. */
  readonly publishedAt: string | number;
}

/** Compares two runner versions (`2.330.0`) numerically: negative when `a` is older. */
export function compareRunnerVersions(a: string, b: string): number {
  const pa = a.replace(/^v/, '').split('.').map((n) => Number.parseInt(n, 10) || 0);
  const pb = b.replace(/^v/, '').split('.').map((n) => Number.parseInt(n, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Whether GitHub still gives jobs to a runner of some version, and why not. */
export interface RunnerVersionVerdict {
  readonly accepted: boolean;
  /** The newest release known. */
  readonly latest: string | undefined;
  /** When refused: the oldest newer release published more than {@link RUNNER_UPDATE_GRACE_DAYS} days ago. */
  readonly outdatedBy?: string;
}

/**
 * GitHub's rule for runners started with `--disableupdate` (as anklet's are): a runner must be
 * updated within 30 days of any newer release, or the service stops queueing jobs to it. So a
 * version is refused when a newer release was published more than 30 days before `now`.
 *
 * @example
 * runnerVersionVerdict('2.320.0', [{ version: '2.321.0', publishedAt: '2024-11-01T00:00:00Z' }], Date.parse('2025-01-01'))
 * // { accepted: false, latest: '2.321.0', outdatedBy: '2.321.0' }
 */
export function runnerVersionVerdict(version: string, releases: ReadonlyArray<RunnerReleaseInfo>, now: number = Date.now()): RunnerVersionVerdict {
  const newest = [...releases].sort((a, b) => compareRunnerVersions(b.version, a.version));
  const latest = newest[0]?.version;
  const deadline = now - RUNNER_UPDATE_GRACE_DAYS * DAY_MS;
  const overdue = newest
    .filter((r) => compareRunnerVersions(r.version, version) > 0 && new Date(r.publishedAt).getTime() <= deadline)
    .at(-1);
  return overdue ? { accepted: false, latest, outdatedBy: overdue.version } : { accepted: true, latest };
}

/**
 * The SHA-256 checksums a runner release body publishes, by platform (`osx-arm64`, `osx-x64`,
 * `linux-x64`, ...), read from its `<!-- BEGIN SHA <platform> --><hex><!-- END SHA <platform> -->`
 * markers. Malformed markers are skipped.
 */
export function runnerChecksumsOf(body: string | null | undefined): Record<string, string> {
  const found: Record<string, string> = {};
  for (const match of (body ?? '').matchAll(/<!-- BEGIN SHA ([\w.-]+) -->\s*([0-9a-fA-F]{64})\s*<!-- END SHA \1 -->/g)) {
    found[match[1]!] = match[2]!.toLowerCase();
  }
  return found;
}
