/**
 * The Kubernetes desk provider: one pod per desk in the desks namespace — the desk container (Xvfb
 * and the template's programs, image deploy/desk.Dockerfile) and the trusted desk agent (image
 * deploy/agent.Dockerfile) sharing the X socket and cookie through emptyDir volumes — and a
 * NetworkPolicy that limits what the pod may reach. The manifests are pure functions; the provider
 * only sends them. UNTESTED AGAINST A REAL CLUSTER: the tests check the objects and the API calls.
 *
 * Containers of a pod share its network namespace, so the desk's programs can reach whatever the
 * agent is allowed to (the signaling worker, DNS, TURN): the policy's allowances are the pod's.
 */
import type {
  CoreV1Api,
  NetworkingV1Api,
  V1Container,
  V1NetworkPolicy,
  V1NetworkPolicyEgressRule,
  V1NetworkPolicyPeer,
  V1Pod,
  V1SecurityContext,
} from "@kubernetes/client-node";
import type { Logger } from "@rd/log";
import { DESK_LIMITS } from "@rd/protocol";
import { type DeskProvider, DeskProviderUnsupported, type DeskSpec, type StartedDesk } from "./provider.ts";

/** The label every desk object carries: how reap finds them, and how a policy selects its pod. */
export const DESK_APP_LABEL = "remote-desk-desk";

/** A destination the desk pod may reach whatever its template's egress, and why. */
export interface EgressAllowance {
  /** Why this is allowed (shown in the policy's annotation, so a cluster admin can read it). */
  description: string;
  /** Pods by labels (in namespaces by labels; omitted: the desks namespace), or a CIDR. */
  to:
    | { namespaceLabels?: Record<string, string>; podLabels?: Record<string, string> }
    | { cidr: string; except?: string[] };
  ports: { port: number; protocol: "TCP" | "UDP" }[];
}

export interface KubernetesDeskConfig {
  /** Where desk pods and policies go (deploy/kubernetes/namespace.yaml). */
  namespace: string;
  /** Image of the desk container: Xvfb, fluxbox, xterm, nano, a non-root user (deploy/desk.Dockerfile). */
  deskImage: string;
  /** Image of the desk agent (deploy/agent.Dockerfile). */
  agentImage: string;
  /**
   * Secret holding the desk agent's `credential.json` (its agent id, secret and server), mounted
   * read-only as its config directory. How each desk gets a credential of its own is not designed
   * yet: today every desk pod mounts this one.
   */
  agentCredentialSecret: string;
  /** Extra environment of the agent (RD_ICE_SERVERS with a TURN server, RD_AGENT_LOG_LEVEL…). */
  agentEnv: Record<string, string>;
  /** The agent's CPU and memory: H.264 encoding of a 1366x768 screen takes about one core at 60 fps. */
  agentResources: { cpu: string; memory: string };
  /**
   * What the pod may reach even with egress "none": the agent must reach the signaling worker (and
   * name it through DNS, and relay media through TURN). Nothing else gets out.
   */
  allowedEgress: EgressAllowance[];
}

/**
 * Defaults for a cluster laid out as deploy/kubernetes/ has it: the dashboard and the signaling
 * worker (pods `app=remote-desk-signal`, port 8787, SIGNAL_PORT's default) in namespace
 * `remote-desk`, cluster DNS as kube-dns in `kube-system`. Add a CIDR allowance for a TURN server.
 */
export const DEFAULT_KUBERNETES_DESK_CONFIG: KubernetesDeskConfig = {
  namespace: "remote-desk-desks",
  deskImage: "remote-desk/desk:latest",
  agentImage: "remote-desk/agent:latest",
  agentCredentialSecret: "remote-desk-desk-agent",
  agentEnv: {},
  agentResources: { cpu: "1", memory: "512Mi" },
  allowedEgress: [
    {
      description: "cluster DNS, to resolve the signaling worker's name",
      to: {
        namespaceLabels: { "kubernetes.io/metadata.name": "kube-system" },
        podLabels: { "k8s-app": "kube-dns" },
      },
      ports: [
        { port: 53, protocol: "UDP" },
        { port: 53, protocol: "TCP" },
      ],
    },
    {
      description: "the signaling worker, which the desk agent holds its WebSocket to",
      to: {
        namespaceLabels: { "kubernetes.io/metadata.name": "remote-desk" },
        podLabels: { app: "remote-desk-signal" },
      },
      ports: [{ port: 8787, protocol: "TCP" }],
    },
  ],
};

