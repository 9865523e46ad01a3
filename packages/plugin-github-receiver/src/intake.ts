import type { JobEvent, JobStore, Logger, PluginMetrics } from '@anklet/core';
import { parseAnkaLabels, repositoryOwnerLogin, toQueueJob, type WorkflowJobEvent } from '@anklet/github';
import type { BadLabelCanceller, OnBadLabels } from './bad-labels.js';
import { verifySignature } from './signature.js';

/** The answer to one webhook. */
export interface IntakeAnswer {
  readonly status: number;
  readonly body: string;
}

/** Everything the intake needs; the HTTP layer (server.ts) only moves bytes. */
export interface IntakeOptions {
  readonly secret: string;
  readonly allowSha1: boolean;
  readonly queue: string;
  readonly store: JobStore;
  readonly logger: Logger;
  readonly metrics?: PluginMetrics | undefined;
  readonly storeTimeoutMs: number;
  readonly workflows: { readonly include: ReadonlyArray<string>; readonly exclude: ReadonlyArray<string> };
  /** What to do with a job whose labels look like anka labels but do not parse (default `cancel`). */
  readonly onBadLabels?: OnBadLabels | undefined;
  /** Cancels the runs of bad-label jobs; without it they are only recorded (a handler cancels them). */
  readonly canceller?: BadLabelCanceller | undefined;
}

/** The request headers the intake reads (lower-case names, as node gives them). */
export type IntakeHeaders = Record<string, string | string[] | undefined>;

const header = (headers: IntakeHeaders, name: string): string | undefined => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};

class StoreTimeoutError extends Error {}

/** Runs a store call with a deadline, so GitHub gets an answer (503) before its own 10 s limit. */
function withDeadline<T>(ms: number, work: Promise<T>): Promise<T> {
  // One promise and one timer per store call (this is on every webhook's path).
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new StoreTimeoutError(`the job store did not answer within ${ms} ms`)), ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error as Error);
      },
    );
  });
}

/** The JSON text of a webhook body: the body itself, or the `payload` field of a form-encoded body. */
function payloadText(contentType: string | undefined, body: Buffer): string | null {
  // GitHub's JSON deliveries say exactly this; skip the parameter parsing for them.
  if (contentType === 'application/json') return body.toString('utf8');
  const media = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (media === 'application/json') return body.toString('utf8');
  if (media === 'application/x-www-form-urlencoded') return new URLSearchParams(body.toString('utf8')).get('payload');
  return null;
}

/** True when `value` has the fields the intake relies on. */
function isWorkflowJobEvent(value: unknown): value is WorkflowJobEvent {
  if (typeof value !== 'object' || value === null) return false;
  const event = value as Record<string, unknown>;
  const job = event.workflow_job as Record<string, unknown> | null | undefined;
  const repository = event.repository as Record<string, unknown> | null | undefined;
  return (
    typeof event.action === 'string' &&
    typeof job === 'object' &&
    job !== null &&
    Number.isSafeInteger(job.id) &&
    (job.id as number) > 0 &&
    (job.labels === undefined || job.labels === null || (Array.isArray(job.labels) && job.labels.every((l) => typeof l === 'string'))) &&
    typeof repository === 'object' &&
    repository !== null
  );
}

/** The `event` label of `webhooks_received`: GitHub's event name for the events the receiver knows, else `other` (bounded). */
const eventLabel = (event: string): string => (event === 'workflow_job' || event === 'ping' ? event : 'other');

/**
 * Handles one webhook delivery: verify, parse, store. Counts `webhooks_received{event}` once the
 * signature and the payload are good, and `webhooks_rejected{reason}` for every answer that tells
 * GitHub the delivery failed: `bad_signature` (401), `bad_request` (400), `store_unavailable` (503). The status code tells GitHub whether to count
 * the delivery as failed (and so redeliverable): 2xx only once the event is durably stored or
 * deliberately ignored; 401 bad signature; 400 not a valid event; 503 the store could not take it.
 */
export async function handleDelivery(options: IntakeOptions, headers: IntakeHeaders, body: Buffer): Promise<IntakeAnswer> {
  const { logger, metrics } = options;
  const reject = (reason: 'bad_signature' | 'bad_request') => metrics?.count('webhooks_rejected', { reason });
  if (
    !verifySignature({
      secret: options.secret,
      body,
      sha256: header(headers, 'x-hub-signature-256'),
      sha1: header(headers, 'x-hub-signature'),
      allowSha1: options.allowSha1,
    })
  ) {
    reject('bad_signature');
    logger.warn('error validating payload', { error: 'missing or invalid signature', deliveryID: header(headers, 'x-github-delivery') });
    return { status: 401, body: 'invalid signature' };
  }
  const deliveryId = header(headers, 'x-github-delivery') || undefined;
  const event = header(headers, 'x-github-event');
  if (!event) {
    reject('bad_request');
    return { status: 400, body: 'missing X-GitHub-Event' };
  }
  const text = payloadText(header(headers, 'content-type'), body);
  if (text === null) {
    reject('bad_request');
    return { status: 400, body: 'unsupported Content-Type (use application/json or application/x-www-form-urlencoded)' };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    reject('bad_request');
    logger.warn('error parsing event', { error: 'body is not JSON', deliveryID: deliveryId, event });
    return { status: 400, body: 'body is not JSON' };
  }
  if (event === 'ping') {
    metrics?.count('webhooks_received', { event: eventLabel(event) });
    logger.info('ping received', { deliveryID: deliveryId });
    return { status: 200, body: 'pong' };
  }
  if (event !== 'workflow_job') {
    metrics?.count('webhooks_received', { event: eventLabel(event) });
    logger.debug('ignoring event', { event, deliveryID: deliveryId });
    return { status: 200, body: 'ignored' };
  }
  if (!isWorkflowJobEvent(parsed)) {
    reject('bad_request');
    logger.warn('error parsing event', { error: 'not a valid workflow_job payload', deliveryID: deliveryId });
    return { status: 400, body: 'not a valid workflow_job payload' };
  }
  metrics?.count('webhooks_received', { event: 'workflow_job' });
  return handleWorkflowJob(options, parsed, deliveryId);
}

