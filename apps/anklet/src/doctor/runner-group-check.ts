import type { GitHubClient, GitHubScope } from '@anklet/github';
import type { DoctorCheck } from './doctor.js';

/** A runner group as `GET /orgs/{org}/actions/runner-groups` returns it (the fields we read). */
interface ListedGroup {
  id: number;
  name: string;
  visibility?: string;
  allows_public_repositories?: boolean;
}

/**
 * A handler's `runner_group`: it exists in the organization or enterprise (runners are registered
 * into it by id), and whether jobs of public repositories may use it. Which repositories send jobs
 * is not in the config, so a group closed to public repositories is a warning, not a failure.
 */
export async function checkRunnerGroup(input: { name: string; client: GitHubClient; scope: GitHubScope; base: string; where: string; group: string }): Promise<DoctorCheck[]> {
  const { client, scope, base, where, group } = input;
  const check = `${input.name} runner group`;
  if (scope.kind === 'repository') {
    return [{ check, status: 'warn', detail: `runner_group "${group}" is ignored: runner groups exist for organizations and enterprises`, fix: 'remove runner_group, or use an organization scope' }];
  }
  const settings = scope.kind === 'organization' ? `organization ${where} → Settings → Actions → Runner groups` : `enterprise ${where} → Policies → Actions → Runner groups`;
  let groups: ListedGroup[];
  try {
    // One page: GitHub's own UI lists runner groups without paging, and 100 is far above common use.
    groups = ((await client.octokit.request(`GET ${base}/actions/runner-groups`, { per_page: 100 })).data as { runner_groups?: ListedGroup[] }).runner_groups ?? [];
  } catch (error) {
    return [
      {
        check,
        status: 'fail',
        detail: `cannot list the runner groups of ${where} (HTTP ${(error as { status?: number }).status ?? '?'})`,
        fix:
          scope.kind === 'organization'
            ? 'give the token admin:org (classic), or "Self-hosted runners: read" on the organization (fine-grained token or GitHub App)'
            : 'give the token manage_runners:enterprise (classic)',
      },
    ];
  }
  const found = groups.find((g) => g.name === group);
  if (!found) {
    const names = groups.map((g) => g.name).join(', ');
    return [{ check, status: 'fail', detail: `no runner group "${group}" in ${where}${names ? ` (it has: ${names})` : ''}`, fix: `create it (${settings}) or correct runner_group` }];
  }
  const visibility = found.visibility === 'selected' ? ', for selected repositories only' : '';
  const checks: DoctorCheck[] = [{ check, status: 'pass', detail: `runner group "${group}" (id ${found.id}) exists in ${where}${visibility}` }];
  if (found.allows_public_repositories === false) {
    checks.push({
      check: `${check} public repositories`,
      status: 'warn',
      detail: `runner group "${group}" does not take jobs from public repositories: theirs would stay queued`,
      fix: `if public repositories of ${where} use these labels, tick "Allow public repositories" on "${group}" (${settings}); otherwise nothing to do`,
    });
  }
  return checks;
}
