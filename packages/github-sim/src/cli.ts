#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startGitHubSim } from './server.js';
import type { GitHubSimOptions } from './options.js';

const USAGE = `Usage: github-sim [--port <n>] [--config <file.json>] [--seed <n>] [--quiet]

Starts the simulated GitHub on 127.0.0.1 and prints its URL.
  --port     port to listen on (default: a free one)
  --config   JSON file with the options of startGitHubSim (tokens, app, hooks, ...).
             app.privateKeyPath / app.publicKeyPath are read relative to the file.
  --seed     seed for every random choice (default 1)
  --quiet    no request log
Environment: GITHUB_SIM_TOKEN adds one accepted personal access token.`;

/** Config file shape: the programmatic options, with key files instead of inline PEM. */
type ConfigFile = GitHubSimOptions & { app?: GitHubSimOptions['app'] & { privateKeyPath?: string; publicKeyPath?: string } };

function fail(message: string): never {
  process.stderr.write(`github-sim: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string' },
        config: { type: 'string' },
        seed: { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    fail(`${(error as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  let options: ConfigFile = {};
  if (values.config) {
    const path = resolve(values.config);
    try {
      options = JSON.parse(readFileSync(path, 'utf8')) as ConfigFile;
    } catch (error) {
      fail(`cannot read --config ${values.config}: ${(error as Error).message}`);
    }
    if (options.app) {
      const base = dirname(path);
      if (options.app.privateKeyPath) options.app.privateKey = readFileSync(resolve(base, options.app.privateKeyPath), 'utf8');
      if (options.app.publicKeyPath) options.app.publicKey = readFileSync(resolve(base, options.app.publicKeyPath), 'utf8');
    }
  }
  if (values.port !== undefined) {
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be a port number, got "${values.port}"`);
    options.port = port;
  }
  if (values.seed !== undefined) options.seed = Number(values.seed);
  if (process.env.GITHUB_SIM_TOKEN) options.tokens = [...(options.tokens ?? []), process.env.GITHUB_SIM_TOKEN];
  if (!values.quiet) options.log = (line) => process.stdout.write(`${line}\n`);

  let sim;
  try {
    sim = await startGitHubSim(options);
  } catch (error) {
    fail((error as Error).message);
  }
  process.stdout.write(`github-sim listening on ${sim.url}\n`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) process.exit(1);
    stopping = true;
    // Hard exit if closing hangs on a stuck connection.
    setTimeout(() => process.exit(0), 3000).unref();
    void sim.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

void main();
