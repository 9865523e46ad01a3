/**
 * `@anklet/fleet`: a whole anklet fleet on one machine, for the demo, the acceptance suite and the
 * benchmarks. github-sim stands in for GitHub, one anka-sim per host for Anka, a redis-server for the
 * shared store; the hosts are the real `anklet` binary with the first-party plugins packed and
 * installed the way a user gets them.
 *
 * @packageDocumentation
 */
export { startFleet, MISSING_TEMPLATE, type Fleet, type FleetHost, type FleetHostSpec, type FleetJobSpec, type HostSlots, type Leftovers, type StartFleetOptions } from './fleet.js';
export type { FleetEvent, FleetJob, JobState } from './job-tracker.js';
/** The store's job timeline, as {@link Fleet.timelines} returns it. */
export type { JobTimeline, TimelineEvent } from '@anklet/core';
export { RunningAnklet, runCli, childEnv, jsonLines, msg, type LogLine, type Run } from './anklet-process.js';
export { packPackages, installPlugins, packAndInstall, fleetPluginsCache, installFleetPlugins, FLEET_PLUGIN_DIRS } from './plugins.js';
export { RUN_SH, CONFIG_SH, runnerFiles, simulatedTemplate, FLEET_TEMPLATE, type TemplateTag } from './templates.js';
export { REPO_ROOT, CLI, RUNNER_CLI } from './paths.js';
