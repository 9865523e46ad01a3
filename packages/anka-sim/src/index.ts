export { ankaSimBinDir, ankaSimBinPath } from './bin-dir.js';
export { createAnkaSimHome, type AnkaSimHome, type AnkaSimOptions, type LocalTemplateSeed, type RegistryTemplateSeed, type RegistryTagSeed, type CallRecord, type CallTiming } from './home.js';
export { AnkaErrorKinds, type AnkaErrorKind } from './errors.js';
export type { ControlFile, Fault } from './faults.js';
export { ANKA_SIM_HOME_ENV } from './paths.js';
export type { Envelope } from './output.js';
export type { SimState, VmRecord, VmStatus, RegistryTemplate, RegistryTag, LicenseState, MountRecord } from './state.js';
