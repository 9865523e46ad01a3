import { join } from 'node:path';
import { AnkaSimError } from './errors.js';

/** The environment variable naming the simulator's state directory. */
export const ANKA_SIM_HOME_ENV = 'ANKA_SIM_HOME';

/** Where everything of one simulated host lives; see the README for the layout. */
export interface SimPaths {
  readonly home: string;
  readonly state: string;
  readonly lock: string;
  readonly control: string;
  readonly calls: string;
  /** One line per finished invocation, with its start and end (`timings()`). */
  readonly timings: string;
  readonly vms: string;
  readonly registry: string;
}

export function simPaths(home: string): SimPaths {
  return {
    home,
    state: join(home, 'state.json'),
    lock: join(home, 'state.lock'),
    control: join(home, 'control.json'),
    calls: join(home, 'calls.jsonl'),
    timings: join(home, 'timings.jsonl'),
    vms: join(home, 'vms'),
    registry: join(home, 'registry'),
  };
}

/** The state directory from the environment; a clear error when it is missing. */
export function homeFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const home = env[ANKA_SIM_HOME_ENV];
  if (!home) {
    throw new AnkaSimError('generic', `${ANKA_SIM_HOME_ENV} is not set: point it at a directory made by createAnkaSimHome()`);
  }
  return home;
}

/** The per-VM directory: the guest's file system root and the pids of its processes. */
export function vmDir(paths: SimPaths, uuid: string): string {
  return join(paths.vms, uuid);
}

export function guestRoot(paths: SimPaths, uuid: string): string {
  return join(paths.vms, uuid, 'root');
}

/** Files a registry tag carries; a pull copies them into the template's guest root. */
export function registryTagRoot(paths: SimPaths, uuid: string, tag: string): string {
  return join(paths.registry, uuid, encodeURIComponent(tag), 'root');
}

/** The guest user's home, as on a real Anka macOS template. */
export const GUEST_HOME = '/Users/anka';
/** Where host-to-guest mounts appear in the guest. */
export const GUEST_MOUNTS = '/Volumes/My Shared Files';
