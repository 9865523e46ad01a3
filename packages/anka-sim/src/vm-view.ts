import type { VmRecord } from './state.js';

/** One item of `anka -j list`: `version` only for tagged templates, as the real CLI prints it. */
export function listItem(vm: VmRecord): Record<string, unknown> {
  const item: Record<string, unknown> = { name: vm.name, uuid: vm.uuid, creation_date: vm.creation_date };
  if (vm.version !== undefined) item.version = vm.version;
  item.status = vm.status;
  return item;
}

/** Every field `list -f` can select. */
export function listFields(vm: VmRecord): Record<string, unknown> {
  return {
    ...listItem(vm),
    access_date: vm.access_date,
    stop_date: vm.stop_date,
    start_date: vm.start_date,
    ip: vm.ip,
    vnc_port: vm.vnc_port,
    cpu_cores: vm.cpu_cores,
    ram_size: vm.ram_size,
    image_size: vm.image_size,
  };
}

/** The body of `anka -j show <vm>`; a running VM also reports its network and VNC details. */
export function showBody(vm: VmRecord): Record<string, unknown> {
  const body: Record<string, unknown> = { uuid: vm.uuid, name: vm.name };
  if (vm.version !== undefined) body.version = vm.version;
  Object.assign(body, {
    creation_date: vm.creation_date,
    cpu_cores: vm.cpu_cores,
    cpu_frequency: 0,
    cpu_htt: false,
    arch: 2,
    ram: String(vm.ram_size),
    ram_size: vm.ram_size,
    frame_buffers: 1,
    hard_drive: vm.hard_drive,
    encrypted: false,
    image_size: vm.image_size,
    addons_version: '3.9.1.216',
    access_date: vm.access_date,
  });
  if (vm.stop_date !== undefined) body.stop_date = vm.stop_date;
  if (vm.status === 'running') {
    Object.assign(body, {
      start_date: vm.start_date,
      vnc_port: vm.vnc_port,
      vnc_connection_string: `vnc://:admin@127.0.0.1:${vm.vnc_port}`,
      pid: vm.pid,
      ip: vm.ip,
      mac: vm.mac,
      hostif: 'vmenet0',
      port_forwarding: vm.port_forwarding,
    });
  }
  body.status = vm.status;
  return body;
}