/**
 * With egress "internet": everywhere but private, shared (CGNAT) and link-local addresses, so a desk
 * reaches neither the cluster's pods and services nor a cloud's metadata endpoint (169.254.169.254).
 */
const INTERNET: V1NetworkPolicyPeer[] = [
  {
    ipBlock: {
      cidr: "0.0.0.0/0",
      except: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16"],
    },
  },
  { ipBlock: { cidr: "::/0", except: ["fc00::/7", "fe80::/10"] } },
];

/** The desk user of the desk image, and the agent's user; both in group DESK_GID, which owns the shared volumes. */
const DESK_UID = 1000;
const AGENT_UID = 1001;
const DESK_GID = 1000;
/** The X display in the pod: the pod has its own network (and abstract socket) namespace, so :0 is free. */
const DISPLAY = ":0";
/** Home and /tmp of the desk, as in the local sandbox: tmpfs, counted as the desk's memory. */
const SCRATCH = "256Mi";
const PATHS = { x11: "/tmp/.X11-unix", xauthDir: "/run/rd-x", agentConfig: "/etc/rd-agent" } as const;
const XAUTHORITY = `${PATHS.xauthDir}/Xauthority`;

/** A DNS label and a label value at once: names the pod and policy, and labels them. */
const LABEL_SAFE = /^[a-z0-9](?:[a-z0-9-]{0,53}[a-z0-9])?$/;

function labelsOf(desk: DeskSpec): Record<string, string> {
  for (const [what, value] of [
    ["desk id", desk.id],
    ["tenant id", desk.tenantId],
  ] as const) {
    if (!LABEL_SAFE.test(value)) {
      throw new RangeError(
        `${what} must be 1–55 of [a-z0-9-], starting and ending with a letter or digit (got "${value}")`,
      );
    }
  }
  return { app: DESK_APP_LABEL, "desk-id": desk.id, "tenant-id": desk.tenantId };
}

/** The name of a desk's pod and policy, which is also its providerRef. */
export function deskObjectName(deskId: string): string {
  return `desk-${deskId}`;
}

/** No privileges at all: what both containers run under. */
function lockedDown(uid: number): V1SecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: DESK_GID,
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  };
}

const memoryVolume = (name: string, sizeLimit: string) => ({
  name,
  emptyDir: { medium: "Memory", sizeLimit },
});

