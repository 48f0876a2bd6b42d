/**
 * Keeps the viewer's first DTLS packets until werift listens for them.
 *
 * The browser answers, so it is the DTLS client, and it sends its ClientHello the moment its side of
 * ICE is connected. werift, the controlling side, creates its DTLS server only once its own side
 * is (after its nomination check is answered), a few milliseconds later, and drops what came
 * before. Chromium resends after 50 ms, so every connection waited that long for nothing (seen in
 * bench:media on each of its connections: ClientHello in, server created 10 ms later, ClientHello
 * again 50 ms after the first). Here the packets that arrive before the server are held and handed
 * to it as soon as it exists.
 */
import type { RTCDtlsTransport, RTCPeerConnection } from "werift";

/** More than a browser sends before an answer (one flight, fragmented); a cap against floods. */
const MAX_HELD = 16;

/** RFC 7983: a first byte of 20–63 is DTLS, as werift itself demultiplexes. */
export function isDtlsRecord(packet: Buffer): boolean {
  const first = packet[0];
  return first !== undefined && first >= 20 && first <= 63;
}

const watched = new WeakSet<RTCDtlsTransport>();

/**
 * Watches each DTLS transport of `pc` that has not started yet; call after every
 * setLocalDescription (an ICE restart may bring new transports). `onHandedOver` hears how many
 * packets a transport's server was handed.
 */
export function holdEarlyDtls(pc: RTCPeerConnection, onHandedOver?: (count: number) => void): void {
  for (const transport of pc.dtlsTransports) {
    if (transport.state !== "new" || watched.has(transport)) continue;
    watched.add(transport);
    const connection = transport.iceTransport.connection;
    const held: Buffer[] = [];
    const holding = connection.onData.subscribe((packet) => {
      if (isDtlsRecord(packet) && held.length < MAX_HELD) held.push(packet);
    });
    const state = transport.onStateChange.subscribe((next) => {
      if (next === "new") return;
      holding.unSubscribe();
      state.unSubscribe();
      if (next !== "connecting" || held.length === 0) return;
      // "connecting" is announced just before werift creates its server, synchronously: hand the
      // packets over right after, before anything that arrives later (a resend the server would
      // otherwise see first, and then the original out of order).
      queueMicrotask(() => {
        for (const packet of held) connection.onData.execute(packet);
        onHandedOver?.(held.length);
      });
    });
  }
}
