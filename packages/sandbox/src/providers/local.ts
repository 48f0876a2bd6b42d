/**
 * The local desk provider: each desk a bubblewrap sandbox on this machine (startDeskSandbox), its
 * ref the sandbox id (the desk id). The server runs the trusted desk agent against the display it
 * returns. A desk dies with its server (bubblewrap's --die-with-parent), so nothing survives a
 * restart that reap could spare.
 */
import type { Logger } from "@rd/log";
import type { DeskTemplate } from "@rd/protocol";
import {
  DEFAULT_LIMITS,
  defaultBaseDir,
  type DeskLimits,
  type DeskSandbox,
  startDeskSandbox,
} from "../desk-sandbox.ts";
import { reapDeskSandboxes } from "../reap.ts";
import { type DeskProvider, DeskProviderUnsupported, type DeskSpec, type StartedDesk } from "./provider.ts";

export interface LocalDeskProviderOptions {
  /** Where per-desk directories go; default `<tmpdir>/rd-desks`. Owned by this provider alone. */
  baseDir?: string;
  /** Host paths no desk may see (the dashboard's DATA_DIR). */
  forbiddenPaths?: readonly string[];
  log: Logger;
}

const MIB = 1024 * 1024;

/** The sandbox's limits for a template: MiB to bytes, CPUs as the CPU quota; the rest as default. */
export function sandboxLimits(template: DeskTemplate): DeskLimits {
  return {
    ...DEFAULT_LIMITS,
    memoryBytes: template.limits.memoryMiB * MIB,
    cpuQuota: template.limits.cpus,
    maxProcesses: template.limits.maxProcesses,
  };
}

export class LocalDeskProvider implements DeskProvider {
  readonly kind = "local";
  readonly #options: LocalDeskProviderOptions;
  readonly #log: Logger;
  /** The desks this provider started and has not stopped, by ref. */
  readonly #live = new Map<string, DeskSandbox>();

  constructor(options: LocalDeskProviderOptions) {
    this.#options = options;
    this.#log = options.log.child({ module: "local-desk-provider" });
  }

  async start(desk: DeskSpec): Promise<StartedDesk> {
    const { template } = desk;
    if (template.egress !== "none") {
      throw new DeskProviderUnsupported(
        `The local desk sandbox has no network egress yet: template "${template.name}" asks for "${template.egress}". Use egress "none", or the Kubernetes provider.`,
      );
    }
    if (this.#live.has(desk.id)) throw new Error(`desk ${desk.id} is already running`);
    const sandbox = await startDeskSandbox({
      id: desk.id,
      resolution: template.resolution,
      programs: template.programs,
      limits: sandboxLimits(template),
      network: "none",
      baseDir: this.#options.baseDir ?? defaultBaseDir(),
      forbiddenPaths: this.#options.forbiddenPaths,
      log: this.#options.log.child({ desk: desk.id }),
    });
    this.#live.set(desk.id, sandbox);
    // A desk that ends by itself leaves the map too; the caller hears of it through `exited`.
    void sandbox.exited.then(() => {
      if (this.#live.get(desk.id) === sandbox) this.#live.delete(desk.id);
    });
    return {
      providerRef: sandbox.id,
      display: {
        display: sandbox.display,
        width: sandbox.width,
        height: sandbox.height,
        outside: (argv) => sandbox.outside(argv),
        exited: sandbox.exited,
      },
    };
  }

  async stop(providerRef: string): Promise<void> {
    const sandbox = this.#live.get(providerRef);
    if (!sandbox) {
      this.#log.debug({ providerRef }, "stop: no such desk running here");
      return;
    }
    this.#live.delete(providerRef);
    await sandbox.stop();
  }

  /**
   * Removes every desk directory and cgroup under the base directory (reapDeskSandboxes): a desk of
   * a previous server died with it, whether or not `liveRefs` names it. Refuses while desks this
   * provider started are running, since the sandbox's reap spares none.
   */
  async reap(_liveRefs: ReadonlySet<string>): Promise<string[]> {
    if (this.#live.size > 0) {
      throw new Error(
        `cannot reap while ${this.#live.size} desk(s) started here are running: reap at start-up`,
      );
    }
    return reapDeskSandboxes(this.#options.baseDir ?? defaultBaseDir(), this.#log);
  }
}
