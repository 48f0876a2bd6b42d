import { setImmediate as nextTurn } from "node:timers/promises";
import { RTCPeerConnection } from "werift";
import { afterEach, describe, expect, it } from "vitest";
import { holdEarlyDtls, isDtlsRecord } from "./early-dtls.ts";

/** The start of a DTLS handshake record (content type 22, DTLS 1.2), as a browser's ClientHello begins. */
const clientHello = (n: number) => Buffer.from([22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, n]);
/** An RTP packet (version 2): not DTLS. */
const rtp = Buffer.from([0x80, 96, 0, 1]);

const pcs: RTCPeerConnection[] = [];
afterEach(async () => {
  await Promise.all(pcs.splice(0).map((pc) => pc.close()));
});

/** A real werift offerer, as the agent makes it, up to its local description. */
async function offerer() {
  const pc = new RTCPeerConnection({ iceAdditionalHostAddresses: ["127.0.0.1"] });
  pcs.push(pc);
  pc.addTransceiver("video", { direction: "sendonly" });
  await pc.setLocalDescription(await pc.createOffer());
  const transport = pc.dtlsTransports[0]!;
  return { pc, transport, connection: transport.iceTransport.connection };
}

/**
 * The handover itself is seen end to end in bench:media (each connection to Chromium hands over its
 * ClientHello; the agent logs it) and the e2e live-session tests connect Chromium through it.
 */
describe("early DTLS packets", () => {
  it("are held until werift starts its DTLS side, then handed to it once, in order", async () => {
    const { pc, transport, connection } = await offerer();
    const handedOver: number[] = [];
    holdEarlyDtls(pc, (count) => handedOver.push(count));
    connection.onData.execute(clientHello(1));
    connection.onData.execute(rtp);
    connection.onData.execute(clientHello(2));
    // What werift's DTLS server would read, listening from the moment it exists.
    const server: Buffer[] = [];
    connection.onData.subscribe((packet) => server.push(packet));
    // werift announces "connecting" just before it creates the server.
    transport.onStateChange.execute("connecting");
    expect(server).toEqual([]);
    await nextTurn();
    expect(server).toEqual([clientHello(1), clientHello(2)]);
    expect(handedOver).toEqual([2]);
    // Packets after that go straight to the server, and nothing is handed over twice.
    connection.onData.execute(clientHello(3));
    transport.onStateChange.execute("connected");
    await nextTurn();
    expect(server).toEqual([clientHello(1), clientHello(2), clientHello(3)]);
  });

  it("hands nothing over when the transport fails or closes before it starts, and holds a bounded number", async () => {
    const { pc, transport, connection } = await offerer();
    const handedOver: number[] = [];
    holdEarlyDtls(pc, (count) => handedOver.push(count));
    for (let i = 0; i < 100; i++) connection.onData.execute(clientHello(i));
    transport.onStateChange.execute("closed");
    await nextTurn();
    expect(handedOver).toEqual([]);

    const second = await offerer();
    const seen: Buffer[] = [];
    holdEarlyDtls(second.pc, () => {});
    for (let i = 0; i < 100; i++) second.connection.onData.execute(clientHello(i));
    second.connection.onData.subscribe((packet) => seen.push(packet));
    second.transport.onStateChange.execute("connecting");
    await nextTurn();
    expect(seen.length).toBe(16);
  });

  it("watches a transport once, however often it is asked", async () => {
    const { pc, transport, connection } = await offerer();
    const handedOver: number[] = [];
    holdEarlyDtls(pc, (count) => handedOver.push(count));
    holdEarlyDtls(pc, (count) => handedOver.push(count));
    connection.onData.execute(clientHello(1));
    transport.onStateChange.execute("connecting");
    await nextTurn();
    expect(handedOver).toEqual([1]);
  });

  it("hands over when werift's DTLS server already listens: checked on a real connection", async () => {
    const { pc, transport } = await offerer();
    holdEarlyDtls(pc);
    // When the handover runs (a microtask after "connecting"), is the server there to take it?
    const serverThere: boolean[] = [];
    transport.onStateChange.subscribe((state) => {
      if (state === "connecting") queueMicrotask(() => serverThere.push(transport.dtls !== undefined));
    });
    const viewer = new RTCPeerConnection({ iceAdditionalHostAddresses: ["127.0.0.1"] });
    pcs.push(viewer);
    pc.onIceCandidate.subscribe((c) => c && void viewer.addIceCandidate(c));
    viewer.onIceCandidate.subscribe((c) => c && void pc.addIceCandidate(c));
    await viewer.setRemoteDescription(pc.localDescription!);
    await viewer.setLocalDescription(await viewer.createAnswer());
    await pc.setRemoteDescription(viewer.localDescription!);
    await new Promise<void>((resolve) =>
      pc.connectionStateChange.subscribe((state) => state === "connected" && resolve()),
    );
    expect(transport.role).toBe("server");
    expect(serverThere).toEqual([true]);
  }, 20_000);

  it("tells DTLS from RTP, RTCP and STUN by the first byte (RFC 7983)", () => {
    expect(isDtlsRecord(clientHello(1))).toBe(true);
    expect(isDtlsRecord(Buffer.from([23, 0xfe, 0xfd]))).toBe(true);
    expect(isDtlsRecord(rtp)).toBe(false);
    expect(isDtlsRecord(Buffer.from([0, 1, 0, 0]))).toBe(false);
    expect(isDtlsRecord(Buffer.alloc(0))).toBe(false);
  });
});
