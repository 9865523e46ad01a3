/**
 * GitHub assigns a job to a self-hosted runner whose labels include every `runs-on` label,
 * compared case-insensitively (`self-hosted` matches `Self-Hosted`).
 */
export function labelsMatch(runsOn: readonly string[], runnerLabels: readonly string[]): boolean {
  const have = new Set(runnerLabels.map((label) => label.toLowerCase()));
  return runsOn.every((label) => have.has(label.toLowerCase()));
}

/** Labels the runner adds itself unless `--no-default-labels`; GitHub marks them read-only. */
export const READ_ONLY_LABELS = new Set(['self-hosted', 'macos', 'linux', 'windows', 'osx', 'x64', 'arm64', 'arm', 'x86']);

export function labelType(name: string): 'read-only' | 'custom' {
  return READ_ONLY_LABELS.has(name.toLowerCase()) ? 'read-only' : 'custom';
}
