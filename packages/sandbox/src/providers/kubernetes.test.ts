/**
 * The Kubernetes provider's objects and calls. UNTESTED AGAINST A REAL CLUSTER: no cluster runs on
 * this machine, so the API is a fake (the one place a fake stands in for the real part) that
 * records what the provider sends; the manifests are checked field by field.
 */
import { createLogger } from "@rd/log";
import { builtInDeskTemplate, DESK_LIMITS, type DeskTemplate } from "@rd/protocol";
import type { V1NetworkPolicy, V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_KUBERNETES_DESK_CONFIG,
  deskNetworkPolicyManifest,
  deskPodManifest,
  type KubernetesDeskApi,
  KubernetesDeskProvider,
} from "./kubernetes.ts";
import { DeskProviderUnsupported, type DeskSpec } from "./provider.ts";

const log = createLogger("silent", { name: "kubernetes-desk-provider-test" });
const config = DEFAULT_KUBERNETES_DESK_CONFIG;

function desk(overrides: Partial<DeskTemplate> = {}, id = "0b7c2f3e-1111-4222-8333-444455556666"): DeskSpec {
  const template = builtInDeskTemplate("interview");
  if (!template) throw new Error("the built-in interview template is missing");
  return { id, tenantId: "tenant-1", template: { ...template, ...overrides } };
}

const containerOf = (pod: V1Pod, name: string) => {
  const container = pod.spec?.containers.find((c) => c.name === name);
  if (!container) throw new Error(`no ${name} container`);
  return container;
};

describe("deskPodManifest", () => {
  const pod = deskPodManifest(
    desk({ limits: { memoryMiB: 2048, cpus: 1.5, maxProcesses: 512 }, resolution: "1920x1080" }),
    config,
  );

  it("names and labels the pod for its desk and tenant", () => {
    expect(pod.metadata).toMatchObject({
      name: "desk-0b7c2f3e-1111-4222-8333-444455556666",
      namespace: "remote-desk-desks",
      labels: {
        app: "remote-desk-desk",
        "desk-id": "0b7c2f3e-1111-4222-8333-444455556666",
        "tenant-id": "tenant-1",
      },
    });
  });

  it("gives the desk container the template's memory and CPUs as requests and limits", () => {
    const resources = { cpu: "1500m", memory: "2048Mi" };
    expect(containerOf(pod, "desk").resources).toEqual({ requests: resources, limits: resources });
    expect(pod.metadata?.annotations?.["remote-desk/max-processes"]).toBe("512");
  });

  it("passes the resolution and the programs as JSON argv lists to the desk image", () => {
    const env = Object.fromEntries(containerOf(pod, "desk").env?.map((e) => [e.name, e.value]) ?? []);
    expect(env.RD_DESK_RESOLUTION).toBe("1920x1080");
    expect(JSON.parse(env.RD_DESK_PROGRAMS ?? "")).toEqual(builtInDeskTemplate("interview")?.programs);
  });

  it("runs both containers without root, privileges, capabilities or a writable root", () => {
    for (const name of ["desk", "agent"]) {
      expect(containerOf(pod, name).securityContext).toMatchObject({
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        privileged: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
      });
      expect(containerOf(pod, name).securityContext?.runAsUser).toBeGreaterThan(0);
    }
    expect(pod.spec).toMatchObject({
      automountServiceAccountToken: false,
      hostNetwork: false,
      hostPID: false,
      shareProcessNamespace: false,
      restartPolicy: "Never",
      activeDeadlineSeconds: DESK_LIMITS.maxLifetimeMinutes * 60,
      securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
    });
  });

  it("shares the X socket and cookie with the agent read-only, and its credential with nobody else", () => {
    const mounts = (name: string) =>
      Object.fromEntries(containerOf(pod, name).volumeMounts?.map((m) => [m.name, m]) ?? []);
    const deskMounts = mounts("desk");
    const agentMounts = mounts("agent");
    expect(deskMounts.x11).toMatchObject({ mountPath: "/tmp/.X11-unix" });
    expect(deskMounts.x11?.readOnly).toBeFalsy();
    expect(agentMounts.x11).toMatchObject({ mountPath: "/tmp/.X11-unix", readOnly: true });
    expect(agentMounts.xauth).toMatchObject({ mountPath: deskMounts.xauth?.mountPath, readOnly: true });
    expect(agentMounts["agent-credential"]).toMatchObject({ readOnly: true });
    expect(deskMounts["agent-credential"]).toBeUndefined();
    const volumes = Object.fromEntries(pod.spec?.volumes?.map((v) => [v.name, v]) ?? []);
    expect(volumes.x11?.emptyDir).toBeDefined();
    expect(volumes.xauth?.emptyDir).toBeDefined();
    expect(volumes.home?.emptyDir).toEqual({ medium: "Memory", sizeLimit: "256Mi" });
    expect(volumes["agent-credential"]?.secret?.secretName).toBe(config.agentCredentialSecret);
    const agentEnv = Object.fromEntries(containerOf(pod, "agent").env?.map((e) => [e.name, e.value]) ?? []);
    const deskEnv = Object.fromEntries(containerOf(pod, "desk").env?.map((e) => [e.name, e.value]) ?? []);
    expect([agentEnv.DISPLAY, agentEnv.XAUTHORITY]).toEqual([deskEnv.DISPLAY, deskEnv.XAUTHORITY]);
  });

  it("refuses an id that cannot be a label", () => {
    expect(() => deskPodManifest(desk({}, "Not_A_Label"), config)).toThrow(/desk id/);
  });
});

