/**
 * Which host user a desk's processes run as. Inside, every desk is uid 1000 ("desk"); outside, when
 * the server runs as root, each desk gets a host uid of its own, outside every range a distribution
 * hands out. Left as root, a desk's processes would be host root in a user namespace: the owner of
 * every root-owned file it can reach, and host root again after any escape from its namespaces.
 */
import { createHash } from "node:crypto";

export interface HostUser {
  uid: number;
  gid: number;
}

/** The uid (and gid) of the desk user inside every sandbox. */
export const DESK_UID = 1000;

/**
 * Host ids from 0x70000000: above systemd's container range (524288–1879048191) and below its
 * dynamic-namespace ranges near 2^31, where no distribution puts users, subuids or containers.
 */
const HOST_ID_BASE = 0x7000_0000;
/** 2^24 ids: two desks of a server share one with odds of about 1 in 10^5 even at 50 desks. */
const HOST_ID_SPAN = 0x0100_0000;

/**
 * The host user for desk `id`, derived from the id so that a desk's leftovers can be told apart
 * after a crash; undefined when the server is not root, and then the desk runs as the server's own
 * uid (it cannot be anyone else without privilege).
 */
export function deskHostUser(
  id: string,
  serverUid: number | undefined = process.getuid?.(),
): HostUser | undefined {
  if (serverUid !== 0) return undefined;
  const id24 = createHash("sha256").update(id).digest().readUIntBE(0, 3);
  const uid = HOST_ID_BASE + (id24 % HOST_ID_SPAN);
  return { uid, gid: uid };
}
