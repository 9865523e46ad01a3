// Every handler host checks `anka` at start, so each test file gets a simulated one: the anka-sim
// executable first on PATH and its own state directory. Child anklet processes inherit both
// through `childEnv`, which copies process.env.
import path from 'node:path';
import { ankaSimBinDir, createAnkaSimHome } from '@anklet/anka-sim';
import { afterAll } from 'vitest';

const home = createAnkaSimHome();
process.env.ANKA_SIM_HOME = home.dir;
process.env.PATH = `${ankaSimBinDir()}${path.delimiter}${process.env.PATH ?? ''}`;
afterAll(() => home.remove());
