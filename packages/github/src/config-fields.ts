import { z } from 'zod';
import { checkPrivateKey } from './private-key.js';
import { resolveScope, ScopeError } from './scope.js';
import type { GitHubClientOptions } from './client.js';

/**
 * zod builders for config values. The host hands a plugin its block typed by the plugin's own JSON
 * Schema (a text key holds the text written, a number key a number read with Go's rules, env
 * overrides parsed the same way), so these are strict. Bounds sit on the input side so that the
 * JSON Schema the host publishes has them too. Shared by the GitHub plugins so both read a key alike.
 */
export const configField = {
  /** A whole number, optionally within [min, max]. */
  int: (min?: number, max?: number, message?: string) => {
    let schema = z.number({ error: 'expected a whole number' }).int({ error: 'expected a whole number' });
    if (min !== undefined) schema = schema.min(min, message ?? (max === undefined ? `expected ${min} or more` : `expected ${min}-${max}`));
    if (max !== undefined) schema = schema.max(max, message ?? (min === undefined ? `expected ${max} or less` : `expected ${min}-${max}`));
    return schema;
  },
  /** A number, optionally within [min, max]. */
  float: (min?: number, max?: number, message?: string) => {
    let schema = z.number({ error: 'expected a number' });
    if (min !== undefined) schema = schema.min(min, message ?? (max === undefined ? `expected ${min} or more` : `expected ${min}-${max}`));
    if (max !== undefined) schema = schema.max(max, message ?? (min === undefined ? `expected ${max} or less` : `expected ${min}-${max}`));
    return schema;
  },
  /** true or false (YAML 1.1 words such as `yes` and `on` are read by the host). */
  bool: () => z.boolean({ error: 'expected true or false' }),
  /** An optional text; empty counts as unset. */
  text: () =>
    z
      .string({ error: 'expected text' })
      .nullish()
      .transform((s) => (s ? s : undefined)),
  /** A list of texts; unset is `[]`. */
  list: () =>
    z
      .array(z.string({ error: 'expected text' }), { error: 'expected a list' })
      .nullish()
      .transform((v) => v ?? []),
};

/** The scope and credential keys every GitHub plugin has (Go names), plus `github_base_url`. */
export function githubConnectionFields() {
  const { int, text } = configField;
  return {
    owner: text().describe('GitHub organization or user; with repo, the repository\'s owner. The default queue name'),
    repo: text().describe('Repository name: with owner, the plugin serves one repository'),
    enterprise: text().describe('GitHub Enterprise slug (instead of owner); the default queue name'),
    queue_name: text().describe('Queue namespace shared by several owners'),
    token: text().describe('GitHub token (falls back to global_token)'),
    private_key: text().describe('GitHub App private key: a file path or the PEM text (falls back to global_private_key)'),
    app_id: int(1).nullish().describe('GitHub App id (with private_key)'),
    installation_id: int(1).nullish().describe('GitHub App installation id (found from the scope when unset)'),
    github_base_url: z.url({ error: 'expected a URL' }).default('https://api.github.com').describe('GitHub REST base URL (anklet only): GHES https://host/api/v3, or a simulator'),
  };
}

/** The connection keys of a GitHub plugin's config ({@link githubConnectionFields}) as client options. */
export function connectionOptionsOf(config: {
  github_base_url?: string | undefined;
  token?: string | undefined;
  private_key?: string | undefined;
  app_id?: number | null | undefined;
  installation_id?: number | null | undefined;
}): GitHubConnectionOptions {
  return { baseUrl: config.github_base_url, token: config.token, privateKey: config.private_key, appId: config.app_id, installationId: config.installation_id };
}

/** Where and as whom a GitHub client connects. */
export type GitHubConnectionOptions = Pick<GitHubClientOptions, 'baseUrl' | 'token' | 'privateKey' | 'appId' | 'installationId'>;

const textOf = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/**
 * Reports the Go scope rules ({@link resolveScope}), the App key rule and an App key that cannot be
 * read (as `anklet start` would find it) as schema issues, with the Go texts. Written for a block
 * whose other keys may be invalid, so that it runs (`when`) alongside their issues in one pass.
 */
export function addGitHubConfigIssues(config: Record<string, unknown>, ctx: z.RefinementCtx): void {
  const owner = textOf(config.owner);
  const repo = textOf(config.repo);
  const enterprise = textOf(config.enterprise);
  try {
    resolveScope({ owner, repo, enterprise });
  } catch (error) {
    if (!(error instanceof ScopeError)) throw error;
    ctx.addIssue({ code: 'custom', path: [error.key], message: `invalid github scope: ${error.message}` });
  }
  const privateKey = textOf(config.private_key);
  if (privateKey && (config.app_id === undefined || config.app_id === null)) {
    ctx.addIssue({ code: 'custom', path: ['app_id'], message: 'app_id is required when private_key is set' });
  }
  if (privateKey) {
    const problem = checkPrivateKey(privateKey);
    if (problem) ctx.addIssue({ code: 'custom', path: ['private_key'], message: problem });
  }
}

/** Runs a refinement even when other keys of the block failed, so every problem comes in one pass. */
export const ALWAYS = { when: () => true } as const;
