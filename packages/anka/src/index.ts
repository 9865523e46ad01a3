/**
 * `@anklet/anka`: the host's Anka CLI client. The host creates one {@link AnkaHost} per process
 * with {@link createAnkaHost} and gives each handler plugin `host.forPlugin(settings)` as `ctx.anka`.
 *
 * @packageDocumentation
 */
export {
  createAnkaHost,
  AnkaHost,
  ankaSettingsFromConfig,
  VM_NAME_PREFIX,
  DEFAULT_TEMPLATE_DISK_BUFFER_PERCENT,
  type AnkaHostOptions,
  type AnkaHostCoordination,
  type AnkaPluginSettings,
  type AnkaLicense,
} from './client.js';
export { AnkaCliError, classifyAnkaError, ANKA_CODE_NOT_FOUND, ANKA_CODE_ALREADY_EXISTS, type AnkaCliErrorInit } from './errors.js';
export { defaultTimeouts, type AnkaTimeouts } from './cli.js';
export { parseEnvelope, parseEnvelopeLine, type AnkaEnvelope } from './envelope.js';
export { parseAnkaVersion, versionAtLeast, featuresOf, type AnkaFeatures } from './version.js';
export { parseMount, resolveMount, mergeMounts, type MountSpec } from './mounts.js';
export { TemplateTracker, type TrackedTemplate } from './tracker.js';
