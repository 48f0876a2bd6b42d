/**
 * The desk provider seam (design flow 5): what the dashboard asks of whatever runs desks — start one
 * from its template, stop it, and clean up after a crash. Two providers: LocalDeskProvider (a
 * bubblewrap sandbox on this machine, local.ts) and KubernetesDeskProvider (a pod per desk,
 * kubernetes.ts). The caller records `providerRef` on the desk (packages/db `transitionDesk`) and
 * hands it back to stop and reap; it is opaque to everyone but the provider that issued it.
 */
import type { DeskTemplate } from "@rd/protocol";
import type { Command } from "../namespace-commands.ts";

/** What a provider needs to know of a desk: its ids (names and labels) and its resolved template. */
export interface DeskSpec {
  id: string;
  tenantId: string;
  template: DeskTemplate;
}

/**
 * A started desk's display, for the trusted desk agent that the server runs beside it (local
 * provider only). The agent must run through `outside(argv)`: the display lives in the sandbox's
 * own namespaces, and only that wrapper reaches its socket, with its cookie.
 */
export interface DeskDisplay {
  /** The X display, e.g. ":1000", as `outside()` commands see it. */
  display: string;
  width: number;
  height: number;
  /** The command that runs `argv` (the desk agent) outside the desk, on its display. */
  outside(argv: readonly string[]): Command;
  /** Settles when the desk ended by itself (its X server died) or was stopped: the desk has failed. */
  exited: Promise<void>;
}

export interface StartedDesk {
  /** The provider's handle on the desk: stored on the desk record, passed to stop() and reap(). */
  providerRef: string;
  /**
   * Set when the caller must run the desk agent against the display itself (local). Undefined when
   * the provider runs the agent as part of the desk (kubernetes: a container in the desk's pod,
   * sharing the X socket, which reaches the signaling worker on its own).
   */
  display?: DeskDisplay;
}

export interface DeskProvider {
  readonly kind: "local" | "kubernetes";
  /**
   * Starts the desk. Resolves once it is running (local: its X server accepts connections) or
   * accepted (kubernetes: its pod and network policy are created; the agent reports in when up).
   * Rejects, having left nothing behind, when the template asks for what the provider cannot do.
   */
  start(desk: DeskSpec): Promise<StartedDesk>;
  /** Stops the desk and removes everything it had; a ref that is already gone is not an error. */
  stop(providerRef: string): Promise<void>;
  /**
   * Removes what a crashed server left: every desk of this provider whose ref is not in
   * `liveRefs`. Resolves with the refs it removed. Call it at start-up, with the refs of the desks
   * the database still holds live; any of those that a provider removes anyway (a local desk does
   * not outlive its server) is a desk the caller must fail.
   */
  reap(liveRefs: ReadonlySet<string>): Promise<string[]>;
}

/** A template asked for what the provider cannot give; nothing was started. */
export class DeskProviderUnsupported extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DeskProviderUnsupported";
  }
}
