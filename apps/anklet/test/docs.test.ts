import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderFleetStatus, type FleetStatus } from '../src/status/fleet-status.js';
import { CLI, makeTmp, REPO_ROOT, seedFirstPartyPlugins } from './helpers.js';

/**
 * The docs this package owns: the configuration reference is the schema's current rendering, every
 * relative link resolves, every `anklet` command shown exists with the options shown, and the
 * `anklet status` example is what the renderer prints.
 */
const DOCS = ['docs/configuration.md', 'docs/migrating-from-go.md', 'docs/writing-a-plugin.md', 'docs/architecture.md', 'CONTRIBUTING.md', 'examples/demo/README.md', 'examples/docker/README.md', 'apps/anklet/README.md', 'README.md'];
const read = (file: string) => readFileSync(path.join(REPO_ROOT, file), 'utf8');

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, HOME: makeTmp() } });
}

/** `anklet <path> --help`, without blocking the other spawns. */
function helpOf(commandPath: string[]): Promise<{ status: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...commandPath, '--help'], { env: { ...process.env, HOME: makeTmp() } });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout }));
  });
}

/** The words of anklet's command tree; the first other word ends a command path. */
const COMMAND_WORDS = new Set(['start', 'version', 'config', 'validate', 'schema', 'jobs', 'status', 'service', 'install', 'uninstall', 'plugins', 'list', 'remove', 'drain', 'undrain', 'doctor', 'explain']);

/** Lines of fenced `sh` blocks that run anklet, with `KEY=value` prefixes dropped. */
function ankletCommands(markdown: string): string[][] {
  const commands: string[][] = [];
  for (const [, body] of markdown.matchAll(/```sh[^\n]*\n([\s\S]*?)```/g)) {
    for (const raw of body!.split('\n')) {
      const words = raw.replace(/#.*$/, '').trim().split(/\s+/).filter(Boolean);
      while (words[0]?.includes('=')) words.shift();
      if (words[0] === 'anklet') commands.push(words.slice(1));
    }
  }
  return commands;
}

describe('docs', () => {
  it('docs/configuration.md is what `anklet config schema --markdown` prints with the first-party plugins installed', () => {
    const pluginsPath = path.join(makeTmp(), 'plugins');
    seedFirstPartyPlugins(pluginsPath);
    const fresh = cli(['config', 'schema', '--markdown', '-p', pluginsPath]);
    expect(fresh.status, fresh.stderr).toBe(0);
    expect(read('docs/configuration.md'), 'stale: run pnpm build && pnpm --filter anklet gen:config').toBe(fresh.stdout);
    // With no plugin installed, the host's keys only.
    const hostOnly = cli(['config', 'schema', '--markdown', '-p', path.join(makeTmp(), 'none')]);
    expect(hostOnly.stdout).not.toContain('`hook_id`');
    // Every key of the schema has a row.
    const schema = JSON.parse(read('apps/anklet/config.schema.json')) as { properties: Record<string, unknown> };
    for (const key of Object.keys(schema.properties).filter((k) => !['plugins', 'log', 'metrics', 'job_history'].includes(k))) expect(fresh.stdout).toContain(`| \`${key}\` |`);
    // Map keys have their own section.
    expect(fresh.stdout).toContain('| `max_age_hours` | integer (0 or more) | `ANKLET_JOB_HISTORY_MAX_AGE_HOURS` |');
    expect(fresh.stdout).toContain('| `global_token` | text | `ANKLET_GLOBAL_TOKEN` |');
    expect(fresh.stdout).toContain('| `hook_id` | integer (0 or more) | `<NAME>_HOOK_ID` |');
    expect(fresh.stdout).toContain('| `url` | text | `<NAME>_DATABASE_URL` |');
  });

  it('every relative link resolves', () => {
    for (const doc of DOCS) {
      for (const [, target] of read(doc).matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        expect(existsSync(path.resolve(REPO_ROOT, path.dirname(doc), target!)), `${doc}: ${target}`).toBe(true);
      }
    }
  });

  it('every anklet command in the docs exists, with the options shown', async () => {
    const commands: Array<{ doc: string; words: string[]; args: string[]; key: string; path: string[] }> = [];
    for (const doc of DOCS) {
      for (const words of ankletCommands(read(doc))) {
        // Global `-c <file>` comes before the command; the rest is sub-commands, arguments and options.
        const args = words[0] === '-c' ? words.slice(2) : words;
        const path_: string[] = [];
        for (const word of args) {
          if (!COMMAND_WORDS.has(word)) break;
          path_.push(word);
        }
        commands.push({ doc, words, args, key: path_.join(' '), path: path_ });
      }
    }
    // One `--help` per distinct command, all at once.
    const seen = new Map<string, string>();
    const distinct = [...new Map(commands.map((c) => [c.key, c.path])).entries()];
    await Promise.all(
      distinct.map(async ([key, commandPath]) => {
        const help = await helpOf(commandPath);
        expect(help.status, `anklet ${key} --help`).toBe(0);
        seen.set(key, help.stdout);
      }),
    );
    for (const { doc, words, args, key } of commands) {
      for (const option of args.filter((w) => w.startsWith('--'))) expect(seen.get(key), `${doc}: anklet ${words.join(' ')}`).toContain(option);
    }
    expect([...seen.keys()]).toEqual(expect.arrayContaining(['doctor', 'status', 'service install', 'config validate', 'plugins install', 'plugins list']));
  });

  it('the anklet status example in apps/anklet/README.md is what the renderer prints', () => {
    const now = Date.parse('2026-01-07T18:00:00Z');
    const ago = (s: number) => new Date(now - s * 1000).toISOString();
    const plugin = (name: string, plugin_: string, status: string, since: number, ok: number, failed: number, canceled: number) => ({
      name, plugin: plugin_, owner: 'acme', repo: '', status, status_since: ago(since), last_success: null, last_success_url: '', last_failure: null, last_failure_url: '', successes: ok, failures: failed, canceled,
    });
    const host = (key: string, machine: string, age: number, used: number, slots: number, cpu: number, mem: number, disk: number, plugins: ReturnType<typeof plugin>[]) => ({
      key, host_name: machine, version: '0.1.0', last_update: ago(age), age_seconds: age, stale: false, running_vms: used, vm_slots_used: used, vm_slots_total: slots, draining: false,
      cpu_usage_percentage: cpu, memory_usage_percentage: mem, disk_usage_percentage: disk, plugins, queues: [],
    });
    const status: FleetStatus = {
      generated_at: new Date(now).toISOString(),
      hosts: [
        host('linux-1', 'linux-1', 4, 0, 0, 3, 41, 20, [plugin('RECEIVER', 'github_receiver', 'running', 2 * 3600 + 180, 0, 0, 0)]),
        host('mac-01', 'mac-01', 2, 1, 2, 38, 63, 62, [plugin('RUNNER1', 'github', 'in_progress', 41, 17, 1, 0), plugin('RUNNER2', 'github', 'idle', 182, 15, 0, 2)]),
      ],
      stale_hosts: [],
      queues: [{ queue: 'acme', queued: 2, handed_off: 0, delayed: 1, claimed: 1, quarantined: 0, oldest_queued_age_seconds: 12 }],
    };
    const example = /### `anklet status`[\s\S]*?```\n([\s\S]*?)```/.exec(read('apps/anklet/README.md'))![1]!;
    expect(renderFleetStatus(status, 'redis 10.0.0.5:6379').join('\n') + '\n').toBe(example);
  });
});
