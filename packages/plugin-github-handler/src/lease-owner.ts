import type { HandlerContext } from '@anklet/core';

/**
 * The owner this handler gives its claims, leases and leaderships: `<name>@<host id>`. The name
 * alone is not enough: a config copied to a second Mac without renaming its plugins gives two
 * hosts the same names, and a host that takes a name over after another host stopped must not take
 * that host's leases for its own leftovers. The host id is stable across restarts of one machine
 * and work dir, so a restarted handler still finds its own leases. A host without an identity
 * (older than the fleet identity) gives the bare name, as before.
 */
export function leaseOwnerOf(ctx: Pick<HandlerContext<unknown>, 'name' | 'host'>): string {
  return ctx.host.hostId ? `${ctx.name}@${ctx.host.hostId}` : ctx.name;
}
