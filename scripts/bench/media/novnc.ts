/**
 * The stack our viewer replaces, measured on the same display: x11vnc (Debian) serving the X
 * display over RFB, a WebSocket↔TCP bridge in a process of its own (ws-bridge.ts, what websockify
 * does), and noVNC (npm) in the page. x11vnc runs with its defaults; noVNC with its defaults (Tight
 * encoding, quality 6).
 */
import { type ChildProcess, fork, spawn } from "node:child_process";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { connect, type AddressInfo } from "node:net";
import path from "node:path";
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
  bytesToBrowser(): Promise<number>;
  x11vnc: ChildProcess;
  /** The WebSocket bridge's process: serving side too, its CPU counted with x11vnc's. */
  bridge: ChildProcess;
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

  const bridge = fork(path.join(import.meta.dirname, "ws-bridge.ts"), [String(rfbPort)], {
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  // Its first message is its port; an exit before that is a failure (one after it, at close(), is not).
  const bridgePort = await new Promise<number>((resolve, reject) => {
    bridge.once("message", (message: { port: number }) => resolve(message.port));
    bridge.once("exit", (code) =>
      reject(new Error(`the WebSocket bridge exited (${code}) before it listened`)),
    );
  });

  // The page and noVNC's modules, from this process: served once per page load, not counted.
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
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    pageUrl: `http://127.0.0.1:${port}/`,
    socketUrl: `ws://127.0.0.1:${bridgePort}/websockify`,
    async bytesToBrowser() {
      bridge.send("bytes");
      const [{ bytes }] = (await once(bridge, "message")) as [{ bytes: number }];
      return bytes;
    },
    x11vnc,
    bridge,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await Promise.all([stopProcess(bridge), stopProcess(x11vnc)]);
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