/** The desk's pod: see the module comment. Pure: the same desk and config give the same object. */
export function deskPodManifest(desk: DeskSpec, config: KubernetesDeskConfig): V1Pod {
  const labels = labelsOf(desk);
  const { template } = desk;
  const deskResources = {
    cpu: `${Math.round(template.limits.cpus * 1000)}m`,
    memory: `${template.limits.memoryMiB}Mi`,
  };
  const deskContainer: V1Container = {
    name: "desk",
    image: config.deskImage,
    env: [
      { name: "DISPLAY", value: DISPLAY },
      { name: "XAUTHORITY", value: XAUTHORITY },
      { name: "RD_DESK_RESOLUTION", value: template.resolution },
      // JSON argv lists: the image's entrypoint runs each without a shell.
      { name: "RD_DESK_PROGRAMS", value: JSON.stringify(template.programs) },
    ],
    // Requests equal to limits: Guaranteed QoS, so a busy node evicts a desk last.
    resources: { requests: deskResources, limits: deskResources },
    securityContext: lockedDown(DESK_UID),
    volumeMounts: [
      { name: "x11", mountPath: PATHS.x11 },
      { name: "xauth", mountPath: PATHS.xauthDir },
      { name: "home", mountPath: "/home/desk" },
      { name: "tmp", mountPath: "/tmp" },
    ],
  };
  const agentContainer: V1Container = {
    name: "agent",
    image: config.agentImage,
    args: ["run"],
    env: [
      { name: "DISPLAY", value: DISPLAY },
      { name: "XAUTHORITY", value: XAUTHORITY },
      { name: "RD_AGENT_CONFIG_DIR", value: PATHS.agentConfig },
      { name: "RD_DESK_ID", value: desk.id },
      ...Object.entries(config.agentEnv).map(([name, value]) => ({ name, value })),
    ],
    resources: { requests: config.agentResources, limits: config.agentResources },
    securityContext: lockedDown(AGENT_UID),
    volumeMounts: [
      { name: "agent-tmp", mountPath: "/tmp" },
      { name: "x11", mountPath: PATHS.x11, readOnly: true },
      { name: "xauth", mountPath: PATHS.xauthDir, readOnly: true },
      { name: "agent-credential", mountPath: PATHS.agentConfig, readOnly: true },
    ],
  };
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: deskObjectName(desk.id),
      namespace: config.namespace,
      labels,
      annotations: {
        "remote-desk/template": template.name,
        // Kubernetes has no per-pod process limit: the kubelet's podPidsLimit applies instead.
        "remote-desk/max-processes": String(template.limits.maxProcesses),
      },
    },
    spec: {
      restartPolicy: "Never",
      // A desk never talks to the Kubernetes API, nor needs the cluster's services in its environment.
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      hostNetwork: false,
      hostPID: false,
      hostIPC: false,
      shareProcessNamespace: false,
      // The backstop if the server that should stop it is gone: no desk outlives its longest life.
      activeDeadlineSeconds: DESK_LIMITS.maxLifetimeMinutes * 60,
      securityContext: {
        runAsNonRoot: true,
        fsGroup: DESK_GID,
        seccompProfile: { type: "RuntimeDefault" },
      },
      containers: [deskContainer, agentContainer],
      volumes: [
        memoryVolume("x11", "1Mi"),
        memoryVolume("xauth", "1Mi"),
        memoryVolume("home", SCRATCH),
        memoryVolume("tmp", SCRATCH),
        memoryVolume("agent-tmp", "64Mi"),
        {
          name: "agent-credential",
          secret: { secretName: config.agentCredentialSecret, defaultMode: 0o440 },
        },
      ],
    },
  };
}

function egressRule(allowance: EgressAllowance): V1NetworkPolicyEgressRule {
  const { to } = allowance;
  const peer: V1NetworkPolicyPeer =
    "cidr" in to
      ? { ipBlock: { cidr: to.cidr, ...(to.except ? { except: to.except } : {}) } }
      : {
          ...(to.namespaceLabels ? { namespaceSelector: { matchLabels: to.namespaceLabels } } : {}),
          ...(to.podLabels ? { podSelector: { matchLabels: to.podLabels } } : {}),
        };
  return { to: [peer], ports: allowance.ports.map(({ port, protocol }) => ({ port, protocol })) };
}

/**
 * The desk's NetworkPolicy: no ingress at all (the agent dials out; media goes through TURN), and
 * egress only to `config.allowedEgress` — plus the internet's public addresses when the template's
 * egress is "internet".
 */
export function deskNetworkPolicyManifest(desk: DeskSpec, config: KubernetesDeskConfig): V1NetworkPolicy {
  const labels = labelsOf(desk);
  const egress = config.allowedEgress.map(egressRule);
  if (desk.template.egress === "internet") egress.push({ to: INTERNET });
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: {
      name: deskObjectName(desk.id),
      namespace: config.namespace,
      labels,
      annotations: {
        "remote-desk/egress": desk.template.egress,
        "remote-desk/allowed-egress": config.allowedEgress.map((a) => a.description).join("; "),
      },
    },
    spec: {
      podSelector: { matchLabels: { app: DESK_APP_LABEL, "desk-id": desk.id } },
      policyTypes: ["Ingress", "Egress"],
      ingress: [],
      egress,
    },
  };
}

/** The calls the provider makes: the real client's, or a test's fake. */
export interface KubernetesDeskApi {
  core: Pick<CoreV1Api, "createNamespacedPod" | "deleteNamespacedPod" | "listNamespacedPod">;
  networking: Pick<
    NetworkingV1Api,
    "createNamespacedNetworkPolicy" | "deleteNamespacedNetworkPolicy" | "listNamespacedNetworkPolicy"
  >;
}

/**
 * The real client: kubeconfig from KUBECONFIG or ~/.kube/config, else the pod's service account
 * (loadFromDefault falls back to loadFromCluster). Imported on first use: the client takes most of a
 * second to load, which a server with the local provider should not pay.
 */
