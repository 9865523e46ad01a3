/**
 * Simulated host hardware for fleet hosts: loaded with `node --import` into an `anklet` process
 * (never into its children), it makes `os.cpus()`, `os.availableParallelism()` and `os.totalmem()`
 * report `FLEET_HOST_CPU_CORES` / `FLEET_HOST_MEMORY_BYTES`. anklet sizes VMs against these, so one
 * machine can hold an 8-CPU/8 GB host and an 8-CPU/16 GB host as the Go acceptance tests had, the
 * way anka-sim stands in for Anka. Not exported: {@link HARDWARE_PRELOAD} is its path.
 */
import os from 'node:os';
import { syncBuiltinESMExports } from 'node:module';

const cores = Number(process.env.FLEET_HOST_CPU_CORES);
const memory = Number(process.env.FLEET_HOST_MEMORY_BYTES);
// The variables are for this process only: anka-sim and guest processes see the real machine.
delete process.env.FLEET_HOST_CPU_CORES;
delete process.env.FLEET_HOST_MEMORY_BYTES;

if (Number.isInteger(cores) && cores > 0) {
  const real = os.cpus();
  const model = real[0] ?? { model: 'simulated', speed: 0, times: { user: 0, nice: 0, sys: 0, idle: 0, irq: 0 } };
  os.cpus = () => Array.from({ length: cores }, (_, i) => ({ ...(real[i % Math.max(real.length, 1)] ?? model) }));
  os.availableParallelism = () => cores;
}
if (Number.isFinite(memory) && memory > 0) {
  const realFree = os.freemem.bind(os);
  os.totalmem = () => memory;
  os.freemem = () => Math.min(realFree(), memory);
}
// Named imports (`import { totalmem } from 'node:os'`) see the replacements too.
syncBuiltinESMExports();
