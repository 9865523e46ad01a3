import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import assembleReleasePlan from '@changesets/assemble-release-plan';
import { read as readChangesetConfig } from '@changesets/config';
import type { Config, NewChangeset, PackageJSON } from '@changesets/types';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from './helpers.js';

/**
 * The repository's release machinery, read by the tools that use it: the workflows (YAML), the
 * changesets config (parsed by @changesets/config) and the release plans changesets would make.
 */
interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Workflow {
  on: Record<string, unknown>;
  permissions: Record<string, string>;
  jobs: Record<string, { container?: string; steps: Step[]; strategy?: { matrix: { node: number[] } } }>;
}
const workflow = (name: string) => parse(readFileSync(path.join(REPO_ROOT, '.github', 'workflows', name), 'utf8')) as Workflow;

type Pkg = { dir: string; packageJson: PackageJSON };
type Packages = { root: Pkg; packages: Pkg[]; tool: 'pnpm' };

/** The workspace packages, as changesets sees them. */
function workspacePackages(): Packages {
  const read = (dir: string): Pkg => ({ dir, packageJson: JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as PackageJSON });
  const packages: Pkg[] = [];
  for (const parent of ['packages', 'apps', 'examples']) {
    for (const name of readdirSync(path.join(REPO_ROOT, parent))) {
      const dir = path.join(REPO_ROOT, parent, name);
      try {
        statSync(path.join(dir, 'package.json'));
      } catch {
        continue;
      }
      packages.push(read(dir));
    }
  }
  packages.push(read(path.join(REPO_ROOT, 'bench')));
  return { root: read(REPO_ROOT), packages, tool: 'pnpm' };
}

function plan(changes: Record<string, 'patch' | 'minor' | 'major'>, packages: Packages, config: Config): Record<string, string> {
  const changeset: NewChangeset = { id: 'test-change', summary: 'a change', releases: Object.entries(changes).map(([name, type]) => ({ name, type })) };
  const result = assembleReleasePlan([changeset], packages as never, config, undefined);
  return Object.fromEntries(result.releases.filter((r) => r.type !== 'none').map((r) => [r.name, r.type]));
}

describe('.github workflows', () => {
  it('ci: on pushes and pull requests, Node 20 and 22 on Debian, runs .ci/run (install, build, tests with Redis), lint and typecheck', () => {
    const ci = workflow('ci.yml');
    expect(Object.keys(ci.on).sort()).toEqual(['pull_request', 'push']);
    expect(ci.permissions).toEqual({ contents: 'read' });
    const job = ci.jobs.test!;
    expect(job.strategy!.matrix.node).toEqual([20, 22]);
    expect(job.container).toContain('bookworm');
    const runs = job.steps.map((s) => s.run).filter(Boolean);
    expect(runs).toEqual(expect.arrayContaining(['.ci/run', 'pnpm lint', 'pnpm typecheck']));
    const script = readFileSync(path.join(REPO_ROOT, '.ci', 'run'), 'utf8');
    expect(script).toContain('redis-server');
    expect(script).toContain('pnpm install --frozen-lockfile');
    expect(script).toContain('pnpm test');
    expect(statSync(path.join(REPO_ROOT, '.ci', 'run')).mode & 0o111).not.toBe(0);
  });

  it('release: changesets on main with npm provenance (id-token: write), after the same checks', () => {
    const release = workflow('release.yml');
    expect(release.on).toEqual({ push: { branches: ['main'] } });
    expect(release.permissions).toMatchObject({ 'id-token': 'write', contents: 'write', 'pull-requests': 'write' });
    const steps = release.jobs.release!.steps;
    const node = steps.find((s) => s.uses?.startsWith('actions/setup-node'))!;
    expect(node.with).toMatchObject({ 'registry-url': 'https://registry.npmjs.org' });
    const changesets = steps.findIndex((s) => s.uses?.startsWith('changesets/action@'));
    expect(changesets).toBeGreaterThan(steps.findIndex((s) => s.run === '.ci/run'));
    const action = steps[changesets]!;
    expect(action.with).toMatchObject({ publish: 'pnpm release', version: 'pnpm exec changeset version' });
    expect(action.env).toMatchObject({ NPM_CONFIG_PROVENANCE: 'true', NODE_AUTH_TOKEN: '${{ secrets.NPM_TOKEN }}' });
    const root = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; devDependencies: Record<string, string> };
    expect(root.scripts.release).toBe('turbo run build && changeset publish');
    expect(root.devDependencies).toHaveProperty('@changesets/cli');
  });
});

describe('.changeset/config.json', () => {
  it('is valid for changesets, publishes public packages and never the private ones', async () => {
    const packages = workspacePackages();
    const config = await readChangesetConfig(REPO_ROOT, packages as never);
    expect(config.access).toBe('public');
    expect(config.baseBranch).toBe('main');
    expect(config.privatePackages).toEqual({ version: false, tag: false });
    expect(config.___experimentalUnsafeOptions_WILL_CHANGE_IN_PATCH).toMatchObject({ onlyUpdatePeerDependentsWhenOutOfRange: true, updateInternalDependents: 'out-of-range' });
    const publicNames = packages.packages.filter((p) => !p.packageJson.private).map((p) => p.packageJson.name);
    expect(publicNames).toEqual(expect.arrayContaining(['anklet', '@anklet/core', '@anklet/plugin-github-receiver']));
    expect(publicNames).not.toContain('@anklet/testing');
  });

  it('a core patch releases no plugin as major', async () => {
    const packages = workspacePackages();
    const config = await readChangesetConfig(REPO_ROOT, packages as never);
    const releases = plan({ '@anklet/core': 'patch' }, packages, config);
    expect(releases['@anklet/core']).toBe('patch');
    expect(Object.entries(releases).filter(([, type]) => type === 'major')).toEqual([]);
  });

  it('once core is 1.x, a core minor leaves peer-dependent plugins alone; without the option they would go major', async () => {
    const packages = workspacePackages();
    const config = await readChangesetConfig(REPO_ROOT, packages as never);
    // The same graph at 1.0.0, where ^1.0.0 accepts a minor core release.
    const at1: Packages = {
      ...packages,
      packages: packages.packages.map((p) => {
        const json = JSON.parse(JSON.stringify(p.packageJson).replace(/"workspace:\^"/g, '"workspace:^1.0.0"')) as PackageJSON;
        return { dir: p.dir, packageJson: { ...json, version: '1.0.0' } };
      }),
    };
    const releases = plan({ '@anklet/core': 'minor' }, at1, config);
    expect(releases['@anklet/core']).toBe('minor');
    expect(releases['@anklet/plugin-github-receiver']).not.toBe('major');
    expect(Object.entries(releases).filter(([, type]) => type === 'major')).toEqual([]);

    const without = { ...config, ___experimentalUnsafeOptions_WILL_CHANGE_IN_PATCH: { ...config.___experimentalUnsafeOptions_WILL_CHANGE_IN_PATCH, onlyUpdatePeerDependentsWhenOutOfRange: false } };
    expect(plan({ '@anklet/core': 'minor' }, at1, without)['@anklet/plugin-github-receiver']).toBe('major');
  });
});