async function handleWorkflowJob(options: IntakeOptions, event: WorkflowJobEvent, deliveryId: string | undefined): Promise<IntakeAnswer> {
  const { logger, metrics, store, queue } = options;
  const job = event.workflow_job;
  const labels = parseAnkaLabels(job.labels);
  const fields = {
    deliveryID: deliveryId,
    workflowJobID: job.id,
    workflowRunID: job.run_id ?? undefined,
    action: event.action,
    owner: repositoryOwnerLogin(event.repository) ?? undefined,
    repo: event.repository.name ?? undefined,
    workflowJobURL: job.html_url ?? undefined,
  };
  const ignore = (why: string): IntakeAnswer => {
    logger.debug(`ignoring workflow_job: ${why}`, fields);
    return { status: 200, body: 'ignored' };
  };
  if (labels.verdict === 'none') return ignore('no anka-template label');
  const workflow = job.workflow_name ?? '';
  if (options.workflows.include.length > 0 && !options.workflows.include.includes(workflow)) return ignore('workflow not included');
  if (options.workflows.exclude.includes(workflow)) return ignore('workflow excluded');
  const bad = labels.verdict === 'bad';
  if (bad && (options.onBadLabels ?? 'cancel') === 'ignore') {
    metrics?.count('jobs_bad_labels', { action: 'ignore' });
    logger.warn('ignoring workflow_job: its labels look like anka labels but do not parse (on_bad_labels: ignore)', { ...fields, reason: labels.badReason });
    return { status: 200, body: 'ignored' };
  }
  const enqueue = () =>
    withDeadline(
      options.storeTimeoutMs,
      store.enqueue({
        id: String(job.id),
        queue,
        payload: toQueueJob(event),
        deliveryId,
        repositoryOwner: fields.owner,
        template: labels.template,
      }),
    );

  try {
    switch (event.action) {
      case 'queued': {
        // `action` decides, not `status`: a queued event may say `status: waiting` (environments).
        // A bad-label job is stored too (a record that a handler cancels if the receiver cannot).
        const result = await enqueue();
        if (bad && result === 'enqueued') {
          metrics?.count('jobs_bad_labels', { action: 'cancel' });
          logger.error('job labels look like anka labels but do not parse; cancelling its workflow run', { ...fields, queue, reason: labels.badReason });
          if (fields.owner && fields.repo && job.run_id) options.canceller?.cancel({ owner: fields.owner, repo: fields.repo, runId: job.run_id }, labels.badReason ?? 'bad labels', fields);
        } else if (result === 'enqueued') logger.info('job pushed to queued queue', { ...fields, queue });
        else logger.warn('job already present in queued queue, skipping enqueue', { ...fields, queue, reason: result });
        return { status: 200, body: result };
      }
      case 'in_progress':
      case 'completed': {
        if (event.action === 'in_progress' && job.conclusion === 'cancelled') return ignore('in_progress of a cancelled job');
        const recorded: JobEvent = {
          action: event.action as 'in_progress' | 'completed',
          runnerName: job.runner_name ?? undefined,
          runnerId: job.runner_id ?? undefined,
          conclusion: job.conclusion ?? undefined,
          at: Date.now(),
        };
        const record = () => withDeadline(options.storeTimeoutMs, store.recordEvent(queue, String(job.id), recorded));
        let known = await record();
        // Before its `queued` (webhooks are not ordered, and a `queued` may be redelivered late):
        // store the job with this event, so the `queued` that follows is a duplicate and the
        // handler that claims it sees the job is over (or running elsewhere) instead of running it.
        // A bad-label job is not stored this way: there is nothing to cancel once it started or ended.
        let early = false;
        if (!known && !bad) {
          const result = await enqueue();
          early = result === 'enqueued';
          known = await record();
        }
        if (early) logger.info(`job ${event.action} before its queued event; recorded it so it is not run`, { ...fields, queue, runnerName: job.runner_name ?? undefined, conclusion: job.conclusion ?? undefined });
        else if (known) logger.info(`job pushed to ${event.action} queue`, { ...fields, queue, runnerName: job.runner_name ?? undefined, conclusion: job.conclusion ?? undefined });
        else logger.debug('job not present in any tracked queue, skipping', { ...fields, queue });
        return { status: 200, body: known ? 'recorded' : 'unknown job' };
      }
      default:
        return ignore(`action ${event.action}`);
    }
  } catch (error) {
    metrics?.count('webhooks_rejected', { reason: 'store_unavailable' });
    logger.error('error storing webhook event; answering 503 so GitHub can redeliver it', { ...fields, error: (error as Error).message });
    return { status: 503, body: 'job store unavailable' };
  }
}
