import { fileURLToPath } from 'node:url';

/**
 * The directory holding the simulated `anka` executable. Put it first on `PATH` and any code that
 * spawns `anka` talks to the simulator:
 *
 * @example
 * ```ts
 * const env = { ...process.env, PATH: `${ankaSimBinDir()}:${process.env.PATH}`, ANKA_SIM_HOME: home.dir };
 * ```
 */
export function ankaSimBinDir(): string {
  // dist/bin-dir.js -> ../bin
  return fileURLToPath(new URL('../bin', import.meta.url));
}

/** The full path of the simulated `anka` executable. */
export function ankaSimBinPath(): string {
  return fileURLToPath(new URL('../bin/anka', import.meta.url));
}
