import { z } from 'zod';
import { resolveScope, ScopeError } from './scope.js';
import type { GitHubClientOptions } from './client.js';

/**
 * zod builders for config values as the host hands them over: YAML values, or strings from
 * environment overrides and quoted YAML. Shared by the GitHub plugins so both read a key alike.
 */
export const configField = {
  /** An integer, or a string of one. */
  int: () =>
    z.union([z.number().int(), z.string().trim().regex(/^-?\d+$/, 'expected a whole number').transform(Number)], { error: 'expected a whole number' }),
  /** A number, or a string of one. */
  float: () =>
    z.union([z.number(), z.string().trim().regex(/^-?\d+(\.\d+)?$/, 'expected a number').transform(Number)], { error: 'expected a number' }),
  /** A boolean, or a string where, as in Go, only `true` is true. */
  bool: () => z.union([z.boolean(), z.string().transform((s) => s.trim() === 'true')], { error: 'expected true or false' }),
  /** An optional string; empty counts as unset. */
  text: () =>
    z
      .string()
      .nullish()
      .transform((s) => (s ? s : undefined)),
  /** A list of strings, or a comma-separated string; unset is `[]`. */
  list: () =>
    z
      .union([
        z.array(z.string()),
        z.string().transform((s) =>
          s
            .split(',')
            .map((v) => v.trim())
            .filter(Boolean),
        ),
      ])
      .nullish()
      .transform((v) => v ?? []),
};

/** The scope and credential keys every GitHub plugin has (Go names), plus `github_base_url`. */
export function githubConnectionFields() {
  const { int, text } = configField;
  return {
    owner: text(),
    repo: text(),
    enterprise: text(),
    queue_name: text(),
    token: text(),
    private_key: text(),
    app_id: int().nullish(),
    installation_id: int().nullish(),
    /** GitHub REST base URL (anklet only): GHES `https://host/api/v3`, or the simulator. */
    github_base_url: z.url().default('https://api.github.com'),
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

/**
 * Reports the Go scope rules ({@link resolveScope}) and the App key rule as schema issues, with the
 * Go texts. The host's issue path already names the file and the plugin.
 */
export function addGitHubConfigIssues(
  config: { owner?: string | undefined; repo?: string | undefined; enterprise?: string | undefined; private_key?: string | undefined; app_id?: number | null | undefined },
  ctx: z.RefinementCtx,
): void {
  try {
    resolveScope(config);
  } catch (error) {
    if (!(error instanceof ScopeError)) throw error;
    ctx.addIssue({ code: 'custom', path: [error.key], message: `invalid github scope: ${error.message}` });
  }
  if (config.private_key && !config.app_id) ctx.addIssue({ code: 'custom', path: ['app_id'], message: 'app_id is required when private_key is set' });
}
