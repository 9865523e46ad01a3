import { AnkletError, ErrorCodes, type AnkaClient } from '@anklet/core';

/**
 * The `ctx.anka` of a handler whose package.json declares `"anklet": { "anka": false }`: the host
 * started without the Anka checks for it, so every call is refused with the reason and the fix
 * instead of reaching a CLI that may not be installed.
 */
export function refusingAnka(plugin: string): AnkaClient {
  const refuse = (method: string) => () => {
    const error = new AnkletError(
      ErrorCodes.ANKA_FAILED,
      `plugin "${plugin}" called anka.${method}() but its package.json declares "anklet": { "anka": false }, so this host started without Anka for it`,
      { operator: true, hint: 'fix: set "anka": true (or remove the field) in the plugin\'s package.json "anklet" block, and install anka on this host' },
    );
    // newVmName is the one synchronous method.
    if (method === 'newVmName') throw error;
    return Promise.reject(error);
  };
  return new Proxy({} as AnkaClient, {
    get: (_target, key) => (typeof key === 'string' && key !== 'then' ? refuse(key) : undefined),
  });
}
