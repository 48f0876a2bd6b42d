/**
 * Browsers hide their local addresses behind mDNS names (`<uuid>.local`) in the ICE candidates they
 * send. werift resolves each such name with an mDNS query that waits up to 10 s for an answer, and
 * setting a remote description waits for those lookups: a viewer whose name nobody answers for (a
 * busy machine, several responders on one port, a network that drops multicast) stalls 10-20 s
 * before its first frame. The agent does not need those addresses: the browser's own connectivity
 * checks reach the agent's candidates, and the agent learns the browser's address from them (a
 * peer-reflexive candidate), as a server behind a public address always does. So they are dropped.
 */

/** The address field of an ICE candidate line (`candidate:…` or `a=candidate:…`). */
function candidateAddress(line: string): string | undefined {
  const fields = line.replace(/^a=/, "").trim().split(/\s+/);
  return fields[0]?.startsWith("candidate:") ? fields[4] : undefined;
}

/** Whether an ICE candidate line names its address by an mDNS name. */
export function isMdnsCandidate(line: string): boolean {
  return candidateAddress(line)?.toLowerCase().endsWith(".local") ?? false;
}

/** The SDP without its mDNS candidate lines; everything else byte for byte. */
export function withoutMdnsCandidates(sdp: string): string {
  const eol = sdp.includes("\r\n") ? "\r\n" : "\n";
  return sdp
    .split(eol)
    .filter((line) => !(line.startsWith("a=candidate:") && isMdnsCandidate(line)))
    .join(eol);
}
