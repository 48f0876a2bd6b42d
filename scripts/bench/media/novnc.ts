/**
 * The stack our viewer replaces, measured on the same display: x11vnc (Debian) serving the X
 * display over RFB, a WebSocket↔TCP bridge (what websockify does), and noVNC (npm) in the page.
 * x11vnc runs with its defaults; noVNC with its defaults (Tight encoding, quality 6).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { connect, type AddressInfo } from "node:net";
import path from "node:path";
import { WebSocketServer } from "ws";
import { childEnv } from "../../../apps/agent/src/child-env.ts";
import { stopProcess } from "./processes.ts";

const root = path.resolve(import.meta.dirname, "../../..");
const novncDir = path.join(root, "node_modules/@novnc/novnc");

/**
 * The viewer page: noVNC's RFB client filling the page at 1:1, reporting every canvas draw to the
 * benchmark's hooks (page-hooks.ts) — counted, and checked for the probe on the next frame.
 */
const PAGE = `<!doctype html>
<meta charset="utf-8"><title>noVNC (bench)</title>
<style>body { margin: 0; background: #222 } #screen { width: 100vw; height: 100vh }</style>
<div id="screen"></div>
<script type="module">
  import RFB from "/novnc/core/rfb.js";
  window.connectVnc = (url) => {
    const rfb = new RFB(document.getElementById("screen"), url);
    const context = rfb._display._targetCtx;
    const draw = context.drawImage.bind(context);
    const luma = (x, y) => {
      const [r, g, b] = context.getImageData(x, y, 1, 1).data;
      return 0.299 * r + 0.587 * g + 0.114 * b;
    };
    let pending = false;
    context.drawImage = (...args) => {
      draw(...args);
      window.__bench.draws++;
      if (pending) return;
      pending = true;
      requestAnimationFrame((now) => {
        pending = false;
        window.__bench.shown(now, luma);
      });
    };
    window.rfb = rfb;
  };
</script>`;

export interface NoVncStack {
  /** The viewer page to open in the browser. */
  pageUrl: string;
  /** The WebSocket URL to pass to the page's connectVnc(). */
  socketUrl: string;
  /** RFB bytes sent to the browser so far. */
  bytesToBrowser(): number;
  x11vnc: ChildProcess;
  close(): Promise<void>;
}

/** Starts x11vnc on `display` and a web server with the noVNC page and the WebSocket bridge. */
export async function startNoVnc(display: string): Promise<NoVncStack> {
  const rfbPort = 5950 + Math.floor(Math.random() * 40);
  const x11vnc = spawn(
    "x11vnc",
    [
      "-display",
      display,
      "-rfbport",
      String(rfbPort),
      "-localhost",
      "-nopw",
      "-forever",
      "-shared",
      "-quiet",
    ],
    // An X client like the agent's own: the display admits it with the cookie the env names.
    { stdio: ["ignore", "ignore", "pipe"], env: childEnv(display) },
  );
  let x11vncErrors = "";
  x11vnc.stderr!.on(
    "data",
    (chunk: Buffer) => (x11vncErrors = (x11vncErrors + chunk.toString()).slice(-2000)),
  );
  await waitForPort(rfbPort, x11vnc, () => x11vncErrors);

  let bytes = 0;
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    if (url.pathname === "/") {
      response.writeHead(200, { "content-type": "text/html" }).end(PAGE);
      return;
    }
    const file = path.join(novncDir, path.normalize(url.pathname.replace(/^\/novnc\//, "/")));
    if (!url.pathname.startsWith("/novnc/") || !file.startsWith(novncDir)) {
      response.writeHead(404).end();
      return;
    }
    readFile(file).then(
      (body) => response.writeHead(200, { "content-type": "text/javascript" }).end(body),
      () => response.writeHead(404).end(),
    );
  });
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
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    pageUrl: `http://127.0.0.1:${port}/`,
    socketUrl: `ws://127.0.0.1:${port}/websockify`,
    bytesToBrowser: () => bytes,
    x11vnc,
    async close() {
      for (const client of sockets.clients) client.terminate();
      await new Promise((resolve) => server.close(resolve));
      await stopProcess(x11vnc);
    },
  };
}

async function waitForPort(port: number, child: ChildProcess, errors: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`x11vnc exited: ${errors()}`);
    const open = await new Promise<boolean>((resolve) => {
      const probe = connect(port, "127.0.0.1");
      probe.once("connect", () => {
        probe.destroy();
        resolve(true);
      });
      probe.once("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`x11vnc did not listen on ${port} within 15 s: ${errors()}`);
}
