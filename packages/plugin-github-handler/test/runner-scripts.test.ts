import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger } from '@anklet/core';
import { afterEach, describe, expect, it } from 'vitest';
import { RUNNER_SCRIPTS, installRunnerScripts, runnerScriptsDir } from '../src/runner-scripts.js';

const packageDir = path.resolve(import.meta.dirname, '..');
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet, addSecret() {} };
const dirs: string[] = [];
const tmp = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'anklet-scripts-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('runner scripts', () => {
  it('are installed into plugins_path/handlers/github, and a user copy wins', () => {
    const pluginsPath = tmp();
    const target = runnerScriptsDir(pluginsPath);
    mkdirSync(target, { recursive: true });
    writeFileSync(path.join(target, 'register-runner.bash'), '#!/bin/bash\necho mine\n');
    const paths = installRunnerScripts(packageDir, pluginsPath, quiet);
    expect(paths.map((p) => path.basename(p))).toEqual([...RUNNER_SCRIPTS]);
    expect(readFileSync(path.join(target, 'register-runner.bash'), 'utf8')).toContain('echo mine');
    expect(readFileSync(path.join(target, 'start-runner.bash'), 'utf8')).toBe(readFileSync(path.join(packageDir, 'scripts', 'start-runner.bash'), 'utf8'));
    expect(statSync(path.join(target, 'install-runner.bash')).mode & 0o111).not.toBe(0);
  });

  it('pass the JIT config from stdin to run.sh through the environment, never through arguments', () => {
    const home = tmp();
    const runner = path.join(home, 'actions-runner');
    mkdirSync(runner);
    // A stand-in run.sh that reports what it got.
    writeFileSync(path.join(runner, 'run.sh'), '#!/usr/bin/env bash\necho "args=$* jit=$ACTIONS_RUNNER_INPUT_JITCONFIG" > seen.txt\n', { mode: 0o755 });
    const env = { ...process.env, HOME: home };
    const scripts = path.join(packageDir, 'scripts');
    expect(execFileSync('bash', [path.join(scripts, 'install-runner.bash')], { env, cwd: home }).toString()).toContain('runner already installed');
    execFileSync('bash', [path.join(scripts, 'register-runner.bash'), '--jit'], { env, cwd: home, input: 'c2VjcmV0LWppdA==' });
    expect((statSync(path.join(runner, '.anklet-jitconfig')).mode & 0o077)).toBe(0);
    execFileSync('bash', [path.join(scripts, 'start-runner.bash')], { env, cwd: home });
    for (let i = 0; i < 50 && !existsSeen(runner); i++) execFileSync('sleep', ['0.1']);
    expect(readFileSync(path.join(runner, 'seen.txt'), 'utf8').trim()).toBe('args= jit=c2VjcmV0LWppdA==');
    expect(() => statSync(path.join(runner, '.anklet-jitconfig'))).toThrow();
  });

  it('token mode refuses a token argument and reports missing arguments', () => {
    const home = tmp();
    mkdirSync(path.join(home, 'actions-runner'));
    const register = path.join(packageDir, 'scripts', 'register-runner.bash');
    const run = (args: string[]) => spawnSync('bash', [register, ...args], { env: { ...process.env, HOME: home }, input: 'tok\n' });
    expect(run(['vm-1', 'ghp_on_argv', 'https://github.com/acme', 'a,b']).stderr.toString()).toContain('Token argument must be -');
    expect(run(['vm-1', '-', 'https://github.com/acme']).stderr.toString()).toContain('Labels argument is missing');
  });
});

function existsSeen(runner: string): boolean {
  try {
    statSync(path.join(runner, 'seen.txt'));
    return true;
  } catch {
    return false;
  }
}
