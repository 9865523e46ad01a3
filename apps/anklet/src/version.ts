import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** This anklet's version, from its package.json. */
export const ANKLET_VERSION: string = (require('../package.json') as { version: string }).version;
