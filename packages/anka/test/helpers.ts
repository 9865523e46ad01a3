import { createAnkaSimHome, type AnkaSimHome, type AnkaSimOptions } from '@anklet/anka-sim';
import type { HostLock, Logger, Release, VmSlots } from '@anklet/core';
import { afterEach } from 'vitest';
import { createAnkaHost, type AnkaHost, type AnkaHostOptions } from '../src/index.js';

export const GiB = 2 ** 30;

/** A lock good enough for tests (the host's real one lives in apps/anklet). */
export function testLock(): HostLock {
  let held = false;
  const lock: HostLock = {
    get held() {
      return held;
    },
    tryAcquire(): Release | null {
      if (held) return null;
      held = true;
      let done = false;
      return () => {
        if (!done) held = false;
        done = true;
      };
    },
    async acquire(): Promise<Release> {
      for (;;) {
        const release = lock.tryAcquire();
        if (release) return release;
        await new Promise((r) => setTimeout(r, 5));
      }
    },
  };
  return lock;
}

export function testSlots(total = 2): VmSlots {
  let used = 0;
  return {
    total,
    get used() {
      return used;
    },
    tryAcquire() {
      if (used >= total) return null;
      used += 1;
      let done = false;
      return () => {
        if (!done) used -= 1;
        done = true;
      };
    },
  };
}

export interface LogLine {
  level: string;
  message: string;
  fields: Record<string, unknown> | undefined;
}

export function recordingLogger(lines: LogLine[] = []): Logger & { lines: LogLine[] } {
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) => void lines.push({ level, message, fields });
  const logger = { lines, error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug'), child: () => logger };
  return logger as unknown as Logger & { lines: LogLine[] };
}

const homes: AnkaSimHome[] = [];
afterEach(() => {
  while (homes.length > 0) homes.pop()?.remove();
});

/** A simulator state directory removed after the test. */
export function simHome(options: AnkaSimOptions = {}): AnkaSimHome {
  const home = createAnkaSimHome(options);
  homes.push(home);
  return home;
}

export function simEnv(home: AnkaSimHome): NodeJS.ProcessEnv {
  return { ...process.env, ...home.env };
}

export const TEMPLATE_UUID = '84266873-da90-4e0d-903b-ed0233471f9f';

/** A registry with one template `anklet` (tags `6c14r` then `8c16r`). */
export function registrySeed(extra: Partial<NonNullable<AnkaSimOptions['registry']>> = {}): NonNullable<AnkaSimOptions['registry']> {
  return {
    templates: [
      {
        name: 'anklet',
        uuid: TEMPLATE_UUID,
        tags: [
          { tag: '6c14r', cpuCores: 6, ramBytes: 14 * GiB, imageSizeBytes: 28 * GiB },
          { tag: '8c16r', cpuCores: 8, ramBytes: 16 * GiB, imageSizeBytes: 30 * GiB },
        ],
      },
    ],
    ...extra,
  };
}

export async function makeHost(
  home: AnkaSimHome,
  options: Partial<AnkaHostOptions> & { cpuCount?: number; memoryBytes?: number } = {},
): Promise<AnkaHost> {
  return createAnkaHost({
    env: simEnv(home),
    coordination: {
      cpuCount: options.cpuCount ?? 16,
      memoryBytes: options.memoryBytes ?? 64 * GiB,
      vmSlots: testSlots(),
      pullLock: testLock(),
      preparingLock: testLock(),
    },
    diskTotalBytes: () => home.readState().host.disk_total_bytes,
    progressLogMs: 60_000,
    killGraceMs: 500,
    deleteRetryDelayMs: 10,
    ...options,
  });
}