describe("deskNetworkPolicyManifest", () => {
  it("with egress none, selects the desk's pod, denies ingress and allows only the listed egress", () => {
    const policy = deskNetworkPolicyManifest(desk(), config);
    expect(policy.metadata).toMatchObject({
      name: "desk-0b7c2f3e-1111-4222-8333-444455556666",
      labels: { app: "remote-desk-desk", "tenant-id": "tenant-1" },
    });
    expect(policy.spec?.podSelector).toEqual({
      matchLabels: { app: "remote-desk-desk", "desk-id": "0b7c2f3e-1111-4222-8333-444455556666" },
    });
    expect(policy.spec?.policyTypes).toEqual(["Ingress", "Egress"]);
    expect(policy.spec?.ingress).toEqual([]);
    expect(policy.spec?.egress).toEqual([
      {
        to: [
          {
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
            podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
          },
        ],
        ports: [
          { port: 53, protocol: "UDP" },
          { port: 53, protocol: "TCP" },
        ],
      },
      {
        to: [
          {
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "remote-desk" } },
            podSelector: { matchLabels: { app: "remote-desk-signal" } },
          },
        ],
        ports: [{ port: 8787, protocol: "TCP" }],
      },
    ]);
    expect(JSON.stringify(policy)).not.toContain("0.0.0.0/0");
  });

  it("takes a CIDR allowance from config (a TURN server)", () => {
    const policy = deskNetworkPolicyManifest(desk(), {
      ...config,
      allowedEgress: [
        { description: "TURN", to: { cidr: "203.0.113.7/32" }, ports: [{ port: 3478, protocol: "UDP" }] },
      ],
    });
    expect(policy.spec?.egress).toEqual([
      { to: [{ ipBlock: { cidr: "203.0.113.7/32" } }], ports: [{ port: 3478, protocol: "UDP" }] },
    ]);
  });

  it("with egress internet, adds public addresses but not the cluster's or the metadata endpoint", () => {
    const policy = deskNetworkPolicyManifest(desk({ egress: "internet" }), config);
    const last = policy.spec?.egress?.at(-1);
    expect(last?.ports).toBeUndefined();
    expect(last?.to?.[0]?.ipBlock?.cidr).toBe("0.0.0.0/0");
    expect(last?.to?.[0]?.ipBlock?.except).toEqual(
      expect.arrayContaining(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"]),
    );
  });
});

/** Records every call; deletes of unknown names fail with 404, as the API server does. */
function fakeApi(existing: { pods?: string[]; policies?: string[] } = {}) {
  const calls: {
    method: string;
    namespace: string;
    name?: string;
    body?: unknown;
    labelSelector?: string;
  }[] = [];
  const pods = new Set(existing.pods);
  const policies = new Set(existing.policies);
  const notFound = () => Object.assign(new Error("HTTP 404"), { code: 404 });
  const item = (name: string) => ({ metadata: { name, labels: { app: "remote-desk-desk" } } });
  let failPodCreate = false;
  const api = {
    core: {
      createNamespacedPod: async ({ namespace, body }: { namespace: string; body: V1Pod }) => {
        calls.push({ method: "createNamespacedPod", namespace, body });
        if (failPodCreate) throw Object.assign(new Error("HTTP 403"), { code: 403 });
        pods.add(body.metadata?.name ?? "");
        return body;
      },
      deleteNamespacedPod: async ({ name, namespace }: { name: string; namespace: string }) => {
        calls.push({ method: "deleteNamespacedPod", namespace, name });
        if (!pods.delete(name)) throw notFound();
        return {};
      },
      listNamespacedPod: async ({
        namespace,
        labelSelector,
      }: {
        namespace: string;
        labelSelector?: string;
      }) => {
        calls.push({ method: "listNamespacedPod", namespace, labelSelector });
        return { items: [...pods].map(item) };
      },
    },
    networking: {
      createNamespacedNetworkPolicy: async ({
        namespace,
        body,
      }: {
        namespace: string;
        body: V1NetworkPolicy;
      }) => {
        calls.push({ method: "createNamespacedNetworkPolicy", namespace, body });
        policies.add(body.metadata?.name ?? "");
        return body;
      },
      deleteNamespacedNetworkPolicy: async ({ name, namespace }: { name: string; namespace: string }) => {
        calls.push({ method: "deleteNamespacedNetworkPolicy", namespace, name });
        if (!policies.delete(name)) throw notFound();
        return {};
      },
      listNamespacedNetworkPolicy: async ({
        namespace,
        labelSelector,
      }: {
        namespace: string;
        labelSelector?: string;
      }) => {
        calls.push({ method: "listNamespacedNetworkPolicy", namespace, labelSelector });
        return { items: [...policies].map(item) };
      },
    },
  } as unknown as KubernetesDeskApi;
  return { api, calls, pods, policies, failPodCreate: () => (failPodCreate = true) };
}

