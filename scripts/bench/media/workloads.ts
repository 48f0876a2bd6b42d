/**
 * The desktops the media benchmark measures, each on a fresh Xvfb with fluxbox:
 *
 * - static: a terminal showing a prompt, nothing moving;
 * - terminal: an xterm printing `od -x -N 256 /dev/urandom` every 50 ms (1280×720);
 * - motion: a full-screen test pattern scrolling in both directions at 30 fps, so every pixel
 *   changes every frame (1920×1080). ffplay draws it through SDL's plain framebuffer path, which
 *   costs ~25 % of a core here instead of ~85 % through its software OpenGL path.
 *
 * The 1280×720 desktops also show a probe: a small terminal that flips to reverse video on every key
 * it reads, which is what input-to-photon latency watches for.
 */
import { type ChildProcess, spawn } from "node:child_process";
import {
  startDisplay,
  type TestDisplay,
  windowGeometry,
  xdotool,
} from "../../../apps/agent/src/testing/display.ts";
import { stopProcess } from "./processes.ts";

export type WorkloadName = "static" | "terminal" | "motion";
export const WORKLOADS: WorkloadName[] = ["static", "terminal", "motion"];

export interface Probe {
  /** Where to click to give the probe the keyboard focus (screen pixels). */
  click: { x: number; y: number };
  /** The pixel to watch, away from the click (x11grab draws the pointer where it rests). */
  pixel: { x: number; y: number };
  /** The remote screen's width: a picture scaled down on a narrow link is read at scale. */
  screenWidth: number;
}

export interface Workload {
  name: WorkloadName;
  description: string;
  display: TestDisplay;
  probe?: Probe;
  close(): Promise<void>;
}

/** Flips the terminal between normal and reverse video (DECSCNM) on every key it reads. */
const PROBE_SCRIPT =
  "printf '\\033[?25l'; r=0; while IFS= read -rsn1 k; do " +
  "if [ $r = 0 ]; then printf '\\033[?5h'; r=1; else printf '\\033[?5l'; r=0; fi; done";

export async function startWorkload(name: WorkloadName): Promise<Workload> {
  const size = name === "motion" ? { width: 1920, height: 1080 } : { width: 1280, height: 720 };
  const display = await startDisplay({ ...size, windowManager: true });
  const programs: ChildProcess[] = [];
  const launch = (command: string, args: string[], env: NodeJS.ProcessEnv = {}) => {
    programs.push(spawn(command, args, { env: { ...display.env, ...env }, stdio: "ignore" }));
  };
  const close = async () => {
    await Promise.all(programs.map(stopProcess));
    await display.close();
  };
  try {
    let description: string;
    let probe: Probe | undefined;
    if (name === "motion") {
      description = "full-screen motion, 1920×1080";
      launch(
        "ffplay",
        [
          ...["-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=30,scroll=h=0.003:v=0.002,format=bgra"],
          ...["-fs", "-an", "-loglevel", "error", "-nostats", "-window_title", "rd-bench-motion"],
        ],
        { SDL_RENDER_DRIVER: "software", SDL_FRAMEBUFFER_ACCELERATION: "0" },
      );
      await xdotool(display.env, ["search", "--sync", "--onlyvisible", "--name", "rd-bench-motion"], 15_000);
    } else {
      if (name === "static") {
        description = "static desktop, 1280×720";
        launch("xterm", [
          "-geometry",
          "100x30+40+40",
          "-e",
          "sh",
          "-c",
          "echo 'user@desk:~$'; exec sleep 1d",
        ]);
      } else {
        description = "busy terminal, 1280×720";
        const busy = "while :; do od -x -N 256 /dev/urandom; sleep 0.05; done";
        launch("xterm", ["-geometry", "140x40+0+0", "-e", "sh", "-c", busy]);
      }
      probe = await startProbe(display, launch);
    }
    return { name, description, display, probe, close };
  } catch (error) {
    await close();
    throw error;
  }
}

async function startProbe(
  display: TestDisplay,
  launch: (command: string, args: string[]) => void,
): Promise<Probe> {
  launch("xterm", [
    ...["-name", "rdbenchprobe", "-geometry", "16x4+1100+560", "-bg", "black", "-fg", "white"],
    ...["-e", "bash", "-c", PROBE_SCRIPT],
  ]);
  const found = await xdotool(
    display.env,
    ["search", "--sync", "--onlyvisible", "--classname", "rdbenchprobe"],
    15_000,
  );
  const box = await windowGeometry(display.display, found.split("\n")[0]!.trim());
  return {
    click: { x: box.x + 10, y: box.y + 10 },
    pixel: { x: box.x + Math.round(box.width / 2) + 20, y: box.y + Math.round(box.height / 2) },
    screenWidth: display.width,
  };
}
