/**
 * The key a client's address is limited by. An IPv6 user is routinely given a whole /64, so each of
 * its 2^64 addresses is the same client: IPv6 is keyed by its /64, IPv4 (and IPv4-mapped IPv6) by
 * the address.
 */
import { isIPv4, isIPv6 } from "node:net";

export function clientKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (isIPv4(ip) || !isIPv6(ip.split("%")[0]!)) return ip;
  return `${expandIPv6(ip.split("%")[0]!).slice(0, 4).join(":")}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, `::` filled in, each without leading zeros. */
function expandIPv6(ip: string): string[] {
  const [head = "", tail] = ip.toLowerCase().split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  // A trailing dotted quad (::ffff:… handled above; other embedded forms) counts as two groups.
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
  return groups.map((g) => (g.includes(".") ? g : (parseInt(g, 16) || 0).toString(16)));
}
