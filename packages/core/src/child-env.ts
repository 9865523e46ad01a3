/**
 * The environment anklet gives the processes it starts (`anka`, `npm`, service managers, ...).
 *
 * An allow-list, never "everything minus secrets": anklet's own environment may hold the token,
 * the webhook secret and the App key as overrides (`ANKLET_GLOBAL_TOKEN`, `<PLUGIN>_PRIVATE_KEY`),
 * and a child (and everything `anka run` starts in turn) must not inherit them. A variable passes
 * when its name is in {@link CHILD_ENV_NAMES}, or starts with one of {@link CHILD_ENV_PREFIXES}
 * (plus the caller's own `prefixes`), and its name does not suggest a credential
 * ({@link looksSecretName}); `ANKLET_*` never passes. Proxy variables pass only without a
 * `user:password@` part.
 */

type Env = Readonly<Record<string, string | undefined>>;

/** Variables every child gets when anklet has them: where programs are, who runs them, locale, temp files. */
export const CHILD_ENV_NAMES: ReadonlyArray<string> = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LANGUAGE',
  'TZ',
  'TMPDIR',
  'TMP',
  'TEMP',
  'TERM',
  // Trust stores and proxies: `anka registry pull` and npm reach the network through them.
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'NODE_EXTRA_CA_CERTS',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
];

/**
 * Name prefixes every child gets: the locale (`LC_*`) and Anka's own settings (`ANKA_*`: the CLI
 * and its registry tooling read `ANKA_*` variables, and anka-sim reads `ANKA_SIM_HOME`). A name with
 * a credential word (`ANKA_REGISTRY_TOKEN`) is still dropped.
 */
export const CHILD_ENV_PREFIXES: ReadonlyArray<string> = ['LC_', 'ANKA_'];

const SECRET_WORDS = /TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|PRIVATE|CREDENTIAL|AUTH|COOKIE|SESSION|(^|_|-)KEY($|_|-)|APIKEY|_PASS$|^PASS_/i;
const PROXY_NAMES = /^(https?|no)_proxy$/i;

/** True when a variable's name suggests it holds a credential (token, secret, key, password, auth). */
export function looksSecretName(name: string): boolean {
  return SECRET_WORDS.test(name);
}

/** Options of {@link childEnv}. */
export interface ChildEnvOptions {
  /** Extra name prefixes this child needs (npm: `npm_config_`); credential-like names still never pass. */
  readonly prefixes?: ReadonlyArray<string> | undefined;
  /** Extra exact names this child needs (a service manager: `XDG_RUNTIME_DIR`). */
  readonly names?: ReadonlyArray<string> | undefined;
  /** Set after filtering (the caller's own values, e.g. `npm_config_prefix`); not filtered. */
  readonly set?: Readonly<Record<string, string>> | undefined;
}

/**
 * The minimal environment for a child process, taken from `source` (default `process.env`).
 *
 * ```ts
 * spawn('anka', ['-j', 'list'], { env: childEnv() });
 * ```
 */
export function childEnv(source: Env = process.env, options: ChildEnvOptions = {}): Record<string, string> {
  const names = new Set([...CHILD_ENV_NAMES, ...(options.names ?? [])]);
  const prefixes = [...CHILD_ENV_PREFIXES, ...(options.prefixes ?? [])];
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(source)) {
    if (value === undefined) continue;
    if (/^ANKLET_/i.test(name) || looksSecretName(name)) continue;
    if (!names.has(name) && !prefixes.some((prefix) => name.startsWith(prefix))) continue;
    // `http://user:password@proxy:3128` carries a password in its value.
    if (PROXY_NAMES.test(name) && /\/\/[^/@]*@/.test(value)) continue;
    env[name] = value;
  }
  return { ...env, ...options.set };
}