export async function defaultKubernetesDeskApi(): Promise<KubernetesDeskApi> {
  const k8s = await import("@kubernetes/client-node");
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromDefault();
  return {
    core: kubeConfig.makeApiClient(k8s.CoreV1Api),
    networking: kubeConfig.makeApiClient(k8s.NetworkingV1Api),
  };
}

/** Whether the API said the object does not exist (HTTP 404): already gone is as good as deleted. */
function isNotFound(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === 404;
}

export interface KubernetesDeskProviderOptions {
  config?: Partial<KubernetesDeskConfig>;
  /** Default: defaultKubernetesDeskApi(). */
  api?: KubernetesDeskApi;
  log: Logger;
}

export class KubernetesDeskProvider implements DeskProvider {
  readonly kind = "kubernetes";
  readonly config: KubernetesDeskConfig;
  readonly #log: Logger;
  #api: Promise<KubernetesDeskApi> | undefined;

  constructor(options: KubernetesDeskProviderOptions) {
    this.config = { ...DEFAULT_KUBERNETES_DESK_CONFIG, ...options.config };
    this.#log = options.log.child({ module: "kubernetes-desk-provider" });
    if (options.api) this.#api = Promise.resolve(options.api);
  }

  #client(): Promise<KubernetesDeskApi> {
    return (this.#api ??= defaultKubernetesDeskApi());
  }

  /**
   * Creates the policy first, then the pod, so that the pod never runs unrestricted; a pod that
   * cannot be created takes its policy with it.
   */
  async start(desk: DeskSpec): Promise<StartedDesk> {
    const { namespace } = this.config;
    let policy: V1NetworkPolicy;
    let pod: V1Pod;
    try {
      policy = deskNetworkPolicyManifest(desk, this.config);
      pod = deskPodManifest(desk, this.config);
    } catch (error) {
      throw new DeskProviderUnsupported((error as Error).message);
    }
    const api = await this.#client();
    await api.networking.createNamespacedNetworkPolicy({ namespace, body: policy });
    try {
      await api.core.createNamespacedPod({ namespace, body: pod });
    } catch (error) {
      await this.#delete("policy", deskObjectName(desk.id)).catch((cleanup: unknown) =>
        this.#log.error(
          { desk: desk.id, error: cleanup },
          "cannot remove the policy of a desk that did not start",
        ),
      );
      throw error;
    }
    this.#log.info({ desk: desk.id, namespace, egress: desk.template.egress }, "desk pod created");
    return { providerRef: deskObjectName(desk.id) };
  }

  /** Deletes the pod, then its policy (the other way round would free the pod's egress for a moment). */
  async stop(providerRef: string): Promise<void> {
    await this.#delete("pod", providerRef);
    await this.#delete("policy", providerRef);
    this.#log.info({ providerRef }, "desk pod deleted");
  }

  /** Deletes every desk pod and policy in the namespace whose name is not in `liveRefs`. */
  async reap(liveRefs: ReadonlySet<string>): Promise<string[]> {
    const { namespace } = this.config;
    const api = await this.#client();
    const labelSelector = `app=${DESK_APP_LABEL}`;
    const [pods, policies] = await Promise.all([
      api.core.listNamespacedPod({ namespace, labelSelector }),
      api.networking.listNamespacedNetworkPolicy({ namespace, labelSelector }),
    ]);
    const names = (items: { metadata?: { name?: string } }[]) =>
      items
        .map((item) => item.metadata?.name)
        .filter((name): name is string => !!name && !liveRefs.has(name));
    const deadPods = names(pods.items);
    const deadPolicies = names(policies.items);
    for (const name of deadPods) await this.#delete("pod", name);
    for (const name of deadPolicies) await this.#delete("policy", name);
    const reaped = [...new Set([...deadPods, ...deadPolicies])];
    if (reaped.length > 0) this.#log.warn({ reaped }, "reaped desk pods and policies left behind");
    return reaped;
  }

  async #delete(what: "pod" | "policy", name: string): Promise<void> {
    const { namespace } = this.config;
    const api = await this.#client();
    try {
      if (what === "pod") await api.core.deleteNamespacedPod({ name, namespace });
      else await api.networking.deleteNamespacedNetworkPolicy({ name, namespace });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
}
