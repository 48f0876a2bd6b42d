/**
 * The WebSocket↔TCP bridge noVNC needs in front of x11vnc (what websockify does in a deployment),
 * as a process of its own so that bench:media counts its CPU with x11vnc's: both are the serving
 * side, as the agent's own transport (DTLS, SCTP) is counted in the agent's. Run by novnc.ts with an
 * IPC channel: `node ws-bridge.ts <rfb port>`; it says `{ port }` once it listens, and answers
 * `"bytes"` with the RFB bytes sent to browsers so far.
 */
import { createServer } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { WebSocketServer } from "ws";

const rfbPort = Number(process.argv[2]);
if (!Number.isInteger(rfbPort) || rfbPort <= 0 || !process.send) {
  console.error("usage: forked with an IPC channel, `ws-bridge.ts <rfb port>`");
  process.exit(2);
}

let bytes = 0;
const server = createServer((_request, response) => response.writeHead(404).end());
const sockets = new WebSocketServer({ server, path: "/websockify" });
sockets.on("connection", (socket) => {
  const vnc = connect(rfbPort, "127.0.0.1");
  vnc.on("data", (chunk) => {
    bytes += chunk.length;
    socket.send(chunk);
  });
  socket.on("message", (data: Buffer) => vnc.write(data));
  vnc.on("close", () => socket.close());
  vnc.on("error", () => socket.close());
  socket.on("close", () => vnc.destroy());
});
server.listen(0, "127.0.0.1", () => process.send!({ port: (server.address() as AddressInfo).port }));

process.on("message", (message) => {
  if (message === "bytes") process.send!({ bytes });
});
// The bench gone, the bridge goes too.
process.on("disconnect", () => process.exit(0));