describe("KubernetesDeskProvider (fake API: untested against a real cluster)", () => {
  it("creates the policy, then the pod, from the manifests, and returns the pod's name as its ref", async () => {
    const fake = fakeApi();
    const provider = new KubernetesDeskProvider({ api: fake.api, log });
    const spec = desk();
    const started = await provider.start(spec);
    expect(started).toEqual({ providerRef: "desk-0b7c2f3e-1111-4222-8333-444455556666" });
    expect(fake.calls.map((c) => c.method)).toEqual(["createNamespacedNetworkPolicy", "createNamespacedPod"]);
    expect(fake.calls[0]).toMatchObject({
      namespace: "remote-desk-desks",
      body: deskNetworkPolicyManifest(spec, config),
    });
    expect(fake.calls[1]).toMatchObject({
      namespace: "remote-desk-desks",
      body: deskPodManifest(spec, config),
    });
  });

  it("uses the namespace and images of its config", async () => {
    const fake = fakeApi();
    const provider = new KubernetesDeskProvider({
      api: fake.api,
      log,
      config: {
        namespace: "desks",
        deskImage: "registry.example/desk:1",
        agentImage: "registry.example/agent:1",
      },
    });
    await provider.start(desk());
    const pod = fake.calls[1]?.body as V1Pod;
    expect(fake.calls.every((c) => c.namespace === "desks")).toBe(true);
    expect(containerOf(pod, "desk").image).toBe("registry.example/desk:1");
    expect(containerOf(pod, "agent").image).toBe("registry.example/agent:1");
  });

  it("removes the policy again when the pod cannot be created", async () => {
    const fake = fakeApi();
    fake.failPodCreate();
    const provider = new KubernetesDeskProvider({ api: fake.api, log });
    await expect(provider.start(desk())).rejects.toThrow(/403/);
    expect(fake.policies.size).toBe(0);
    expect(fake.calls.at(-1)?.method).toBe("deleteNamespacedNetworkPolicy");
  });

  it("refuses a desk whose ids cannot be labels, calling nothing", async () => {
    const fake = fakeApi();
    const provider = new KubernetesDeskProvider({ api: fake.api, log });
    await expect(provider.start(desk({}, "UPPER"))).rejects.toThrow(DeskProviderUnsupported);
    expect(fake.calls).toEqual([]);
  });

  it("deletes the pod, then its policy, on stop; a desk already gone is no error", async () => {
    const fake = fakeApi();
    const provider = new KubernetesDeskProvider({ api: fake.api, log });
    const { providerRef } = await provider.start(desk());
    fake.calls.length = 0;
    await provider.stop(providerRef);
    expect(fake.calls).toEqual([
      { method: "deleteNamespacedPod", namespace: "remote-desk-desks", name: providerRef },
      { method: "deleteNamespacedNetworkPolicy", namespace: "remote-desk-desks", name: providerRef },
    ]);
    expect([fake.pods.size, fake.policies.size]).toEqual([0, 0]);
    await provider.stop(providerRef);
  });

  it("reaps the desk pods and policies that are not live, by the desk label", async () => {
    const fake = fakeApi({
      pods: ["desk-live", "desk-dead"],
      policies: ["desk-live", "desk-dead", "desk-orphan"],
    });
    const provider = new KubernetesDeskProvider({ api: fake.api, log });
    const reaped = await provider.reap(new Set(["desk-live"]));
    expect(reaped.sort()).toEqual(["desk-dead", "desk-orphan"]);
    expect([...fake.pods]).toEqual(["desk-live"]);
    expect([...fake.policies]).toEqual(["desk-live"]);
    const lists = fake.calls.filter((c) => c.method.startsWith("list"));
    expect(lists.map((c) => c.labelSelector)).toEqual(["app=remote-desk-desk", "app=remote-desk-desk"]);
  });
});
