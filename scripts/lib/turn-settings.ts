/**
 * What `npm start` does about a TURN relay, from the environment: nothing (the default), or run
 * coturn beside the dashboard (`RD_TURN=coturn`) and tell the signaling worker where it is and the
 * secret it shares with it. A TURN server run elsewhere needs no help from here: the worker's own
 * RD_TURN_SECRET and RD_TURN_URLS point to it (apps/signal/src/config.ts).
 */
import { randomBytes } from "node:crypto";
import { iceServerUrl, TURN_SECRET_MIN_CHARS } from "@rd/protocol";
import { z } from "zod";
import type { CoturnOptions } from "./coturn.ts";

export interface TurnSettings {
  coturn: CoturnOptions;
  /** RD_TURN_URLS as given (the address other machines reach); derived from coturn's when unset. */
  urls?: string[];
  /** The secret was made up for this run (nothing but this run's worker needs it). */
  generatedSecret: boolean;
}

const port = z.coerce.number().int().min(1).max(65535);
const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1"]);

const schema = z.object({
  RD_TURN: z
    .enum(["coturn", "off"], { error: 'must be "coturn" (npm start runs a TURN relay) or unset' })
    .optional(),
  RD_TURN_SECRET: z
    .string()
    .regex(/^[\x21-\x7e]*$/, { error: "must be printable ASCII without spaces" })
    .optional(),
  RD_TURN_PORT: port.default(3478),
  RD_TURN_RELAY_PORTS: z
    .string()
    .regex(/^\d{1,5}-\d{1,5}$/, { error: "must be a port range such as 49152-65535" })
    .optional(),
  RD_TURN_URLS: z.string().optional(),
  HOST: z.string().default("127.0.0.1"),
  ORIGIN: z.url().optional(),
  SIGNAL_EMBEDDED: z.string().optional(),
});

/** Reads the settings; undefined when `npm start` runs no relay. Throws one message naming every problem. */
export function turnSettings(source: Record<string, string | undefined>): TurnSettings | undefined {
  const parsed = schema.safeParse(Object.fromEntries(Object.entries(source).filter(([, v]) => v !== "")));
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(`Invalid TURN settings — fix these environment variables:\n${lines.join("\n")}`);
  }
  const env = parsed.data;
  if (env.RD_TURN !== "coturn") return undefined;
  const problems: string[] = [];

  let secret = env.RD_TURN_SECRET;
  if (secret !== undefined && secret.length < TURN_SECRET_MIN_CHARS)
    problems.push(
      `RD_TURN_SECRET: must be at least ${TURN_SECRET_MIN_CHARS} characters; generate one with: openssl rand -hex 32`,
    );
  // Workers elsewhere must know the secret too, so only an embedded worker can have one made up.
  if (secret === undefined && env.SIGNAL_EMBEDDED === "false")
    problems.push(
      "RD_TURN_SECRET: set it (openssl rand -hex 32) to the same value here and on every signaling worker",
    );

  let relay: Pick<CoturnOptions, "minRelayPort" | "maxRelayPort"> = {};
  if (env.RD_TURN_RELAY_PORTS) {
    const [min, max] = env.RD_TURN_RELAY_PORTS.split("-").map(Number) as [number, number];
    if (min < 1 || max > 65535 || min > max)
      problems.push("RD_TURN_RELAY_PORTS: must be low-high within 1-65535, e.g. 49152-65535");
    else relay = { minRelayPort: min, maxRelayPort: max };
  }

  const urls = env.RD_TURN_URLS?.split(",")
    .map((u) => u.trim())
    .filter(Boolean);
  for (const url of urls ?? []) {
    if (!iceServerUrl.safeParse(url).success)
      problems.push(`RD_TURN_URLS: "${url}" is not a turn:, turns:, stun: or stuns: URI`);
  }

  // The dashboard's own reach decides the relay's: this machine only, or every interface.
  const local = LOOPBACK.has(env.HOST);
  const publicHost = env.ORIGIN ? new URL(env.ORIGIN).hostname : undefined;
  if (!local && !urls?.length && !publicHost)
    problems.push(
      `RD_TURN_URLS: HOST=${env.HOST} lets other machines in, so say where they reach the relay, e.g. turn:203.0.113.5:${env.RD_TURN_PORT}?transport=udp (or set ORIGIN)`,
    );

  if (problems.length) throw new Error(`Invalid TURN settings:\n${problems.map((p) => `  ${p}`).join("\n")}`);
  const generatedSecret = secret === undefined;
  secret ??= randomBytes(32).toString("hex");
  return {
    coturn: { port: env.RD_TURN_PORT, secret, listenIp: local ? "127.0.0.1" : "0.0.0.0", ...relay },
    urls: urls?.length
      ? urls
      : !local && publicHost
        ? // URL.hostname keeps an IPv6 address's brackets, as a TURN URI wants them.
          [`turn:${publicHost}:${env.RD_TURN_PORT}?transport=udp`]
        : undefined,
    generatedSecret,
  };
}
