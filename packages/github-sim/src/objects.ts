import type { Account, App, Delivery, Enterprise, Installation, Job, Repository, Run, Runner, World } from './world.js';
import { labelType } from './labels.js';

/** GitHub's timestamps: ISO 8601 in UTC without milliseconds. */
export function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function nodeId(prefix: string, id: number): string {
  return `${prefix}_${Buffer.from(`sim:${id}`).toString('base64url')}`;
}

/** The `simple-user` shape, used for users and organizations alike. */
export function accountJson(world: World, account: Account): Record<string, unknown> {
  const api = `${world.apiBaseUrl}/users/${account.login}`;
  return {
    login: account.login,
    id: account.id,
    node_id: nodeId(account.type === 'Organization' ? 'O' : 'U', account.id),
    avatar_url: `https://avatars.githubusercontent.com/u/${account.id}?v=4`,
    gravatar_id: '',
    url: api,
    html_url: `${world.settings.htmlBaseUrl}/${account.login}`,
    followers_url: `${api}/followers`,
    following_url: `${api}/following{/other_user}`,
    gists_url: `${api}/gists{/gist_id}`,
    starred_url: `${api}/starred{/owner}{/repo}`,
    subscriptions_url: `${api}/subscriptions`,
    organizations_url: `${api}/orgs`,
    repos_url: `${api}/repos`,
    events_url: `${api}/events{/privacy}`,
    received_events_url: `${api}/received_events`,
    type: account.type,
    user_view_type: 'public',
    site_admin: false,
  };
}

/** The `organization` object of webhook payloads. */
export function organizationJson(world: World, account: Account): Record<string, unknown> {
  const api = `${world.apiBaseUrl}/orgs/${account.login}`;
  return {
    login: account.login,
    id: account.id,
    node_id: nodeId('O', account.id),
    url: api,
    repos_url: `${api}/repos`,
    events_url: `${api}/events`,
    hooks_url: `${api}/hooks`,
    issues_url: `${api}/issues`,
    members_url: `${api}/members{/member}`,
    public_members_url: `${api}/public_members{/member}`,
    avatar_url: `https://avatars.githubusercontent.com/u/${account.id}?v=4`,
    description: null,
  };
}

export function enterpriseJson(world: World, enterprise: Enterprise): Record<string, unknown> {
  return {
    id: enterprise.id,
    slug: enterprise.slug,
    name: enterprise.name,
    node_id: nodeId('E', enterprise.id),
    avatar_url: `https://avatars.githubusercontent.com/b/${enterprise.id}?v=4`,
    description: null,
    website_url: null,
    html_url: `${world.settings.htmlBaseUrl}/enterprises/${enterprise.slug}`,
    created_at: '2020-01-01T00:00:00Z',
    updated_at: '2020-01-01T00:00:00Z',
  };
}

/** A repository with every URL field of `minimal-repository` (and the webhook `repository`). */
export function repositoryJson(world: World, repo: Repository): Record<string, unknown> {
  const api = `${world.apiBaseUrl}/repos/${repo.fullName}`;
  const templated: Record<string, string> = {
    archive_url: '/{archive_format}{/ref}', assignees_url: '/assignees{/user}', blobs_url: '/git/blobs{/sha}',
    branches_url: '/branches{/branch}', collaborators_url: '/collaborators{/collaborator}', comments_url: '/comments{/number}',
    commits_url: '/commits{/sha}', compare_url: '/compare/{base}...{head}', contents_url: '/contents/{+path}',
    contributors_url: '/contributors', deployments_url: '/deployments', downloads_url: '/downloads', events_url: '/events',
    forks_url: '/forks', git_commits_url: '/git/commits{/sha}', git_refs_url: '/git/refs{/sha}', git_tags_url: '/git/tags{/sha}',
    hooks_url: '/hooks', issue_comment_url: '/issues/comments{/number}', issue_events_url: '/issues/events{/number}',
    issues_url: '/issues{/number}', keys_url: '/keys{/key_id}', labels_url: '/labels{/name}', languages_url: '/languages',
    merges_url: '/merges', milestones_url: '/milestones{/number}', notifications_url: '/notifications{?since,all,participating}',
    pulls_url: '/pulls{/number}', releases_url: '/releases{/id}', stargazers_url: '/stargazers', statuses_url: '/statuses/{sha}',
    subscribers_url: '/subscribers', subscription_url: '/subscription', tags_url: '/tags', teams_url: '/teams',
    trees_url: '/git/trees{/sha}',
  };
  const urls = Object.fromEntries(Object.entries(templated).map(([key, suffix]) => [key, `${api}${suffix}`]));
  return {
    id: repo.id,
    node_id: nodeId('R', repo.id),
    name: repo.name,
    full_name: repo.fullName,
    private: true,
    owner: accountJson(world, repo.owner),
    html_url: `${world.settings.htmlBaseUrl}/${repo.fullName}`,
    description: null,
    fork: false,
    url: api,
    ...urls,
    created_at: '2020-01-01T00:00:00Z',
    updated_at: '2020-01-01T00:00:00Z',
    pushed_at: '2020-01-01T00:00:00Z',
    git_url: `git://github.com/${repo.fullName}.git`,
    ssh_url: `git@github.com:${repo.fullName}.git`,
    clone_url: `${world.settings.htmlBaseUrl}/${repo.fullName}.git`,
    svn_url: `${world.settings.htmlBaseUrl}/${repo.fullName}`,
    homepage: null,
    size: 0,
    stargazers_count: 0,
    watchers_count: 0,
    language: null,
    has_issues: true,
    has_projects: true,
    has_downloads: true,
    has_wiki: true,
    has_pages: false,
    has_discussions: false,
    forks_count: 0,
    mirror_url: null,
    archived: false,
    disabled: false,
    open_issues_count: 0,
    license: null,
    allow_forking: true,
    is_template: false,
    web_commit_signoff_required: false,
    topics: [],
    visibility: 'private',
    forks: 0,
    open_issues: 0,
    watchers: 0,
    default_branch: 'main',
    custom_properties: {},
  };
}

