import { EventEmitter } from 'node:events';
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { GitHubSimOptions, JobConclusion, HookOptions } from './options.js';
import { createRandom, type Random } from './random.js';
import { GitHubApiError, notFound } from './errors.js';

export interface Account {
  id: number;
  login: string;
  type: 'Organization' | 'User';
  /** Slug of the enterprise an organization belongs to. */
  enterprise?: string;
}

export interface Enterprise {
  id: number;
  slug: string;
  name: string;
}

export interface Repository {
  id: number;
  name: string;
  owner: Account;
  fullName: string;
}

export type Scope =
  | { kind: 'repo'; repo: Repository }
  | { kind: 'org'; account: Account }
  | { kind: 'enterprise'; enterprise: Enterprise };

export interface RunnerGroup {
  id: number;
  name: string;
  isDefault: boolean;
  /** Whether jobs from public repositories may use the group's runners (GitHub's default: no). */
  allowsPublicRepositories: boolean;
  visibility: 'all' | 'selected' | 'private';
}

export interface Runner {
  id: number;
  name: string;
  scope: Scope;
  labels: string[];
  groupId: number;
  ephemeral: boolean;
  os: string;
  /** Secret the simulated runner authenticates with; it travels inside the JIT config. */
  credential: string;
  /** Last time the runner's listener talked to the sim; undefined until it connects. */
  lastSeen?: number;
  connected: boolean;
  busy: boolean;
  jobId?: number;
  /** Hit by actions/runner#3621: registered and online, but never given a job. */
  raceAffected: boolean;
}

export interface Job {
  id: number;
  runId: number;
  runAttempt: number;
  name: string;
  workflowName: string;
  labels: string[];
  repo: Repository;
  headSha: string;
  headBranch: string;
  status: 'queued' | 'in_progress' | 'completed';
  conclusion: JobConclusion | null;
  createdAt: number;
  startedAt: number;
  completedAt: number | null;
  runnerId: number | null;
  runnerName: string | null;
  runnerGroupId: number | null;
  runnerGroupName: string | null;
  /** Outcome and duration chosen at dispatch (or by a rule); the runner follows them. */
  plan: { conclusion?: JobConclusion; durationMs?: number };
}

export interface Run {
  id: number;
  runNumber: number;
  runAttempt: number;
  repo: Repository;
  workflowName: string;
  workflowId: number;
  path: string;
  headSha: string;
  headBranch: string;
  event: string;
  createdAt: number;
  updatedAt: number;
  jobIds: number[];
}

export interface Hook {
  id: number;
  scope: { kind: 'repo'; repo: Repository } | { kind: 'org'; account: Account } | { kind: 'app' };
  url: string;
  secret?: string;
  events: string[];
  active: boolean;
  /** How deliveries are encoded: a JSON body, or a form with the JSON in `payload`. */
  contentType: 'json' | 'form';
  /** `true` when TLS certificate checks are off (GitHub's `insecure_ssl: "1"`). */
  insecureSsl: boolean;
  createdAt: number;
  updatedAt: number;
}

export interface Delivery {
  id: number;
  guid: string;
  hookId: number;
  deliveredAt: number;
  redelivery: boolean;
  /** Seconds, as GitHub reports it. */
  duration: number;
  status: string;
  statusCode: number;
  event: string;
  action: string | null;
  installationId: number | null;
  repositoryId: number | null;
  url: string;
  requestHeaders: Record<string, string>;
  /** The JSON that was sent; a `form` hook sent it form-encoded as `payload` (and signed that). */
  body: string;
  responseHeaders: Record<string, string>;
  responseBody: string;
  /** 2xx answer from the receiver. */
  success: boolean;
}

export interface Installation {
  id: number;
  account: Account | Enterprise;
  targetType: 'Organization' | 'User' | 'Enterprise';
  permissions: Record<string, 'read' | 'write'>;
  createdAt: number;
}

export interface App {
  id: number;
  slug: string;
  name: string;
  clientId: string;
  publicKey: KeyObject;
  owner: Account;
  createdAt: number;
}

export interface Credential {
  kind: 'pat' | 'installation';
  login?: string;
  installationId?: number;
  expiresAt?: number;
}

export interface RegistrationToken {
  scope: Scope;
  expiresAt: number;
}

