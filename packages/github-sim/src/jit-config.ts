/**
 * The `encoded_jit_config` GitHub returns is base64 of a JSON map from the runner's hidden
 * config file names to their base64 contents (`.runner`, `.credentials`,
 * `.credentials_rsaparams`); `run.sh --jitconfig` writes them out and starts. The sim keeps that
 * shape and puts what its simulated runner needs (server URL, runner id, credential) inside.
 */
export interface JitRunnerSettings {
  agentId: number;
  agentName: string;
  poolId: number;
  poolName: string;
  serverUrl: string;
  gitHubUrl: string;
  workFolder: string;
  ephemeral: true;
}

export interface DecodedJitConfig {
  settings: JitRunnerSettings;
  /** The runner's secret; never log it. */
  credential: string;
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value), 'utf8').toString('base64');

export function encodeJitConfig(settings: JitRunnerSettings, credential: string, rsaSeed: string): string {
  const files = {
    '.runner': b64(settings),
    '.credentials': b64({
      scheme: 'OAuth',
      data: { clientId: `${settings.agentId}`, authorizationUrl: `${settings.serverUrl}/_sim/runner/token`, accessToken: credential },
    }),
    // Real runners keep an RSA key here; the sim has no use for one, but keeps the file.
    '.credentials_rsaparams': b64({ d: rsaSeed, exponent: 'AQAB', modulus: rsaSeed }),
  };
  return b64(files);
}

/** Throws an Error with a readable message when the blob is not a JIT config. */
export function decodeJitConfig(encoded: string): DecodedJitConfig {
  const parse = (text: string, what: string): Record<string, unknown> => {
    try {
      const value = JSON.parse(Buffer.from(text.trim(), 'base64').toString('utf8')) as unknown;
      if (typeof value === 'object' && value !== null) return value as Record<string, unknown>;
    } catch {
      // fall through
    }
    throw new Error(`the JIT config is not valid: ${what} is not base64-encoded JSON`);
  };
  const files = parse(encoded, 'the config');
  const runnerFile = files['.runner'];
  const credentialsFile = files['.credentials'];
  if (typeof runnerFile !== 'string' || typeof credentialsFile !== 'string') {
    throw new Error('the JIT config is not valid: .runner or .credentials is missing');
  }
  const settings = parse(runnerFile, '.runner') as unknown as JitRunnerSettings;
  const credentials = parse(credentialsFile, '.credentials') as { data?: { accessToken?: unknown } };
  const credential = credentials.data?.accessToken;
  if (typeof settings.serverUrl !== 'string' || typeof settings.agentId !== 'number' || typeof credential !== 'string') {
    throw new Error('the JIT config is not valid: it was not issued by github-sim');
  }
  return { settings, credential };
}
