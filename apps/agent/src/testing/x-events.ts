/**
 * An X event recorder for tests: an `xev` window that holds the keyboard focus and reports each key
 * and button event it receives, so a test can check exactly which keysym or button reached X.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { childEnv } from "../child-env.ts";
import { xdotool } from "./display.ts";

export type XEvent =
  | { type: "KeyPress" | "KeyRelease"; keycode: number; keysym: string }
  | { type: "ButtonPress" | "ButtonRelease"; button: number };

export interface EventWindow {
  windowId: string;
  /** Events received so far, oldest first. */
  events(): XEvent[];
  clear(): void;
  close(): Promise<void>;
}

/** Opens an xev window on `display` at the top-left corner, focused, recording keys and buttons. */
export async function startEventWindow(display: string): Promise<EventWindow> {
  const env = childEnv(display);
  const name = `rdxev${randomUUID().slice(0, 8)}`;
  const xev = spawn(
    "xev",
    ["-name", name, "-geometry", "400x300+0+0", "-event", "keyboard", "-event", "button"],
    {
      env,
      stdio: ["ignore", "pipe", "ignore"],
    },
  );
  let buffer = "";
  let events: XEvent[] = [];
  xev.stdout.setEncoding("utf8");
  xev.stdout.on("data", (chunk: string) => {
    buffer += chunk;
    // xev starts each event with an empty line, so the last block may still be arriving: it is
    // taken once the line naming its key or button is complete.
    const blocks = buffer.split("\n\n");
    const last = blocks.pop() ?? "";
    for (const block of blocks) {
      const event = parseEvent(block);
      if (event) events.push(event);
    }
    const lastEvent = parseEvent(last);
    if (lastEvent) events.push(lastEvent);
    buffer = lastEvent ? "" : last;
  });
  const exited = new Promise<void>((resolve) => xev.once("exit", () => resolve()));
  const close = async () => {
    if (xev.exitCode === null && xev.signalCode === null) xev.kill("SIGTERM");
    await exited;
  };
  try {
    const found = await xdotool(env, ["search", "--sync", "--onlyvisible", "--name", name], 15_000);
    const windowId = found.split("\n")[0]?.trim();
    if (!windowId) throw new Error(`xev window ${name} not found`);
    await xdotool(env, ["windowfocus", "--sync", windowId]);
    return { windowId, events: () => [...events], clear: () => void (events = []), close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** One xev block, e.g. "KeyPress event, serial 25, ...\n    ... keycode 38 (keysym 0x61, a), ...". */
function parseEvent(block: string): XEvent | undefined {
  const type = /^(KeyPress|KeyRelease|ButtonPress|ButtonRelease) event/m.exec(block)?.[1];
  if (type === "KeyPress" || type === "KeyRelease") {
    const key = /keycode (\d+) \(keysym 0x[0-9a-f]+, ([^)]+)\),/.exec(block);
    if (key?.[1] && key[2]) return { type, keycode: Number(key[1]), keysym: key[2] };
  }
  if (type === "ButtonPress" || type === "ButtonRelease") {
    const button = /button (\d+),/.exec(block)?.[1];
    if (button) return { type, button: Number(button) };
  }
  return undefined;
}