/** What anklet needs from an installation, at `write`. */
export const DEFAULT_PERMISSIONS: Record<string, 'read' | 'write'> = {
  actions: 'write',
  administration: 'write',
  metadata: 'read',
  organization_self_hosted_runners: 'write',
  organization_hooks: 'read',
  repository_hooks: 'read',
};

export const HOUR = 3600_000;

/**
 * The simulated GitHub's whole state, in memory. Routes, the webhook sender, the scheduler and
 * the control API all act on one instance. Events (`job`, `runner`, `delivery`) let long polls
 * and `waitFor` helpers react without polling.
 */
export class World extends EventEmitter {
  readonly random: Random;
  clockOffsetMs = 0;
  private nextIds = {
    account: 9_000_001,
    repo: 700_000_001,
    enterprise: 11_001,
    runner: 1_001,
    group: 2,
    job: 28_000_000_001,
    run: 10_000_000_001,
    hook: 480_000_001,
    delivery: 90_000_000_001,
    installation: 51_000_001,
    workflow: 6_000_001,
  };

  readonly accounts = new Map<string, Account>();
  readonly enterprises = new Map<string, Enterprise>();
  readonly repos = new Map<string, Repository>();
  /** Runner groups per owner key (`org:acme`, `enterprise:acme-corp`). Id 1 is "Default". */
  readonly groups = new Map<string, RunnerGroup[]>();
  readonly runners = new Map<number, Runner>();
  readonly registrationTokens = new Map<string, RegistrationToken>();
  readonly jobs = new Map<number, Job>();
  readonly runs = new Map<number, Run>();
  readonly hooks = new Map<number, Hook>();
  readonly deliveries: Delivery[] = [];
  readonly installations = new Map<number, Installation>();
  readonly credentials = new Map<string, Credential>();
  app?: App;

  /** Settings the control API may change while the sim runs. */
  settings: {
    raceProbability: number;
    raceForcedNext: number;
    defaultJobDurationMs: number;
    defaultConclusion: JobConclusion;
    jobOutcomes: NonNullable<GitHubSimOptions['jobOutcomes']>;
    runnerBusyAfterJobMs: number;
    runnerLostAfterMs: number;
    deliveryTimeoutMs: number;
    htmlBaseUrl: string;
  };

  /** Base URL of the running server; set once it listens. */
  apiBaseUrl = 'http://127.0.0.1';

  constructor(options: GitHubSimOptions) {
    super();
    this.setMaxListeners(0);
    this.random = createRandom(options.seed ?? 1);
    this.settings = {
      raceProbability: options.registrationRaceProbability ?? 0,
      raceForcedNext: 0,
      defaultJobDurationMs: options.defaultJobDurationMs ?? 200,
      defaultConclusion: options.defaultConclusion ?? 'success',
      jobOutcomes: options.jobOutcomes ?? [],
      runnerBusyAfterJobMs: options.runnerBusyAfterJobMs ?? 0,
      runnerLostAfterMs: options.runnerLostAfterMs ?? 30_000,
      deliveryTimeoutMs: options.deliveryTimeoutMs ?? 10_000,
      htmlBaseUrl: (options.htmlBaseUrl ?? 'https://github.com').replace(/\/$/, ''),
    };
    for (const [org, slug] of Object.entries(options.enterprises ?? {})) {
      this.ensureAccount(org, 'Organization').enterprise = slug;
      this.ensureEnterprise(slug);
    }
    for (const fullName of options.repositories ?? []) this.ensureRepo(fullName);
    for (const group of options.runnerGroups ?? []) {
      const key = group.enterprise ? `enterprise:${this.ensureEnterprise(group.owner).slug}` : `org:${this.ensureAccount(group.owner, 'Organization').login}`;
      this.groupsFor(key).push({
        id: group.id ?? this.nextIds.group++,
        name: group.name,
        isDefault: false,
        allowsPublicRepositories: group.allowsPublicRepositories ?? false,
        visibility: group.visibility ?? 'all',
      });
    }
    for (const token of options.tokens ?? []) {
      const t = typeof token === 'string' ? { token } : token;
      this.credentials.set(t.token, { kind: 'pat', login: t.login ?? 'anklet-bot' });
    }
    if (options.app) {
      const { app } = options;
      const key = app.publicKey ?? app.privateKey;
      if (!key) throw new Error('github-sim: app needs publicKey or privateKey');
      this.app = {
        id: app.id,
        slug: app.slug ?? 'anklet-sim',
        name: app.name ?? 'anklet (simulated)',
        clientId: app.clientId ?? `Iv1.${this.random.hex(16)}`,
        publicKey: createPublicKey(key),
        owner: this.ensureAccount('anklet-sim-owner', 'Organization'),
        createdAt: this.now(),
      };
      for (const inst of app.installations ?? []) this.addInstallation(inst);
    }
    for (const hook of options.hooks ?? []) this.addHook(hook);
  }

