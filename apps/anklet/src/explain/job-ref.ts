import { AnkletError, ErrorCodes } from '@anklet/core';

/** The job `anklet explain` was asked about. */
export interface JobRef {
  /** GitHub's `workflow_job.id`, as the store keys jobs. */
  readonly jobId: string;
  /** From a job URL: where to ask GitHub about it. */
  readonly owner?: string | undefined;
  readonly repo?: string | undefined;
  readonly runId?: string | undefined;
  /** The URL as given (a job URL), for the answer. */
  readonly url?: string | undefined;
}

// `https://github.com/<owner>/<repo>/actions/runs/<run>/job/<job>` (GHES: any host), with an
// optional `?pr=` or `#step:...` after it.
const JOB_URL = /^https?:\/\/[^/]+\/([^/]+)\/([^/]+)\/actions\/runs\/(\d+)\/jobs?\/(\d+)(?:[/?#].*)?$/;

/** Reads a job id (`123456`) or a GitHub job URL; throws an operator error for anything else. */
export function parseJobRef(text: string): JobRef {
  const value = text.trim();
  if (/^\d+$/.test(value)) return { jobId: value };
  const m = JOB_URL.exec(value);
  if (m) return { jobId: m[4]!, owner: decodeURIComponent(m[1]!), repo: decodeURIComponent(m[2]!), runId: m[3]!, url: value };
  throw new AnkletError(ErrorCodes.CONFIG_INVALID, `"${value}" is neither a job id nor a GitHub job URL`, {
    operator: true,
    hint: 'give the number at the end of the job URL, or the whole URL: https://github.com/<owner>/<repo>/actions/runs/<run>/job/<job>',
  });
}
