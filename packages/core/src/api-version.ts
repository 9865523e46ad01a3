/**
 * The version of the plugin contract this copy of `@anklet/core` describes.
 *
 * A plugin package declares the contract it was built against in its package.json
 * (`"anklet": { "apiVersion": 1 }`) and `definePlugin` stamps it on the plugin object. The host
 * refuses a plugin whose `apiVersion` differs from its own. Any breaking change to this package
 * bumps it.
 */
export const apiVersion = 1 as const;

/** The type of {@link apiVersion}. */
export type ApiVersion = typeof apiVersion;