  now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  id(kind: keyof World['nextIds']): number {
    return this.nextIds[kind]++;
  }

  ensureAccount(login: string, type: Account['type'] = 'Organization'): Account {
    const key = login.toLowerCase();
    let account = this.accounts.get(key);
    if (!account) {
      account = { id: this.nextIds.account++, login, type };
      this.accounts.set(key, account);
    }
    return account;
  }

  ensureEnterprise(slug: string): Enterprise {
    const key = slug.toLowerCase();
    let enterprise = this.enterprises.get(key);
    if (!enterprise) {
      enterprise = { id: this.nextIds.enterprise++, slug, name: slug };
      this.enterprises.set(key, enterprise);
    }
    return enterprise;
  }

  ensureRepo(fullName: string): Repository {
    const [owner, name, extra] = fullName.split('/');
    if (!owner || !name || extra !== undefined) throw new Error(`github-sim: repository must be "owner/name", got "${fullName}"`);
    const key = fullName.toLowerCase();
    let repo = this.repos.get(key);
    if (!repo) {
      const account = this.ensureAccount(owner);
      repo = { id: this.nextIds.repo++, name, owner: account, fullName: `${account.login}/${name}` };
      this.repos.set(key, repo);
    }
    return repo;
  }

  findRepo(owner: string, name: string): Repository {
    const repo = this.repos.get(`${owner}/${name}`.toLowerCase());
    if (!repo) throw notFound();
    return repo;
  }

  findOrg(login: string): Account {
    const account = this.accounts.get(login.toLowerCase());
    if (!account) throw notFound();
    return account;
  }

  findEnterprise(slug: string): Enterprise {
    const enterprise = this.enterprises.get(slug.toLowerCase());
    if (!enterprise) throw notFound();
    return enterprise;
  }

  scopeKey(scope: Scope): string {
    if (scope.kind === 'repo') return `repo:${scope.repo.fullName.toLowerCase()}`;
    if (scope.kind === 'org') return `org:${scope.account.login.toLowerCase()}`;
    return `enterprise:${scope.enterprise.slug.toLowerCase()}`;
  }

  /** Repositories only know the default group; organizations and enterprises may have more. */
  groupsFor(ownerKey: string): RunnerGroup[] {
    const key = ownerKey.toLowerCase();
    let groups = this.groups.get(key);
    if (!groups) {
      groups = [{ id: 1, name: 'Default', isDefault: true, allowsPublicRepositories: false, visibility: 'all' }];
      this.groups.set(key, groups);
    }
    return groups;
  }

  groupsForScope(scope: Scope): RunnerGroup[] {
    if (scope.kind === 'repo') return this.groupsFor(`org:${scope.repo.owner.login}`).filter((g) => g.isDefault);
    return this.groupsFor(this.scopeKey(scope));
  }

  /** Runners registered exactly at this scope, as GitHub lists them (oldest first). */
  runnersAt(scope: Scope): Runner[] {
    const key = this.scopeKey(scope);
    return [...this.runners.values()].filter((runner) => this.scopeKey(runner.scope) === key);
  }

  findRunner(scope: Scope, id: number): Runner {
    const runner = this.runners.get(id);
    if (!runner || this.scopeKey(runner.scope) !== this.scopeKey(scope)) throw notFound();
    return runner;
  }

  /**
   * Registers a runner. A duplicate name within the scope is GitHub's 409. Whether this runner
   * will be hit by the registration race is decided here, once, from the seeded source.
   */
  registerRunner(input: { scope: Scope; name: string; labels: string[]; groupId: number; ephemeral: boolean; replace?: boolean; os?: string }): Runner {
    const existing = this.runnersAt(input.scope).find((r) => r.name.toLowerCase() === input.name.toLowerCase());
    if (existing) {
      if (!input.replace) throw new GitHubApiError(409, `Already exists - A runner with the name ${input.name} already exists.`);
      this.removeRunner(existing);
    }
    let raceAffected = false;
    if (this.settings.raceForcedNext > 0) {
      this.settings.raceForcedNext--;
      raceAffected = true;
    } else if (this.settings.raceProbability > 0) {
      raceAffected = this.random.next() < this.settings.raceProbability;
    }
    const runner: Runner = {
      id: this.nextIds.runner++,
      name: input.name,
      scope: input.scope,
      labels: [...input.labels],
      groupId: input.groupId,
      ephemeral: input.ephemeral,
      os: input.os ?? 'unknown',
      credential: `simrunner_${this.random.alnum(40)}`,
      connected: false,
      busy: false,
      raceAffected,
    };
    this.runners.set(runner.id, runner);
    this.emit('runner', runner);
    return runner;
  }

