/**
 * Keeping a window above, on real displays: with fluxbox (EWMH), an xmessage asked to stay above
 * stays above an xterm raised over it afterwards, read back from the window manager's stacking
 * list; with no window manager there is nobody to ask, and it says so.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { u32s, XConnection } from "./capture/x11/x-connection.ts";
import { childEnv, xAuthorityFor } from "./child-env.ts";
import { startDisplay, startTerminal, type TestDisplay, xdotool } from "./testing/display.ts";
import { stop } from "./virtual-display.ts";
import { keepAbove } from "./window-above.ts";

const OP_QUERY_TREE = 15;

/**
 * Whether `upper` is stacked above `lower` on the screen: compares their frames' places among the
 * root's children, which QueryTree lists bottom to top. (fluxbox's _NET_CLIENT_LIST_STACKING does
 * not reflect its layers, so the server is asked.)
 */
async function isAbove(display: TestDisplay, upper: number, lower: number): Promise<boolean> {
  const x = await XConnection.connect(display.display, xAuthorityFor(display.display));
  try {
    const tree = async (window: number) => {
      const reply = await x.request(OP_QUERY_TREE, 0, u32s(window));
      const count = reply.readUInt16LE(16);
      const children = Array.from({ length: count }, (_, i) => reply.readUInt32LE(32 + i * 4));
      return { parent: reply.readUInt32LE(12), children };
    };
    const frame = async (window: number) => {
      for (;;) {
        const { parent } = await tree(window);
        if (parent === x.setup.root) return window;
        window = parent;
      }
    };
    const { children } = await tree(x.setup.root);
    return children.indexOf(await frame(upper)) > children.indexOf(await frame(lower));
  } finally {
    x.close();
  }
}

function showMessage(display: TestDisplay, instance: string): ChildProcess {
  return spawn("xmessage", ["-name", instance, "-geometry", "-0+0", "still here"], {
    env: childEnv(display.display),
    stdio: "ignore",
  });
}

describe("keepAbove", () => {
  let desktop: TestDisplay;
  let bare: TestDisplay;
  beforeAll(async () => {
    desktop = await startDisplay({ width: 800, height: 600, windowManager: true });
    bare = await startDisplay({ width: 320, height: 240 });
  });
  afterAll(async () => {
    await desktop?.close();
    await bare?.close();
  });

  it("keeps the window above one raised over it afterwards", async () => {
    const message = showMessage(desktop, "rdabove1");
    try {
      const result = await keepAbove(desktop.display, xAuthorityFor(desktop.display), "rdabove1");
      expect(result).toBe("above");
      const id = Number((await xdotool(desktop.env, ["search", "--sync", "--classname", "rdabove1"])).trim());
      // A terminal over the whole screen, activated (raised and focused) as a click would.
      const terminal = await startTerminal(desktop.display, "sleep 60", { geometry: "120x50+0+0" });
      try {
        await xdotool(desktop.env, ["windowactivate", "--sync", terminal.windowId]);
        expect(await isAbove(desktop, id, Number(terminal.windowId))).toBe(true);
      } finally {
        await terminal.close();
      }
    } finally {
      await stop(message);
    }
  });

  it("says when no window has that name by the deadline", async () => {
    expect(
      await keepAbove(desktop.display, xAuthorityFor(desktop.display), "rdnosuchwindow", { timeoutMs: 300 }),
    ).toBe("not-found");
  });

  it("says when no window manager keeps a list to ask", async () => {
    const message = showMessage(bare, "rdabove2");
    try {
      expect(await keepAbove(bare.display, xAuthorityFor(bare.display), "rdabove2", { timeoutMs: 300 })).toBe(
        "no-ewmh",
      );
    } finally {
      await stop(message);
    }
  });
});
