import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { compareRunnerVersions, runnerVersionVerdict, type RunnerReleaseInfo } from '@anklet/github';
import type { DoctorCheck } from './doctor.js';

/** One probe of a template's baked runner, as the GitHub handler's runner cache writes it to `templates.json`. */
interface BakedRunner {
  template: string;
  tag: string;
  version: string | null;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * The templates whose baked actions runner GitHub would refuse (older than its 30-day rule), from
 * what the GitHub handler's host runner cache recorded in `<work_dir>/runner-cache/`: the runner
 * probed in each template:tag (`templates.json`) and the releases last read from GitHub
 * (`state.json`). No row when no template has been probed on this host yet.
 */
export function checkTemplateRunners(workDir: string, now: number = Date.now()): DoctorCheck[] {
  const dir = path.join(workDir, 'runner-cache');
  const probed = readJson(path.join(dir, 'templates.json'));
  if (!probed || typeof probed !== 'object') return [];
  const baked = Object.values(probed as Record<string, BakedRunner>).filter((b) => typeof b?.template === 'string' && typeof b.tag === 'string');
  if (baked.length === 0) return [];
  const state = readJson(path.join(dir, 'state.json')) as { releases?: Array<{ version: string; publishedAt: string }> } | undefined;
  const releases: RunnerReleaseInfo[] = (state?.releases ?? []).filter((r) => typeof r?.version === 'string').map((r) => ({ version: r.version, publishedAt: r.publishedAt }));
  if (releases.length === 0) {
    return [{ check: 'template runners', status: 'skip', detail: `${baked.length} template${baked.length === 1 ? '' : 's'} probed, but GitHub's runner releases were never read on this host` }];
  }
  const cached = readdirSafe(dir).filter((v) => /^\d+\.\d+\.\d+$/.test(v) && readdirSafe(path.join(dir, v)).some((f) => f.endsWith('.tar.gz'))).sort((a, b) => compareRunnerVersions(b, a))[0];
  const outdated: string[] = [];
  for (const b of baked) {
    if (b.version === null) continue;
    const verdict = runnerVersionVerdict(b.version, releases, now);
    if (!verdict.accepted) outdated.push(`${b.template}:${b.tag} runner ${b.version} (refused since ${verdict.outdatedBy} is over 30 days old; latest ${verdict.latest})`);
  }
  const withRunner = baked.filter((b) => b.version !== null).length;
  if (outdated.length === 0) {
    return [{ check: 'template runners', status: 'pass', detail: `${withRunner} of ${baked.length} probed template${baked.length === 1 ? '' : 's'} carry a runner GitHub accepts; the others get the cached one` }];
  }
  return [{
    check: 'template runners',
    status: 'warn',
    detail: [`${outdated.length} template${outdated.length === 1 ? ' carries a runner' : 's carry runners'} GitHub refuses:`, ...outdated].join('\n'),
    fix: `push these templates with a current runner (actions-runner ${releases.map((r) => r.version).sort((a, b) => compareRunnerVersions(b, a))[0]}); until then ${cached ? `each VM gets the host's cached runner ${cached}` : 'the host has no cached runner to give their VMs'}`,
  }];
}

function readdirSafe(dir: string): string[] {
  try {
    return existsSync(dir) ? readdirSync(dir) : [];
  } catch {
    return [];
  }
}