export function runnerJson(world: World, runner: Runner): Record<string, unknown> {
  return {
    id: runner.id,
    name: runner.name,
    os: runner.os,
    status: world.runnerOnline(runner) ? 'online' : 'offline',
    busy: runner.busy,
    ephemeral: runner.ephemeral,
    runner_group_id: runner.groupId,
    labels: runner.labels.map((name) => ({ id: labelId(name), name, type: labelType(name) })),
  };
}

/** Label ids are stable per name, like GitHub's. */
function labelId(name: string): number {
  let hash = 0;
  for (const char of name.toLowerCase()) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return (hash % 100_000) + 1;
}

function jobSteps(job: Job): Record<string, unknown>[] {
  if (job.status === 'queued') return [];
  const started = iso(job.startedAt);
  const done = job.completedAt === null ? null : iso(job.completedAt);
  return [
    { name: 'Set up job', status: 'completed', conclusion: 'success', number: 1, started_at: started, completed_at: started },
    {
      name: 'Run simulated job',
      status: job.status,
      conclusion: job.conclusion,
      number: 2,
      started_at: started,
      completed_at: done,
    },
  ];
}

/** The REST `job` object; webhook `workflow_job` payloads use the same fields. */
export function jobJson(world: World, job: Job): Record<string, unknown> {
  const api = `${world.apiBaseUrl}/repos/${job.repo.fullName}`;
  return {
    id: job.id,
    run_id: job.runId,
    workflow_name: job.workflowName,
    head_branch: job.headBranch,
    run_url: `${api}/actions/runs/${job.runId}`,
    run_attempt: job.runAttempt,
    node_id: nodeId('CR', job.id),
    head_sha: job.headSha,
    url: `${api}/actions/jobs/${job.id}`,
    html_url: `${world.settings.htmlBaseUrl}/${job.repo.fullName}/actions/runs/${job.runId}/job/${job.id}`,
    status: job.status,
    conclusion: job.conclusion,
    created_at: iso(job.createdAt),
    started_at: iso(job.startedAt),
    completed_at: job.completedAt === null ? null : iso(job.completedAt),
    name: job.name,
    steps: jobSteps(job),
    check_run_url: `${api}/check-runs/${job.id}`,
    labels: [...job.labels],
    runner_id: job.runnerId,
    runner_name: job.runnerName,
    runner_group_id: job.runnerGroupId,
    runner_group_name: job.runnerGroupName,
  };
}

