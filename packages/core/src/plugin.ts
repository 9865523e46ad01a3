import { apiVersion, type ApiVersion } from './api-version.js';
import type { WorkerContext } from './context.js';
import type { InferSchemaOutput, StandardSchemaV1 } from './schema.js';

/** What a plugin does: a handler runs jobs in VMs, a receiver takes events in. */
export type PluginKind = 'handler' | 'receiver';

/**
 * A running plugin, as returned by `create`. Every method is optional.
 *
 * The host drives it like this:
 * 1. `start()` once. Plugins start one after another in config order; the next one is created only
 *    when this promise resolves, so resolve when the plugin is ready (a receiver listening, a handler
 *    done with start-up recovery).
 * 2. `run()` again and again, `sleep_interval` seconds apart (at once when it returns
 *    `{ again: true }`), until the host stops. One call = one unit of work; return, do not loop.
 *    A plugin without `run` (a receiver) simply lives between `start` and `stop`.
 * 3. `stop()` once, after the last `run` returned. Awaited: do the clean-up here.
 */
export interface PluginInstance {
  start?(): Promise<void>;
  run?(): Promise<void | { again?: boolean }>;
  stop?(): Promise<void>;
}

/** What you pass to {@link definePlugin}. */
export interface PluginDefinition<Schema extends StandardSchemaV1, Kind extends PluginKind> {
  /** A human name for logs (usually the package name). */
  readonly name: string;
  readonly kind: Kind;
  /**
   * Validates the plugin's config block. The host reports every issue with its path.
   *
   * When the schema also implements Standard JSON Schema (`~standard.jsonSchema.input`, as zod >= 4.2,
   * valibot and arktype do), the host uses it, and it alone, to know the plugin's keys: it reads each
   * YAML value and each `<NAME>_<KEY>` variable by the key's type (a text key keeps the text written,
   * `secret: 00000000` is "00000000"; a number key is parsed as the Go anklet parses it), warns about
   * unknown keys with the closest known one, and lists the keys with their descriptions in
   * `anklet config schema`. Without it, values arrive as YAML 1.1 reads them. Optional and read
   * only through the Standard Schema object, so this contract did not change.
   */
  readonly configSchema: Schema;
  /** One-line description for `anklet plugins list`. */
  readonly description?: string;
  /** Makes one instance for one config entry. */
  create(ctx: WorkerContext<InferSchemaOutput<Schema>, Kind>): PluginInstance | Promise<PluginInstance>;
}

/** The brand the host looks for. `Symbol.for` is shared by every copy of core in the process. */
export const pluginBrand: unique symbol = Symbol.for('anklet.plugin') as never;

/** A plugin: the object a plugin package exports by default. Make it with {@link definePlugin}. */
export interface Plugin<Schema extends StandardSchemaV1 = StandardSchemaV1, Kind extends PluginKind = PluginKind>
  extends PluginDefinition<Schema, Kind> {
  readonly [pluginBrand]: true;
  /** The contract version the plugin was built against. */
  readonly apiVersion: ApiVersion;
}

/**
 * Declares a plugin. The config type of `ctx.config` is inferred from `configSchema`, and
 * `ctx.anka` exists only for handlers.
 *
 * @example
 * ```ts
 * import { definePlugin } from '@anklet/core';
 * import { z } from 'zod';
 *
 * export default definePlugin({
 *   name: '@acme/anklet-plugin-hello',
 *   kind: 'handler',
 *   configSchema: z.object({ greeting: z.string().default('hello') }),
 *   create(ctx) {
 *     return {
 *       async run() {
 *         ctx.logger.info(`${ctx.config.greeting} from ${ctx.name}`);
 *       },
 *     };
 *   },
 * });
 * ```
 */
export function definePlugin<Schema extends StandardSchemaV1, Kind extends PluginKind>(
  definition: PluginDefinition<Schema, Kind>,
): Plugin<Schema, Kind> {
  if (definition.kind !== 'handler' && definition.kind !== 'receiver') {
    throw new TypeError(`definePlugin: kind must be "handler" or "receiver", got ${JSON.stringify(definition.kind)}`);
  }
  if (typeof definition.create !== 'function') throw new TypeError('definePlugin: create must be a function');
  if (!definition.configSchema || typeof definition.configSchema['~standard']?.validate !== 'function') {
    throw new TypeError('definePlugin: configSchema must be a Standard Schema (zod, valibot, arktype, ...)');
  }
  return Object.freeze({ ...definition, [pluginBrand]: true as const, apiVersion });
}

/** True when `value` carries the plugin brand of any copy of `@anklet/core` (whatever its apiVersion). */
export function isPlugin(value: unknown): value is Plugin {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[pluginBrand] === true;
}
