import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { AnkletError, ErrorCodes, type HostCoordination, type HostLock, type Release, type ShutdownMode, type VmSlots } from '@anklet/core';

/** Wraps a release so that calling it twice is harmless. */
function once(release: () => void): Release {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    release();
  };
}

/** A FIFO mutex shared by the plugins of this process. */
export class Mutex implements HostLock {
  #held = false;
  readonly #waiters: Array<(release: Release) => void> = [];

  get held(): boolean {
    return this.#held;
  }

  tryAcquire(): Release | null {
    if (this.#held) return null;
    this.#held = true;
    return once(() => this.#release());
  }

  acquire(signal?: AbortSignal): Promise<Release> {
    const release = this.tryAcquire();
    if (release) return Promise.resolve(release);
    if (signal?.aborted) return Promise.reject(abortedError());
    return new Promise<Release>((resolve, reject) => {
      const waiter = (granted: Release) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(granted);
      };
      const onAbort = () => {
        const at = this.#waiters.indexOf(waiter);
        if (at >= 0) this.#waiters.splice(at, 1);
        reject(abortedError());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  #release(): void {
    const next = this.#waiters.shift();
    // Hand the lock straight to the next waiter, so nobody can barge in between.
    if (next) next(once(() => this.#release()));
    else this.#held = false;
  }
}

function abortedError(): AnkletError {
  return new AnkletError(ErrorCodes.ABORTED, 'aborted while waiting for a host lock');
}

/** Counts VM slots; Apple's licence allows two running macOS guests per host. */
export class SlotCounter implements VmSlots {
  #used = 0;
  constructor(readonly total: number) {}

  get used(): number {
    return this.#used;
  }

  tryAcquire(): Release | null {
    if (this.#used >= this.total) return null;
    this.#used += 1;
    return once(() => {
      this.#used -= 1;
    });
  }
}

/** The drain file (`~/.config/anklet/.drain`): while it exists, handlers take no new jobs. */
export function drainFileOf(configDir: string): string {
  return path.join(configDir, '.drain');
}

export interface CoordinationOptions {
  /** This host's identity in the fleet (see host-identity.ts). */
  readonly hostId?: string | undefined;
  readonly configDir: string;
  readonly cpuCount: number;
  readonly memoryBytes: number;
  readonly vmSlots?: number;
  readonly shutdownMode: () => ShutdownMode;
}

/** The host coordination every plugin of this process shares. */
export function createCoordination(options: CoordinationOptions): HostCoordination {
  const drainFile = drainFileOf(options.configDir);
  return {
    hostName: hostname(),
    hostId: options.hostId,
    cpuCount: options.cpuCount,
    memoryBytes: options.memoryBytes,
    vmSlots: new SlotCounter(options.vmSlots ?? 2),
    pullLock: new Mutex(),
    preparingLock: new Mutex(),
    // Read live and fail-open, like the Go anklet: an unreadable path means "not draining".
    isDraining: () => {
      try {
        return existsSync(drainFile);
      } catch {
        return false;
      }
    },
    shutdownMode: options.shutdownMode,
  };
}
