/** The level a plugin works at: one repository, one organization (or user), or one enterprise. */
export type GitHubScope =
  | { readonly kind: 'repository'; readonly owner: string; readonly repo: string }
  | { readonly kind: 'organization'; readonly owner: string }
  | { readonly kind: 'enterprise'; readonly enterprise: string };

/** The scope keys of a plugin's config block (Go names). */
export interface ScopeConfig {
  readonly owner?: string | null | undefined;
  readonly repo?: string | null | undefined;
  readonly enterprise?: string | null | undefined;
  readonly queue_name?: string | null | undefined;
}

/** A scope that cannot be used; the message is the Go text after `invalid github scope in …: `. */
export class ScopeError extends Error {
  override readonly name = 'ScopeError';
  /** The config key the problem is reported at. */
  readonly key: 'enterprise' | 'owner';

  constructor(message: string, key: 'enterprise' | 'owner') {
    super(message);
    this.key = key;
  }
}

const set = (value: string | null | undefined): value is string => typeof value === 'string' && value !== '';

/**
 * Resolves the scope like the Go anklet: enterprise if set, else repository if `repo` is set, else
 * organization. Throws {@link ScopeError} with the Go reasons.
 */
export function resolveScope(config: ScopeConfig): GitHubScope {
  if (set(config.enterprise)) {
    if (set(config.owner) || set(config.repo)) throw new ScopeError('enterprise cannot be combined with owner or repo; pick one scope level', 'enterprise');
    return { kind: 'enterprise', enterprise: config.enterprise };
  }
  if (set(config.repo)) {
    if (!set(config.owner)) throw new ScopeError('repo requires owner to be set', 'owner');
    return { kind: 'repository', owner: config.owner, repo: config.repo };
  }
  if (!set(config.owner)) throw new ScopeError('enterprise or owner must be set', 'owner');
  return { kind: 'organization', owner: config.owner };
}

/** The Go error line for a bad scope: `invalid github scope in config.yml:plugins:NAME: <reason>`. */
export function scopeErrorMessage(configFile: string, pluginName: string, error: ScopeError): string {
  return `invalid github scope in ${configFile}:plugins:${pluginName}: ${error.message}`;
}

/**
 * The queue a plugin reads or writes (the Go "queue owner"): `queue_name` if set, else
 * `enterprise`, else `owner`. Empty when none is set.
 */
export function queueNameOf(config: ScopeConfig): string {
  if (set(config.queue_name)) return config.queue_name;
  if (set(config.enterprise)) return config.enterprise;
  return set(config.owner) ? config.owner : '';
}

/** The REST path prefix of a scope's hooks: `/repos/o/r` or `/orgs/o` (enterprise hooks have no API). */
export function hookPathOf(scope: GitHubScope): string | null {
  if (scope.kind === 'repository') return `/repos/${encodeURIComponent(scope.owner)}/${encodeURIComponent(scope.repo)}`;
  if (scope.kind === 'organization') return `/orgs/${encodeURIComponent(scope.owner)}`;
  return null;
}
