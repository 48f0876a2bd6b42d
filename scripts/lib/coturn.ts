/**
 * Runs Debian's coturn (`turnserver`) as a child process: the TURN relay that lets a viewer and an
 * agent on different networks reach each other, authenticated with the TURN REST shared-secret
 * scheme (packages/protocol turn-credentials.ts issues the short-lived credentials it checks).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

export interface CoturnOptions {
  /** The UDP and TCP port coturn listens on (3478 is TURN's registered port). */
  port: number;
  /** The shared secret the signaling worker signs credentials with (RD_TURN_SECRET). */
  secret: string;
  /** The realm coturn names in its challenges; any fixed name works with the REST scheme. */
  realm?: string;
  /** The range relayed traffic uses; coturn's own default (49152-65535) when unset. */
  minRelayPort?: number;
  maxRelayPort?: number;
  /**
   * Where coturn listens: an address of this machine, or 0.0.0.0 for all. Loopback by default, and
   * only then may peers be loopback addresses.
   */
  listenIp?: string;
  /** The address relay endpoints are opened on; coturn picks from the listening ones when unset. */
  relayIp?: string;
  /** coturn's own log; kept in memory (for a start-up failure's message) when unset. */
  logFile?: string;
}

export interface Coturn {
  /** A TURN URL that reaches this server over UDP, for RD_TURN_URLS. */
  url: string;
  /** SIGTERM, then SIGKILL if it is still there after STOP_GRACE_MS. */
  stop(): Promise<void>;
}

/** coturn answers within milliseconds once its listeners are bound; ten seconds is a dead start. */
const READY_TIMEOUT_MS = 10_000;
/** coturn closes its allocations and exits at once on SIGTERM; longer means it is stuck. */
const STOP_GRACE_MS = 3_000;
const PROBE_INTERVAL_MS = 150;
/** Lines of coturn's output kept for the error when it fails to start. */
const LOG_TAIL_LINES = 40;

const WILDCARD = new Set(["0.0.0.0", "::"]);
const isLoopback = (ip: string) => ip === "::1" || ip.startsWith("127.");

/** Starts coturn and resolves once it answers a STUN binding request on its port. */
export async function startCoturn(options: CoturnOptions): Promise<Coturn> {
  const settings = checkOptions(options);
  const { port, listenIp } = settings;
  const probeHost = WILDCARD.has(listenIp) ? (listenIp === "::" ? "::1" : "127.0.0.1") : listenIp;
  // coturn binds with SO_REUSEPORT, so a second one on a taken port starts without complaint and
  // shares (or steals) the first one's traffic: find out before, while the error can say so.
  await assertPortFree(port, listenIp);

  // The secret goes in a file only we can read, not on the command line, where `ps` shows it to
  // every user of the machine; everything else is on the command line, and /etc/turnserver.conf
  // is never read.
  const dir = await mkdtemp(path.join(tmpdir(), "rd-coturn-"));
  const config = path.join(dir, "turnserver.conf");
  await writeFile(config, `static-auth-secret=${settings.secret}\n`, { mode: 0o600 });

  const args = [
    ["-c", config],
    ["--listening-port", String(port)],
    WILDCARD.has(listenIp) ? [] : ["--listening-ip", listenIp],
    settings.relayIp ? ["--relay-ip", settings.relayIp] : [],
    settings.minRelayPort ? ["--min-port", String(settings.minRelayPort)] : [],
    settings.maxRelayPort ? ["--max-port", String(settings.maxRelayPort)] : [],
    ["--use-auth-secret", "--realm", settings.realm, "--fingerprint"],
    // Plain UDP/TCP only: no certificates to manage here (a TLS front is the deployment's choice).
    ["--no-tls", "--no-dtls"],
    // No admin CLI (a telnet port with a default password) and no version in every response.
    ["--no-cli", "--no-software-attribute"],
    // Listening on loopback, every peer is on this machine, and a relay on 127.0.0.1 talks to
    // peers (another allocation, a host candidate) there too. Reachable from elsewhere, loopback
    // stays refused: any credential holder could otherwise reach this machine's local services.
    isLoopback(listenIp) ? ["--allow-loopback-peers"] : [],
    ["--no-multicast-peers"],
    // A single address cannot answer RFC 5780 NAT-behaviour probes; coturn warns at every start.
    ["--no-rfc5780"],
    // Its pid file and SQLite user database (unused with a static secret) would go to system paths.
    ["--pidfile", path.join(dir, "turnserver.pid"), "--userdb", path.join(dir, "turndb")],
    settings.logFile
      ? ["--log-file", settings.logFile, "--simple-log", "--no-stdout-log"]
      : ["--log-file", "stdout"],
  ].flat();

  const child = spawn("turnserver", args, { stdio: ["ignore", "pipe", "pipe"] });
  const tail: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding("utf8");
    stream.on("data", (text: string) => {
      tail.push(...text.split("\n").filter(Boolean));
      tail.splice(0, Math.max(0, tail.length - LOG_TAIL_LINES));
    });
  }
  let spawnError: NodeJS.ErrnoException | undefined;
  child.once("error", (error) => (spawnError = error));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= terminate(child, exited).finally(() => rm(dir, { recursive: true, force: true })));

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (spawnError) {
      await stop();
      throw new Error(
        spawnError.code === "ENOENT"
          ? "turnserver is not installed: apt-get install -y coturn"
          : `could not start turnserver: ${spawnError.message}`,
      );
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`turnserver exited (${child.exitCode ?? child.signalCode}):\n${tail.join("\n")}`);
    }
    if (await stunBindingAnswered(probeHost, port, PROBE_INTERVAL_MS)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `turnserver did not answer on ${probeHost}:${port} within ${READY_TIMEOUT_MS / 1000} s:\n${tail.join("\n")}`,
      );
    }
  }
  const host = WILDCARD.has(listenIp) ? (settings.relayIp ?? probeHost) : listenIp;
  return { url: `turn:${host.includes(":") ? `[${host}]` : host}:${port}?transport=udp`, stop };
}

