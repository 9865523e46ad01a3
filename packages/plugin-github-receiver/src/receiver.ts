import type { LeaderLease, PluginInstance, ReceiverContext } from '@anklet/core';
import { connectionOptionsOf, createGitHubClient, queueNameOf, resolveScope, sleep, type AnkletOctokit } from '@anklet/github';
import { BadLabelCanceller } from './bad-labels.js';
import { redeliveryConfigured, type ReceiverConfig } from './config.js';
import type { IntakeOptions } from './intake.js';
import { Redeliverer } from './redelivery.js';
import { createReceiverApp, listen, type ReceiverServer } from './server.js';

/** Extra knobs for tests and embedding; the host passes none. */
export interface ReceiverTestOptions {
  /** Minimum spacing of GitHub writes (redelivery POSTs), default GitHub's advice of 1 s. */
  readonly writeSpacingMs?: number;
}

/**
 * One receiver instance: the HTTP server, and the redelivery loop that runs on whichever receiver
 * of the fleet holds the `github-redelivery` leadership for this hook.
 */
export function createReceiver(ctx: ReceiverContext<ReceiverConfig>, testOptions: ReceiverTestOptions = {}): PluginInstance & { readonly port: () => number } {
  const config = ctx.config;
  const logger = ctx.logger;
  const scope = resolveScope(config);
  const queue = queueNameOf(config);
  ctx.logger.addSecret(config.secret);
  // The GitHub client, once start() made one (only with credentials, outside enterprise scope).
  let octokit: AnkletOctokit | undefined;
  const canceller = new BadLabelCanceller(() => octokit, logger, ctx.metrics);
  const intake: IntakeOptions = {
    secret: config.secret,
    allowSha1: config.allow_sha1_signature,
    queue,
    store: ctx.store,
    logger,
    metrics: ctx.metrics,
    storeTimeoutMs: config.store_timeout_ms,
    workflows: config.workflows,
    onBadLabels: config.on_bad_labels,
    canceller,
  };
  let server: ReceiverServer | undefined;
  const stopping = new AbortController();
  const signal = AbortSignal.any([ctx.signal, stopping.signal]);
  let loop: Promise<void> | undefined;
  let lease: LeaderLease | null = null;
  const leaderName = `github-redelivery.${queue}.${config.hook_id}`.replace(/[{}]/g, '_');
  const leaderOwner = `${ctx.host.hostName}/${ctx.name}/${process.pid}`;
  const intervalMs = config.redeliver_interval_seconds * 1000;
  // The leadership outlives one interval so the leader keeps it between passes.
  const leaseMs = intervalMs * 2 + 60_000;

  async function redeliverOnce(redeliverer: Redeliverer): Promise<void> {
    try {
      if (lease) {
        try {
          await ctx.store.renewLeadership(lease, leaseMs);
        } catch {
          lease = null;
        }
      }
      lease ??= await ctx.store.acquireLeadership(leaderName, leaderOwner, leaseMs);
      if (!lease) {
        logger.debug('another receiver leads redelivery for this hook', { hook_id: config.hook_id });
        return;
      }
      await redeliverer.pass();
    } catch (error) {
      if (signal.aborted) return;
      ctx.metrics.count('github_redelivery_failures');
      logger.error('error redelivering hooks', { error: (error as Error).message, hook_id: config.hook_id });
    }
  }

  return {
    port: () => server?.port ?? 0,
    async start() {
      server = await listen(createReceiverApp(intake, config.body_limit_bytes), config.port, config.listen_address);
      logger.info('receiver listening', { port: server.port, address: config.listen_address, queue });
      const hasCredentials = Boolean(config.token || config.private_key);
      // Enterprise scope has no repository client here: a handler cancels bad-label jobs there.
      if (scope.kind !== 'enterprise' && hasCredentials) {
        const client = await createGitHubClient({
          ...connectionOptionsOf(config),
          scope,
          logger,
          metrics: ctx.metrics,
          signal,
          ...(testOptions.writeSpacingMs === undefined ? {} : { writeSpacingMs: testOptions.writeSpacingMs }),
        });
        octokit = client.octokit;
      }
      if (scope.kind === 'enterprise') {
        logger.info('enterprise scope has no hook delivery API; skipping webhook redelivery (use GitHub UI to redeliver failed deliveries)');
      } else if (config.skip_redeliver) {
        logger.info('skip_redeliver is set; failed webhook deliveries are not redelivered');
      } else if (!redeliveryConfigured(config) || !octokit) {
        logger.warn('no hook_id and no GitHub credentials: failed webhook deliveries are not redelivered (set hook_id with token or private_key, or skip_redeliver: true)');
      } else {
        const redeliverer = new Redeliverer({
          octokit,
          scope,
          hookId: config.hook_id,
          hours: config.redeliver_hours,
          queue,
          store: ctx.store,
          logger,
          metrics: ctx.metrics,
          maxApiCalls: config.redeliver_max_api_calls,
        });
        // The first pass belongs to start-up (what Go did); then one every interval.
        await redeliverOnce(redeliverer);
        loop = (async () => {
          while (!signal.aborted) {
            try {
              await sleep(intervalMs, signal);
            } catch {
              return;
            }
            await redeliverOnce(redeliverer);
          }
        })();
      }
      ctx.metrics.setStatus('running');
      logger.info('receiver finished starting');
    },
    async stop() {
      logger.warn('shutting down receiver');
      stopping.abort();
      await server?.close();
      await loop;
      await canceller.settle();
      if (lease) await ctx.store.releaseLeadership(lease).catch(() => undefined);
      lease = null;
    },
  };
}
