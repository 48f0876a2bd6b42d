/** @rd/sandbox: interview desk sandboxes (bubblewrap namespaces + cgroup limits) on one machine. */
export {
  DEFAULT_LIMITS,
  DEFAULT_PROGRAMS,
  defaultBaseDir,
  parseResolution,
  startDeskSandbox,
  type DeskLimits,
  type DeskSandbox,
  type DeskSandboxOptions,
} from "./desk-sandbox.ts";
export { reapDeskSandboxes } from "./reap.ts";
export type { CgroupCounters, DeskCgroup } from "./cgroup.ts";
export type { Command } from "./namespace-commands.ts";
export type { DeskDisplay, DeskProvider, DeskSpec, StartedDesk } from "./providers/provider.ts";
export { DeskProviderUnsupported } from "./providers/provider.ts";
export { LocalDeskProvider, type LocalDeskProviderOptions } from "./providers/local.ts";
export {
  DEFAULT_KUBERNETES_DESK_CONFIG,
  deskNetworkPolicyManifest,
  deskPodManifest,
  type EgressAllowance,
  type KubernetesDeskApi,
  type KubernetesDeskConfig,
  KubernetesDeskProvider,
} from "./providers/kubernetes.ts";
