import { execFile } from 'node:child_process';
import { AnkletError, childEnv, ErrorCodes } from '@anklet/core';

/**
 * Flags for every npm call that changes a plugins folder: no lifecycle scripts (a plugin's install
 * script would run with the operator's rights before we validated anything), no audit/fund noise,
 * production deps only.
 */
const INSTALL_FLAGS = ['--ignore-scripts', '--no-audit', '--no-fund', '--omit=dev', '--loglevel=error', '--no-update-notifier'];

/**
 * Runs the `npm` found on PATH in `cwd`. The registry, scoped registries and credentials are the
 * user's own npm configuration (`~/.npmrc`, a `.npmrc` in `cwd`, `npm_config_*` variables): the
 * installer passes none of its own.
 */
function npm(args: ReadonlyArray<string>, cwd: string): Promise<{ stdout: string; stderr: string; failed: Error | null }> {
  return new Promise((resolve) => {
    // An argument array, never a shell string: specs come from the command line.
    execFile('npm', [...args], { cwd, maxBuffer: 64 * 1024 * 1024, env: childEnv(process.env, { prefixes: ['npm_config_', 'NPM_CONFIG_'], set: { npm_config_prefix: cwd } }) }, (error, stdout, stderr) => {
      resolve({ stdout: String(stdout), stderr: String(stderr), failed: error });
    });
  });
}

function tail(text: string): string {
  return text
    .trim()
    .split('\n')
    .filter((line) => !/A complete log of this run can be found in/.test(line))
    .slice(-12)
    .join('\n');
}

/** `npm install|uninstall ... --save` in a plugins folder; throws npm's own words on failure. */
export async function runNpm(args: ReadonlyArray<string>, cwd: string): Promise<void> {
  const { stderr, failed } = await npm([...args, ...INSTALL_FLAGS], cwd);
  if (!failed) return;
  const said = tail(stderr);
  throw new AnkletError(ErrorCodes.PLUGIN_INSTALL_FAILED, `npm ${args.join(' ')} failed${said ? `:\n${said}` : ''}`, {
    operator: true,
    cause: failed,
    hint: 'the plugins folder was left as it was; the registry is the one of your npm configuration (check it with: npm config get registry)',
  });
}

/** What the registry says about one version of a package. */
export interface RegistryVersion {
  readonly name: string;
  readonly version: string;
  readonly keywords?: ReadonlyArray<string>;
  readonly peerDependencies?: Readonly<Record<string, string>>;
  readonly anklet?: { readonly apiVersion?: unknown; readonly kind?: unknown; readonly anka?: unknown };
}

/**
 * `npm view <spec> --json`: every version the spec matches (a range can match several), through the
 * user's npm configuration. Throws with npm's words when the package or version does not exist.
 */
export async function viewVersions(spec: string, cwd: string): Promise<RegistryVersion[]> {
  const { stdout, stderr, failed } = await npm(['view', spec, 'name', 'version', 'keywords', 'peerDependencies', 'anklet', '--json', '--no-update-notifier'], cwd);
  if (failed) {
    const notFound = /E404|404 Not Found|is not in this registry|No match found/i.test(stderr + stdout);
    const registry = (await npm(['config', 'get', 'registry'], cwd)).stdout.trim();
    throw new AnkletError(
      ErrorCodes.PLUGIN_INSTALL_FAILED,
      notFound ? `"${spec}" was not found in the npm registry ${registry}` : `npm view ${spec} failed (registry ${registry}):\n${tail(stderr)}`,
      {
        operator: true,
        cause: failed,
        hint: notFound
          ? 'fix: check the package name and version (short ids: github, github_receiver); a private registry is set in ~/.npmrc or npm_config_registry (npm config get registry shows the one in use)'
          : 'fix: check the registry in your npm configuration (npm config get registry) and your network',
      },
    );
  }
  if (stdout.trim() === '') {
    throw new AnkletError(ErrorCodes.PLUGIN_INSTALL_FAILED, `no published version matches "${spec}"`, {
      operator: true,
      hint: `fix: see the published versions with: npm view ${spec.replace(/@[^@/]*$/, '')} versions`,
    });
  }
  const parsed = JSON.parse(stdout) as RegistryVersion | RegistryVersion[];
  return Array.isArray(parsed) ? parsed : [parsed];
}

/**
 * `npm pack <folder>` into `destination` (no lifecycle scripts): a folder is installed from its
 * tarball, as a copy, so the plugin shares the host's `@anklet/core` instead of the folder's own
 * node_modules, and keeps working when the folder moves. Returns the tarball's file name.
 */
export async function packFolder(folder: string, destination: string): Promise<string> {
  const { stdout, stderr, failed } = await npm(['pack', folder, '--pack-destination', destination, '--ignore-scripts', '--json', '--loglevel=error', '--no-update-notifier'], destination);
  if (failed) {
    throw new AnkletError(ErrorCodes.PLUGIN_INSTALL_FAILED, `npm pack ${folder} failed:\n${tail(stderr)}`, {
      operator: true,
      cause: failed,
      hint: `fix: make ${folder} a package npm can pack (a package.json with name and version; build it first)`,
    });
  }
  const [packed] = JSON.parse(stdout) as Array<{ filename: string }>;
  return packed!.filename;
}
