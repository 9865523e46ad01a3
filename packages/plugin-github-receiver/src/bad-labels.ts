import type { Logger, LogFields, PluginMetrics } from '@anklet/core';
import type { AnkletOctokit } from '@anklet/github';

/** What the receiver does with a job whose labels look like anka labels but do not parse. */
export type OnBadLabels = 'cancel' | 'ignore';

/** The workflow run a bad-label job belongs to. */
export interface RunRef {
  readonly owner: string;
  readonly repo: string;
  readonly runId: number;
}

/**
 * Cancels the workflow runs of jobs with bad labels, off the webhook's path (GitHub wants its
 * answer within 10 s; a cancel may wait for the write spacing). The job is already in the store by
 * then, so a cancel that fails (or a receiver without credentials) is not the end of it: a handler
 * that claims the job cancels it too, as the Go handler did.
 */
export class BadLabelCanceller {
  readonly #pending = new Set<Promise<void>>();

  constructor(
    private readonly octokit: () => AnkletOctokit | undefined,
    private readonly logger: Logger,
    private readonly metrics: PluginMetrics | undefined,
  ) {}

  /** Starts cancelling `run`; never throws. */
  cancel(run: RunRef, reason: string, fields: LogFields): void {
    const octokit = this.octokit();
    if (!octokit) {
      this.logger.warn('no GitHub credentials to cancel the workflow run of a job with bad labels; a handler cancels it when it claims the job', { ...fields, reason });
      return;
    }
    const work = (async () => {
      try {
        await octokit.request('POST /repos/{owner}/{repo}/actions/runs/{run_id}/cancel', { owner: run.owner, repo: run.repo, run_id: run.runId });
        this.metrics?.count('bad_label_cancels', { result: 'sent' });
        this.logger.warn('sent cancel workflow run', { ...fields, reason });
      } catch (error) {
        const status = (error as { status?: unknown }).status;
        // 409: the run is already over; nothing left to cancel.
        if (status === 409) {
          this.metrics?.count('bad_label_cancels', { result: 'already_completed' });
          return;
        }
        this.metrics?.count('bad_label_cancels', { result: 'failed' });
        this.logger.error('error cancelling the workflow run of a job with bad labels; a handler cancels it when it claims the job', {
          ...fields,
          reason,
          error: `${typeof status === 'number' ? `${status}: ` : ''}${(error as Error).message}`,
        });
      }
    })();
    this.#pending.add(work);
    void work.finally(() => this.#pending.delete(work));
  }

  /** Waits for the cancels in flight (at shutdown). */
  async settle(): Promise<void> {
    await Promise.all([...this.#pending]);
  }
}