export function runJson(world: World, run: Run): Record<string, unknown> {
  const api = `${world.apiBaseUrl}/repos/${run.repo.fullName}`;
  const state = world.runState(run);
  const repository = repositoryJson(world, run.repo);
  return {
    id: run.id,
    name: run.workflowName,
    node_id: nodeId('WFR', run.id),
    head_branch: run.headBranch,
    head_sha: run.headSha,
    path: run.path,
    display_title: run.workflowName,
    run_number: run.runNumber,
    run_attempt: run.runAttempt,
    event: run.event,
    status: state.status,
    conclusion: state.conclusion,
    workflow_id: run.workflowId,
    url: `${api}/actions/runs/${run.id}`,
    html_url: `${world.settings.htmlBaseUrl}/${run.repo.fullName}/actions/runs/${run.id}`,
    pull_requests: [],
    created_at: iso(run.createdAt),
    updated_at: iso(run.updatedAt),
    run_started_at: iso(run.createdAt),
    actor: accountJson(world, run.repo.owner),
    triggering_actor: accountJson(world, run.repo.owner),
    jobs_url: `${api}/actions/runs/${run.id}/jobs`,
    logs_url: `${api}/actions/runs/${run.id}/logs`,
    check_suite_url: `${api}/check-suites/${run.id}`,
    artifacts_url: `${api}/actions/runs/${run.id}/artifacts`,
    cancel_url: `${api}/actions/runs/${run.id}/cancel`,
    rerun_url: `${api}/actions/runs/${run.id}/rerun`,
    workflow_url: `${api}/actions/workflows/${run.workflowId}`,
    head_commit: {
      id: run.headSha,
      tree_id: run.headSha.split('').reverse().join(''),
      message: `Simulated commit for ${run.workflowName}`,
      timestamp: iso(run.createdAt),
      author: { name: 'anklet sim', email: 'sim@example.invalid' },
      committer: { name: 'anklet sim', email: 'sim@example.invalid' },
    },
    repository,
    head_repository: repository,
  };
}

export function appJson(world: World, app: App): Record<string, unknown> {
  return {
    id: app.id,
    slug: app.slug,
    client_id: app.clientId,
    node_id: nodeId('A', app.id),
    owner: accountJson(world, app.owner),
    name: app.name,
    description: 'GitHub App simulated by github-sim',
    external_url: 'https://example.invalid/anklet',
    html_url: `${world.settings.htmlBaseUrl}/apps/${app.slug}`,
    created_at: iso(app.createdAt),
    updated_at: iso(app.createdAt),
    permissions: { actions: 'write', administration: 'write', metadata: 'read', organization_self_hosted_runners: 'write' },
    events: ['workflow_job'],
    installations_count: world.installations.size,
  };
}

export function installationJson(world: World, installation: Installation): Record<string, unknown> {
  const app = world.app!;
  // The list endpoint's schema says the account is a user *and* an enterprise (allOf), so the
  // sim sends the fields of both whatever the target type.
  const account = 'login' in installation.account
    ? { ...enterpriseJson(world, { id: installation.account.id, slug: installation.account.login, name: installation.account.login }), ...accountJson(world, installation.account) }
    : { ...accountJson(world, { id: installation.account.id, login: installation.account.slug, type: 'Organization' }), type: 'Enterprise', ...enterpriseJson(world, installation.account) };
  const ownerPath = 'login' in installation.account
    ? `organizations/${installation.account.login}`
    : `enterprises/${installation.account.slug}`;
  return {
    id: installation.id,
    account,
    repository_selection: 'all',
    access_tokens_url: `${world.apiBaseUrl}/app/installations/${installation.id}/access_tokens`,
    repositories_url: `${world.apiBaseUrl}/installation/repositories`,
    html_url: `${world.settings.htmlBaseUrl}/${ownerPath}/settings/installations/${installation.id}`,
    app_id: app.id,
    app_slug: app.slug,
    client_id: app.clientId,
    target_id: installation.account.id,
    target_type: installation.targetType,
    permissions: installation.permissions,
    events: ['workflow_job'],
    created_at: iso(installation.createdAt),
    updated_at: iso(installation.createdAt),
    single_file_name: null,
    has_multiple_single_files: false,
    single_file_paths: [],
    suspended_by: null,
    suspended_at: null,
  };
}

export function deliveryItemJson(delivery: Delivery): Record<string, unknown> {
  return {
    id: delivery.id,
    guid: delivery.guid,
    delivered_at: iso(delivery.deliveredAt),
    redelivery: delivery.redelivery,
    duration: delivery.duration,
    status: delivery.status,
    status_code: delivery.statusCode,
    event: delivery.event,
    action: delivery.action,
    installation_id: delivery.installationId,
    repository_id: delivery.repositoryId,
    throttled_at: null,
  };
}

export function deliveryJson(delivery: Delivery): Record<string, unknown> {
  return {
    ...deliveryItemJson(delivery),
    url: delivery.url,
    request: { headers: delivery.requestHeaders, payload: JSON.parse(delivery.body) as unknown },
    response: { headers: delivery.responseHeaders, payload: delivery.responseBody },
  };
}