  removeRunner(runner: Runner): void {
    this.runners.delete(runner.id);
    this.emit('runner', runner);
  }

  runnerOnline(runner: Runner): boolean {
    return runner.connected && runner.lastSeen !== undefined && this.now() - runner.lastSeen < 60_000;
  }

  createRegistrationToken(scope: Scope): { token: string; expiresAt: number } {
    const token = this.random.alnum(29);
    const expiresAt = this.now() + HOUR;
    this.registrationTokens.set(token, { scope, expiresAt });
    return { token, expiresAt };
  }

  addInstallation(input: { id?: number; account: string; targetType?: Installation['targetType']; permissions?: Record<string, 'read' | 'write'> }): Installation {
    const targetType = input.targetType ?? 'Organization';
    const account = targetType === 'Enterprise' ? this.ensureEnterprise(input.account) : this.ensureAccount(input.account, targetType);
    const installation: Installation = {
      id: input.id ?? this.nextIds.installation++,
      account,
      targetType,
      permissions: { ...(input.permissions ?? DEFAULT_PERMISSIONS) },
      createdAt: this.now(),
    };
    this.installations.set(installation.id, installation);
    return installation;
  }

  /** The installation of the App on an account (organization, user or enterprise), if any. */
  installationFor(login: string, targetType?: Installation['targetType']): Installation | undefined {
    for (const installation of this.installations.values()) {
      const name = 'login' in installation.account ? installation.account.login : installation.account.slug;
      if (name.toLowerCase() === login.toLowerCase() && (!targetType || installation.targetType === targetType)) return installation;
    }
    return undefined;
  }

  addHook(input: HookOptions): Hook {
    let scope: Hook['scope'];
    if (input.app) scope = { kind: 'app' };
    else if (input.repository) scope = { kind: 'repo', repo: this.ensureRepo(input.repository) };
    else if (input.org) scope = { kind: 'org', account: this.ensureAccount(input.org) };
    else throw new Error('github-sim: a hook needs repository, org or app');
    const hook: Hook = {
      id: this.nextIds.hook++,
      scope,
      url: input.url,
      events: input.events ?? ['workflow_job'],
      active: input.active ?? true,
      contentType: input.contentType ?? 'json',
      insecureSsl: input.insecureSsl ?? false,
      createdAt: this.now(),
      updatedAt: this.now(),
    };
    if (input.secret !== undefined) hook.secret = input.secret;
    this.hooks.set(hook.id, hook);
    return hook;
  }

  findHook(id: number, scope: Hook['scope']): Hook {
    const hook = this.hooks.get(id);
    if (!hook || hook.scope.kind !== scope.kind) throw notFound();
    if (hook.scope.kind === 'repo' && scope.kind === 'repo' && hook.scope.repo.id !== scope.repo.id) throw notFound();
    if (hook.scope.kind === 'org' && scope.kind === 'org' && hook.scope.account.id !== scope.account.id) throw notFound();
    return hook;
  }

  /** Overall state of a run, derived from its jobs as GitHub does. */
  runState(run: Run): { status: 'queued' | 'in_progress' | 'completed'; conclusion: JobConclusion | null } {
    const jobs = run.jobIds.map((id) => this.jobs.get(id)!);
    if (jobs.some((job) => job.status !== 'completed')) {
      return { status: jobs.some((job) => job.status !== 'queued') ? 'in_progress' : 'queued', conclusion: null };
    }
    if (jobs.some((job) => job.conclusion === 'cancelled')) return { status: 'completed', conclusion: 'cancelled' };
    if (jobs.some((job) => job.conclusion === 'failure')) return { status: 'completed', conclusion: 'failure' };
    return { status: 'completed', conclusion: 'success' };
  }
}
