import type { RunnerReleaseSeed } from './runner-releases.js';
/** Outcome a simulated job reports when a runner "runs" it. */
export type JobConclusion = 'success' | 'failure' | 'cancelled';

/** A rule that picks the outcome of jobs by name (exact, or a `/regex/` string). */
export interface JobOutcomeRule {
  jobName: string;
  conclusion?: JobConclusion;
  durationMs?: number;
}

/** A webhook GitHub would deliver to: on a repository, an organization, or the GitHub App. */
export interface HookOptions {
  url: string;
  /** The webhook secret. Without one GitHub sends no signature headers. */
  secret?: string;
  /** `owner/name` for a repository hook. */
  repository?: string;
  /** Organization login for an organization hook. */
  org?: string;
  /** `true` for the GitHub App's own webhook (deliveries carry `installation`). */
  app?: boolean;
  /** Events the hook subscribes to; default `["workflow_job"]`. `"*"` means all. */
  events?: string[];
  /** Whether GitHub sends deliveries at all; default true. */
  active?: boolean;
  /** `json` (default here; GitHub's UI defaults to `form`) or `form`: `payload=<JSON>`, form-encoded. */
  contentType?: 'json' | 'form';
  /** Certificate checks off (`insecure_ssl: "1"`); default false. */
  insecureSsl?: boolean;
  /** Send a `ping` delivery when the hook is created, as GitHub does. Default false. */
  ping?: boolean;
}

/** A personal access token the sim accepts (`Authorization: token …` or `Bearer …`). */
export interface TokenOptions {
  token: string;
  /** The user the token belongs to (`GET /user`); default `anklet-bot`. */
  login?: string;
}

export interface InstallationOptions {
  id?: number;
  /** Organization login, user login or enterprise slug the App is installed on. */
  account: string;
  targetType?: 'Organization' | 'User' | 'Enterprise';
  /** App permissions of the installation; default: everything anklet needs, at `write`. */
  permissions?: Record<string, 'read' | 'write'>;
}

export interface AppOptions {
  id: number;
  slug?: string;
  name?: string;
  clientId?: string;
  /** PEM public key used to verify App JWTs (RS256). Give this or `privateKey`. */
  publicKey?: string;
  /** PEM private key; the public key is derived from it. */
  privateKey?: string;
  installations?: InstallationOptions[];
}

export interface RunnerGroupOptions {
  /** Organization login or enterprise slug (with `enterprise: true`). */
  owner: string;
  enterprise?: boolean;
  id?: number;
  name: string;
  /** `allows_public_repositories`; default false, as on GitHub. */
  allowsPublicRepositories?: boolean;
  /** `visibility` of an organization group; default `all`. */
  visibility?: 'all' | 'selected' | 'private';
}

export interface RateLimitOptions {
  /** Requests per window for each credential; default 5000. */
  limit?: number;
  /** Window length; default 3600 s. */
  windowSeconds?: number;
  /** Status of a primary-limit answer when the budget runs out: 403 (default) or 429. */
  status?: 403 | 429;
}

export interface GitHubSimOptions {
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  host?: '127.0.0.1' | 'localhost';
  /** Seed for every random choice; default 1. */
  seed?: number;
  /** Personal access tokens (strings or objects). */
  tokens?: Array<string | TokenOptions>;
  app?: AppOptions;
  hooks?: HookOptions[];
  /** Repositories that exist from the start (`owner/name`); dispatch and hooks add more. */
  repositories?: string[];
  /** Organizations that belong to an enterprise: `{ acme: 'acme-corp' }`. */
  enterprises?: Record<string, string>;
  runnerGroups?: RunnerGroupOptions[];
  rateLimit?: RateLimitOptions;
  /** Chance (0..1) that a registered runner hits actions/runner#3621 and never gets a job. */
  registrationRaceProbability?: number;
  /** Default run time of a simulated job; default 200 ms. */
  defaultJobDurationMs?: number;
  defaultConclusion?: JobConclusion;
  jobOutcomes?: JobOutcomeRule[];
  /** How long a finished ephemeral runner still counts as busy (delete answers 422); default 0. */
  runnerBusyAfterJobMs?: number;
  /** A busy runner not heard from for this long loses its job (conclusion failure); default 30 s. */
  runnerLostAfterMs?: number;
  /** A delivery fails when the receiver takes longer than this; default 10 s, as on github.com. */
  deliveryTimeoutMs?: number;
  /** Web address used in `html_url` fields; default `https://github.com`. */
  htmlBaseUrl?: string;
  /**
   * The `actions/runner` releases published at start, e.g. `[{ version: '2.329.0', ageDays: 40 },
   * { version: '2.330.0', ageDays: 10 }]`; default: `SIM_RUNNER_VERSION` (what the simulated templates carry) published 10 days ago.
   */
  runnerReleases?: RunnerReleaseSeed[];
  /** Log one line per request and delivery to this function; secrets are never passed to it. */
  log?: (line: string) => void;
}
