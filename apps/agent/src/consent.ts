/**
 * Asking the person at the machine, and telling them a session runs. On X11 both are small
 * `xmessage` windows (x11-utils): the prompt names the technician and has Allow / Deny buttons
 * (Return allows; closing the window denies) and is answered "no" by itself after a timeout; the
 * indicator stays in the corner while a session runs and has an "End session" button.
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { Logger } from "@rd/log";

export type ConsentAnswer = "accepted" | "denied_by_user" | "consent_timeout";

export interface ConsentUi {
  /** Resolves with the person's answer; `signal` withdraws the question (the technician gave up). */
  ask(question: { technician: string; timeoutMs: number; signal: AbortSignal }): Promise<ConsentAnswer>;
  /** Shows that a session runs until the returned function is called; `onEnd` if they end it. */
  indicate(notice: { technician: string; onEnd: () => void }): () => void;
}

/** Exit codes chosen for the buttons: xmessage exits 0 on its own timeout, so 0 cannot mean Allow. */
const ALLOW = 10;
const DENY = 11;
const END = 12;

function xmessage(args: string[], display: string): ChildProcess {
  return spawn("xmessage", args, { stdio: "ignore", env: { ...process.env, DISPLAY: display } });
}

export function createXConsentUi(display: string, log: Logger): ConsentUi {
  return {
    ask({ technician, timeoutMs, signal }) {
      return new Promise((resolve) => {
        const text = `${technician} wants to see and control this screen.\n\nAllow the remote session?`;
        const child = xmessage(
          [
            "-center",
            "-title",
            "remote-desk: remote session request",
            "-buttons",
            `Allow:${ALLOW},Deny:${DENY}`,
            "-default",
            "Allow",
            text,
          ],
          display,
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

    indicate({ technician, onEnd }) {
      let stopped = false;
      let child: ChildProcess | undefined;
      const show = () => {
        child = xmessage(
          [
            "-geometry",
            "-0+0",
            "-title",
            "remote-desk: session in progress",
            "-buttons",
            `End session:${END}`,
            // Plain ASCII: xmessage draws with a core X font, which has no "●".
            `${technician} is connected to this screen`,
          ],
          display,
        );
        child.on("error", (error) => log.warn({ err: error }, "cannot show the session indicator"));
        child.on("exit", (code) => {
          if (stopped) return;
          if (code === END) return onEnd();
          // Closed some other way: the indicator must stay while the session runs.
          setTimeout(() => !stopped && show(), 500);
        });
      };
      show();
      return () => {
        stopped = true;
        child?.kill("SIGTERM");
      };
    },
  };
}
