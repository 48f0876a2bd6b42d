/**
 * Which Host header values the dashboard answers to. A page on an attacker's domain that resolves
 * to this machine (DNS rebinding) sends its own name as Host; refusing unknown names keeps it from
 * talking to a dashboard on localhost or the LAN. Allowed: loopback names and addresses, this
 * machine's own interface addresses, ORIGIN's host, and RD_ALLOWED_HOSTS (`*` turns the check off,
 * for a reverse proxy that checks Host itself).
 */
import { networkInterfaces } from "node:os";

const LOOPBACK = ["localhost", "127.0.0.1", "[::1]"];

/** `host` is a Host header value: a name or address with an optional port; IPv6 in brackets. */
export function hostName(host: string): string {
  const trimmed = host.trim().toLowerCase();
  if (trimmed.startsWith("[")) return trimmed.slice(0, trimmed.indexOf("]") + 1);
  return trimmed.replace(/:\d+$/, "").replace(/\.$/, "");
}

export function createHostCheck(options: {
  origin?: string;
  allowed: string[];
}): (host: string | null) => boolean {
  const names = new Set(LOOPBACK);
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? [])
      names.add(a.family === "IPv6" ? `[${a.address.split("%")[0]}]` : a.address);
  }
  if (options.origin) names.add(hostName(new URL(options.origin).host));
  if (options.allowed.includes("*")) return () => true;
  for (const name of options.allowed) names.add(hostName(name));
  return (host) => host !== null && names.has(hostName(host));
}