type Settings = Required<Pick<CoturnOptions, "port" | "secret" | "realm" | "listenIp">> & CoturnOptions;

/** Refuses what coturn would misread or silently ignore, with what to change. */
function checkOptions(options: CoturnOptions): Settings {
  const { port, secret, minRelayPort, maxRelayPort } = options;
  const realm = options.realm ?? "remote-desk";
  const isPort = (p: number | undefined) => p === undefined || (Number.isInteger(p) && p >= 1 && p <= 65535);
  if (!isPort(port)) throw new Error(`coturn: port must be 1-65535, not ${port}`);
  // One line of printable ASCII: the secret is written into coturn's config file, where a line
  // break would start another setting.
  if (!/^[\x21-\x7e]{16,256}$/.test(secret))
    throw new Error("coturn: the secret must be 16-256 printable ASCII characters without spaces");
  if (!/^[\w.-]{1,64}$/.test(realm)) throw new Error(`coturn: realm must be a plain name, not "${realm}"`);
  if (!isPort(minRelayPort) || !isPort(maxRelayPort)) throw new Error("coturn: relay ports must be 1-65535");
  if ((minRelayPort === undefined) !== (maxRelayPort === undefined) || minRelayPort! > maxRelayPort!)
    throw new Error("coturn: give both minRelayPort and maxRelayPort, the first no larger than the second");
  return { ...options, realm, listenIp: options.listenIp ?? "127.0.0.1" };
}

/** Binds the port (TCP and UDP) for a moment: coturn itself would not notice that it is taken. */
async function assertPortFree(port: number, host: string): Promise<void> {
  const inUse = (error: NodeJS.ErrnoException) =>
    new Error(
      error.code === "EADDRINUSE"
        ? `coturn: port ${port} on ${host} is in use (another turnserver? Debian's coturn service: systemctl disable --now coturn); choose another port`
        : `coturn: cannot listen on ${host}:${port}: ${error.message}`,
    );
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once("error", (error) => reject(inUse(error)));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve()));
  });
  await new Promise<void>((resolve, reject) => {
    const socket = createSocket(host.includes(":") ? "udp6" : "udp4");
    socket.once("error", (error) => {
      socket.close();
      reject(inUse(error));
    });
    socket.bind({ port, address: host, exclusive: true }, () => socket.close(() => resolve()));
  });
}

/**
 * Sends one STUN Binding request (RFC 8489 §6: type 0x0001, no attributes, the magic cookie and a
 * random transaction id) and says whether a success response with that id came back in time.
 * coturn answers Binding requests without credentials, so this proves it is listening.
 */
export function stunBindingAnswered(host: string, port: number, timeoutMs: number): Promise<boolean> {
  const request = Buffer.alloc(20);
  request.writeUInt16BE(0x0001, 0);
  request.writeUInt16BE(0, 2);
  request.writeUInt32BE(0x2112a442, 4);
  crypto.getRandomValues(request.subarray(8, 20));
  const socket = createSocket(host.includes(":") ? "udp6" : "udp4");
  return new Promise<boolean>((resolve) => {
    const finish = (answered: boolean) => {
      clearTimeout(timer);
      socket.close();
      resolve(answered);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on("message", (reply) => {
      if (
        reply.length >= 20 &&
        reply.readUInt16BE(0) === 0x0101 &&
        reply.subarray(8, 20).equals(request.subarray(8, 20))
      )
        finish(true);
    });
    // Nothing listening yet: ICMP port unreachable surfaces as an error on the next call.
    socket.on("error", () => {});
    socket.send(request, port, host, (error) => {
      if (error) finish(false);
    });
  });
}

async function terminate(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}
