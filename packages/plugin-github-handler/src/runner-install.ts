import path from 'node:path';
import type { AnkaClient, Logger } from '@anklet/core';
import { runnerVersionVerdict } from '@anklet/github';
import { runnerPlatformOf, type BakedRunnerRecord, type RunnerCache } from './runner-cache.js';

/** Why a job went back to the queue when its VM can get no runner (`handOff` reason, timeline and log). */
export const NO_RUNNER_AVAILABLE = 'no_runner_available';

/** Neither the template nor the host cache has a runner for the VM. */
export class NoRunnerAvailable extends Error {
  constructor(readonly template: string, readonly tag: string) {
    super(`template ${template}:${tag} carries no actions runner and the host's runner cache has none (GitHub unreachable?)`);
  }
}

/** Where the runner lives in the VM: the scripts' default `RUNNER_HOME`. */
const RUNNER_HOME = '$HOME/actions-runner';

/** Prints the baked runner's version (the real config.sh answers `--version`), or nothing. */
const PROBE = `if [ -x "${RUNNER_HOME}/config.sh" ]; then "${RUNNER_HOME}/config.sh" --version; fi`;

export interface RunnerInstallDeps {
  readonly anka: AnkaClient;
  readonly cache: RunnerCache;
  readonly log: Logger;
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
  /** The release platform of the VM (default: this host's, `osx-arm64` or `osx-x64`). */
  readonly platform?: string;
}

/** Where the VM's runner came from. */
export interface RunnerChoice {
  readonly source: 'template' | 'cache';
  readonly version: string;
}

/**
 * Makes sure the VM has a runner GitHub accepts, without a download inside the VM: the template's
 * own runner when it is current enough (its version is probed once per template:tag with one
 * `anka run`, and remembered), otherwise the host cache's newest tarball, copied in with `anka cp`
 * and unpacked into `~/actions-runner`. A template runner older than GitHub accepts is replaced,
 * with a WARN naming the template and both versions. Throws {@link NoRunnerAvailable} when the
 * template has no runner and the cache has none either.
 */
export async function prepareRunner(deps: RunnerInstallDeps, vm: string, template: string, tag: string): Promise<RunnerChoice> {
  const { cache, log, signal } = deps;
  const platform = deps.platform ?? runnerPlatformOf();
  const baked = cache.bakedRunner(template, tag) ?? (await probeOnce(deps, vm, template, tag));
  if (baked.version !== null) {
    await cache.refresh(log);
    const verdict = runnerVersionVerdict(baked.version, cache.releases());
    if (verdict.accepted) {
      // Kept warm in the background, for the day this template's runner is refused.
      void cache.runnerFor(platform, log, signal).catch(() => undefined);
      return { source: 'template', version: baked.version };
    }
    const cached = await cache.runnerFor(platform, log, signal);
    if (!cached) {
      log.warn('template runner is older than GitHub accepts and the host has no cached runner; using it anyway', { template, tag, templateRunnerVersion: baked.version, outdatedBy: verdict.outdatedBy });
      return { source: 'template', version: baked.version };
    }
    log.warn('template runner is older than GitHub accepts; installing the cached runner instead', { template, tag, templateRunnerVersion: baked.version, cachedRunnerVersion: cached.version, outdatedBy: verdict.outdatedBy });
    await install(deps, vm, cached.path);
    return { source: 'cache', version: cached.version };
  }

  const cached = await cache.runnerFor(platform, log, signal);
  if (!cached) throw new NoRunnerAvailable(template, tag);
  await install(deps, vm, cached.path);
  log.info('installed the cached runner into the vm', { template, tag, runnerVersion: cached.version });
  return { source: 'cache', version: cached.version };
}

/** Probes in flight, by template:tag: jobs starting together on one template wait for one probe. */
const probes = new Map<string, Promise<BakedRunnerRecord>>();

async function probeOnce(deps: RunnerInstallDeps, vm: string, template: string, tag: string): Promise<BakedRunnerRecord> {
  const key = `${template}:${tag}`;
  const pending = probes.get(key);
  // Another job's probe failing (its VM went away) is no reason for this one to fail.
  if (pending) return (await pending.catch(() => undefined)) ?? probe(deps, vm, template, tag);
  const mine = probe(deps, vm, template, tag).finally(() => probes.delete(key));
  probes.set(key, mine);
  return mine;
}

/** One `anka run` of the template's `config.sh --version`; the result is remembered by the cache. */
async function probe(deps: RunnerInstallDeps, vm: string, template: string, tag: string): Promise<BakedRunnerRecord> {
  const { anka, cache, log, signal, timeoutMs } = deps;
  const result = await anka.run(vm, ['bash', '-c', PROBE], { signal, timeoutMs });
  if (result.exitCode !== 0) throw new Error(`probing the template's runner failed (exit ${result.exitCode}): ${(result.stderr || result.stdout).trim().split('\n').slice(-3).join(' ')}`);
  const version = result.stdout.trim().split('\n').map((l) => l.trim()).reverse().find((l) => /^\d+\.\d+\.\d+$/.test(l)) ?? null;
  const record: BakedRunnerRecord = { template, tag, version, probedAt: new Date().toISOString() };
  cache.recordBakedRunner(record);
  log.info('probed the runner baked into the template', { template, tag, runnerVersion: version ?? '(none)' });
  return record;
}

/** `anka cp` of the tarball into the VM's home, then unpacked into a fresh `~/actions-runner`. */
async function install(deps: RunnerInstallDeps, vm: string, tarball: string): Promise<void> {
  const { anka, signal, timeoutMs } = deps;
  await anka.copyIn(vm, tarball, '', { signal });
  const file = `$HOME/${path.basename(tarball)}`;
  const script = `set -e; rm -rf "${RUNNER_HOME}"; mkdir -p "${RUNNER_HOME}"; tar -xzf "${file}" -C "${RUNNER_HOME}"; rm -f "${file}"`;
  const result = await anka.run(vm, ['bash', '-c', script], { signal, timeoutMs });
  if (result.exitCode !== 0) throw new Error(`unpacking the runner in the vm failed (exit ${result.exitCode}): ${(result.stderr || result.stdout).trim().split('\n').slice(-3).join(' ')}`);
}
