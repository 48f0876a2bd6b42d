import { describe, expect, it } from "vitest";
import { isMdnsCandidate, withoutMdnsCandidates } from "./mdns-candidates.ts";

const MDNS =
  "candidate:2459417396 1 udp 2113937151 0c8f43e5-6a3b-4b6b-9f1e-0d3c1c9e7a11.local 51234 typ host generation 0";
const PLAIN =
  "candidate:842163049 1 udp 1677729535 203.0.113.7 51234 typ srflx raddr 0.0.0.0 rport 0 generation 0";

describe("mDNS candidates", () => {
  it("recognises a candidate whose address is an mDNS name, with or without a=", () => {
    expect(isMdnsCandidate(MDNS)).toBe(true);
    expect(isMdnsCandidate(`a=${MDNS}`)).toBe(true);
    expect(isMdnsCandidate(PLAIN)).toBe(false);
    expect(isMdnsCandidate("candidate:1 1 udp 1 127.0.0.1 9 typ host")).toBe(false);
    expect(isMdnsCandidate("a=ice-ufrag:abcd")).toBe(false);
    expect(isMdnsCandidate("")).toBe(false);
  });

  it("drops only the mDNS candidate lines of an SDP, keeping its line endings", () => {
    const sdp = [
      "v=0",
      "m=video 9 UDP/TLS/RTP/SAVPF 96",
      `a=${MDNS}`,
      `a=${PLAIN}`,
      "a=end-of-candidates",
      "",
    ].join("\r\n");
    expect(withoutMdnsCandidates(sdp)).toBe(
      ["v=0", "m=video 9 UDP/TLS/RTP/SAVPF 96", `a=${PLAIN}`, "a=end-of-candidates", ""].join("\r\n"),
    );
    expect(withoutMdnsCandidates("v=0\nm=video 9 x 96\n")).toBe("v=0\nm=video 9 x 96\n");
  });
});
