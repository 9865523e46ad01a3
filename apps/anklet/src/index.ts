/** Programmatic API of the anklet host (the CLI is `anklet`). */
export { loadConfig, resolveConfigPath, describeIssues, type LoadedConfig, type PluginEntry } from './config/load-config.js';
export { envPrefixOf, applyHostEnvOverrides, applyPluginEnvOverrides } from './config/env-overrides.js';
export { preparePlugins, type PreparedPlugin } from './config/prepare-plugins.js';
export { configJsonSchema, configReferenceOf } from './config/reference.js';
export { startAnklet, type StartOptions } from './host/start.js';
export { ExitCode } from './host/exit-codes.js';
export { loadPlugin, findPackageDir, type LoadedPlugin } from './plugins/load-plugin.js';
export { installPlugins, listPlugins, removePlugins } from './plugins/installer.js';
export { SHORT_IDS, packageNameOf } from './plugins/short-ids.js';
export { createLogger, logModeFromEnv } from './logging/create-logger.js';
export { SecretRegistry } from './logging/redact.js';
export { ANKLET_VERSION } from './version.js';
export { runDoctor, renderDoctor, type DoctorCheck, type DoctorOptions } from './doctor/doctor.js';
export { readFleetStatus, renderFleetStatus, type FleetStatus, type QueueStatus } from './status/fleet-status.js';
export { serviceSpecOf, installService, uninstallService, serviceStatus } from './service/service.js';
export { renderServiceFile, renderLaunchdPlist, renderSystemdUnit, type ServiceSpec, type ServicePlatform } from './service/service-files.js';
export { renderConfigReference } from './config/config-docs.js';
