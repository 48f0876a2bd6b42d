/**
 * Asking the person at the machine, and telling them who is connected. On X11 both are small
 * `xmessage` windows (x11-utils). The prompt names the technician and their workspace and offers
 * Deny / Allow; Deny is the default, so Return (pressed by someone who was typing when it popped up)
 * refuses, as does closing the window or not answering in time. The indicator stays in the corner
 * while a session runs, lists everyone connected, and has an "End session" button. Both are kept
 * above other windows where the window manager can (window-above.ts): an ordinary window the
 * person raises must not hide that someone is connected, or asking.
 */
import type { RecordingPolicy } from "@rd/protocol";
import { type ChildProcess, spawn } from "node:child_process";
import type { Logger } from "@rd/log";
import { childEnv, xAuthorityFor } from "./child-env.ts";
import { keepAbove } from "./window-above.ts";

export type ConsentAnswer = "accepted" | "denied_by_user" | "consent_timeout";

export interface ConsentQuestion {
  /** Who asks, as the person at the machine should read it: name, email, workspace. */
  technician: string;
  /** `control`: the session itself; `join`: someone joining a session that already runs. */
  asks: "control" | "join";
  /** The machine's recording policy: the person is told before they allow anyone in. */
  recording?: RecordingPolicy;
  timeoutMs: number;
  /** Withdraws the question (the technician gave up, the session ended). */
  signal: AbortSignal;
}

export interface Indicator {
  /** Shows a new list of who is connected, and whether the session is being recorded. */
  update(technicians: string[], recording?: boolean): void;
  stop(): void;
}

export interface ConsentUi {
  ask(question: ConsentQuestion): Promise<ConsentAnswer>;
  /** Shows that a session runs, and who is in it, until stopped; `onEnd` if they end it. */
  indicate(notice: { technicians: string[]; onEnd: () => void }): Indicator;
}

/** Exit codes chosen for the buttons: xmessage exits 0 on its own timeout, so 0 cannot mean Allow. */
const ALLOW = 10;
const DENY = 11;
const END = 12;

let notices = 0;

/** An xmessage on `display`, asked to stay above the other windows once it maps. */
function xmessage(args: string[], display: string, log: Logger): ChildProcess {
  // An instance name (Xt's -name) of its own, by which keepAbove finds this window and no other:
  // the indicator's title is the same as the one's it replaces, which may still be on screen.
  const instance = `rdnotice${process.pid}n${++notices}`;
  const child = spawn("xmessage", ["-name", instance, ...args], { stdio: "ignore", env: childEnv(display) });
  const gone = new AbortController();
  child.once("exit", () => gone.abort());
  child.once("spawn", () => {
    keepAbove(display, xAuthorityFor(display), instance, { signal: gone.signal }).then(
      (result) => {
        if (result === "no-ewmh")
          log.debug({ instance }, "no EWMH window manager: the notice stacks like any other window");
        else if (result === "not-found" && !gone.signal.aborted)
          log.warn({ instance }, "the notice's window did not show up in time to be kept above the others");
      },
      (error: unknown) => log.warn({ err: error }, "cannot keep the notice above the other windows"),
    );
  });
  return child;
}

/** The prompt's words: who, and what they want. Plain ASCII: xmessage draws with a core X font. */
export function promptText({
  technician,
  asks,
  recording,
}: Pick<ConsentQuestion, "technician" | "asks" | "recording">): string {
  const recorded =
    recording === "always"
      ? "\nThe session will be recorded."
      : recording === "choice"
        ? "\nThe technician may record the session; you will see when they do."
        : "";
  return asks === "control"
    ? `${technician} wants to see and control this screen.${recorded}\n\nAllow the remote session?`
    : `${technician} wants to join the remote session and watch this screen\n(they may be given control).${recorded}\n\nAllow them in?`;
}

/** The indicator's words: everyone connected, one per line. */
export function indicatorText(technicians: string[], recording = false): string {
  const recorded = recording ? "\n\n[REC] This session is being recorded." : "";
  if (technicians.length <= 1)
    return `${technicians[0] ?? "A technician"} is connected to this screen${recorded}`;
  return `Connected to this screen:\n${technicians.map((t) => `  ${t}`).join("\n")}${recorded}`;
}

export function createXConsentUi(display: string, log: Logger): ConsentUi {
  return {
    ask({ technician, asks, recording, timeoutMs, signal }) {
      return new Promise((resolve) => {
        const child = xmessage(
          [
            "-center",
            "-title",
            "remote-desk: remote session request",
            // Deny first and the default: Return refuses, a stray keystroke never lets anyone in.
            "-buttons",
            `Deny:${DENY},Allow:${ALLOW}`,
            "-default",
            "Deny",
            promptText({ technician, asks, recording }),
          ],
          display,
          log,
        );
        let settled = false;
        const finish = (answer: ConsentAnswer) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          signal.removeEventListener("abort", withdraw);
          child.kill("SIGTERM");
          resolve(answer);
        };
        const timer = setTimeout(() => finish("consent_timeout"), timeoutMs);
        const withdraw = () => finish("denied_by_user");
        signal.addEventListener("abort", withdraw);
        child.on("error", (error) => {
          log.error({ err: error }, "cannot show the consent prompt (is x11-utils installed?); denying");
          finish("denied_by_user");
        });
        child.on("exit", (code) => finish(code === ALLOW ? "accepted" : "denied_by_user"));
      });
    },

    indicate({ technicians, onEnd }) {
      let stopped = false;
      let names = technicians;
      let recorded = false;
      let child: ChildProcess | undefined;
      const show = () => {
        const shown = xmessage(
          [
            "-geometry",
            "-0+0",
            "-title",
            "remote-desk: session in progress",
            // ICCCM "no input": the window manager never gives it the keyboard, so showing a new
            // list when someone joins or leaves does not take the focus from whoever is typing.
            "-xrm",
            "*input: False",
            "-buttons",
            `End session:${END}`,
            indicatorText(names, recorded),
          ],
          display,
          log,
        );
        child = shown;
        shown.on("error", (error) => log.warn({ err: error }, "cannot show the session indicator"));
        shown.on("exit", (code) => {
          if (stopped || child !== shown) return;
          if (code === END) return onEnd();
          // Closed some other way: the indicator must stay while the session runs.
          setTimeout(() => !stopped && child === shown && show(), 500);
        });
      };
      show();
      return {
        update(next, recording = false) {
          if (stopped || (next.join("\n") === names.join("\n") && recording === recorded)) return;
          names = next;
          recorded = recording;
          const old = child;
          show();
          old?.kill("SIGTERM");
        },
        stop() {
          stopped = true;
          child?.kill("SIGTERM");
        },
      };
    },
  };
}
