import { describe, expect, it } from 'vitest';
import { childEnv, looksSecretName } from '../src/child-env.js';

const source = {
  PATH: '/usr/bin:/bin',
  HOME: '/Users/ci',
  USER: 'ci',
  LOGNAME: 'ci',
  LANG: 'en_US.UTF-8',
  LC_ALL: 'en_US.UTF-8',
  TMPDIR: '/tmp/x',
  ANKA_SIM_HOME: '/tmp/sim',
  ANKA_REGISTRY_TOKEN: 'canary-1',
  ANKLET_GLOBAL_TOKEN: 'canary-2',
  ANKLET_WORK_DIR: '/work',
  GITHUB_HANDLER_PRIVATE_KEY: 'canary-3',
  RECEIVER_SECRET: 'canary-4',
  AWS_SECRET_ACCESS_KEY: 'canary-5',
  DB_PASSWORD: 'canary-6',
  SOME_API_KEY: 'canary-7',
  GH_TOKEN: 'canary-8',
  HTTPS_PROXY: 'http://user:pw@proxy:3128',
  NO_PROXY: 'localhost',
  npm_config_registry: 'https://registry.example/',
  'npm_config_//registry.example/:_authToken': 'canary-9',
  npm_config__auth: 'canary-10',
  RANDOM_VAR: 'x',
};

describe('childEnv', () => {
  it('keeps PATH, HOME, user, locale, TMPDIR and non-secret ANKA_* only', () => {
    expect(childEnv(source)).toEqual({
      PATH: '/usr/bin:/bin',
      HOME: '/Users/ci',
      USER: 'ci',
      LOGNAME: 'ci',
      LANG: 'en_US.UTF-8',
      LC_ALL: 'en_US.UTF-8',
      TMPDIR: '/tmp/x',
      ANKA_SIM_HOME: '/tmp/sim',
      NO_PROXY: 'localhost',
    });
  });

  it('gives npm its registry settings but never an auth value', () => {
    const env = childEnv(source, { prefixes: ['npm_config_'], set: { npm_config_prefix: '/p' } });
    expect(env.npm_config_registry).toBe('https://registry.example/');
    expect(env.npm_config_prefix).toBe('/p');
    expect(Object.values(env).join('\n')).not.toContain('canary');
  });

  it('never passes a credential-like name, even when asked for by name or prefix', () => {
    const env = childEnv(source, { names: ['GH_TOKEN', 'ANKLET_WORK_DIR'], prefixes: ['AWS_', 'DB_', 'SOME_'] });
    expect(Object.values(env).join('\n')).not.toContain('canary');
    expect(env.ANKLET_WORK_DIR).toBeUndefined();
  });

  it('recognises credential names', () => {
    for (const name of ['X_TOKEN', 'webhook_secret', 'PRIVATE_KEY', 'KEY', 'API_KEY', 'PASSWORD', 'npm_config__authToken', 'NPM_CONFIG__AUTH']) {
      expect(looksSecretName(name), name).toBe(true);
    }
    for (const name of ['PATH', 'HOME', 'LC_ALL', 'ANKA_SIM_HOME', 'KEYCHAIN_PATH_X', 'MONKEY']) {
      expect(looksSecretName(name), name).toBe(false);
    }
  });
});
