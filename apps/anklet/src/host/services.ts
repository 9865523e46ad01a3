import { AnkletError, ErrorCodes, type AnkaClient, type ErrorCode } from '@anklet/core';

/**
 * A service that a later package provides (`@anklet/anka` for the Anka client). Every method
 * rejects with a stable code and a clear message instead of pretending to work.
 */
function unavailableService<T extends object>(code: ErrorCode, what: string): T {
  return new Proxy({} as T, {
    get: (_target, prop) => {
      // Not a thenable, so `await service` does not hang.
      if (typeof prop === 'symbol' || prop === 'then') return undefined;
      return () =>
        Promise.reject(
          new AnkletError(code, `${what} is not available in this build of anklet (${String(prop)})`, {
            hint: 'upgrade anklet to a version that ships it',
          }),
        );
    },
  });
}

export function createUnavailableAnka(): AnkaClient {
  return unavailableService<AnkaClient>(ErrorCodes.ANKA_FAILED, 'the Anka client');
}
