/**
 * `npm run bench:auth`: sign-in under a guessing attack, on the real sign-in code and the embedded
 * database. Prints how many attempts reached the password hash (argon2id, the expensive part an
 * attacker wants to make us run) and how many were refused before it, beside the figures the
 * security review measured on the old code; then what one honest sign-in costs, and whether the
 * account's owner still gets in while a stranger hammers it. Asserts nothing.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createSignInLimits, hashPassword, signIn, type SignInResult } from "@rd/auth";
import { createDb, Tenants, Users } from "@rd/db";

const PASSWORD = "the-owners-password";
const dataDir = await mkdtemp(path.join(tmpdir(), "rd-bench-auth-"));
const database = createDb({ dataDir });
await database.migrate(path.resolve(import.meta.dirname, "../../drizzle"));
const [tenant] = await database.db.insert(Tenants).values({ name: "Bench" }).returning();
const passwordHash = await hashPassword(PASSWORD);
await database.db.insert(Users).values(
  Array.from({ length: 121 }, (_, i) => ({
    tenantId: tenant!.id,
    email: i === 0 ? "owner@bench.example" : `user${i}@bench.example`,
    name: `User ${i}`,
    role: "technician" as const,
    passwordHash,
  })),
);

const hashed = (results: SignInResult[]) => results.filter((r) => r.ok || r.reason !== "rate_limited").length;
const row = (label: string, ours: string, anchor: string) =>
  console.log(`${label.padEnd(58)} ${ours.padStart(14)}   ${anchor}`);

async function burst(attempts: { email: string; password: string; ip: string }[]) {
  const limits = createSignInLimits();
  const started = performance.now();
  const results = await Promise.all(attempts.map((a) => signIn(database.db, limits, a)));
  return { results, ms: performance.now() - started, limits };
}

console.log(`${"".padEnd(58)} ${"remote-desk".padStart(14)}   review of the old code`);

// 40 at once from one address at one account, the right password last.
const forty = await burst(
  Array.from({ length: 40 }, (_, i) => ({
    email: "owner@bench.example",
    password: i === 39 ? PASSWORD : `guess-${i}`,
    ip: "203.0.113.7",
  })),
);
row(
  "40 parallel (39 wrong, 1 right), one account: hashed",
  `${hashed(forty.results)} of 40`,
  "40 of 40, signed in",
);
row("  … the right one signed in", String(forty.results.some((r) => r.ok)), "true");

// 120 at once from one address at one account.
const oneAccount = await burst(
  Array.from({ length: 120 }, (_, i) => ({
    email: "owner@bench.example",
    password: `g${i}`,
    ip: "203.0.113.8",
  })),
);
row("120 parallel wrong, one account: hashed", `${hashed(oneAccount.results)} of 120`, "120 of 120");
row("  … wall time", `${oneAccount.ms.toFixed(0)} ms`, "");

// 120 at once from one address across 120 accounts (the per-address budget is 30).
const spread = await burst(
  Array.from({ length: 120 }, (_, i) => ({
    email: `user${i + 1}@bench.example`,
    password: "guess",
    ip: "203.0.113.9",
  })),
);
row("120 parallel wrong, 120 accounts: hashed", `${hashed(spread.results)} of 120`, "120 of 120");

// The same from 120 addresses of one IPv6 /64.
const ipv6 = await burst(
  Array.from({ length: 120 }, (_, i) => ({
    email: `user${i + 1}@bench.example`,
    password: "guess",
    ip: `2001:db8:7:7::${(i + 1).toString(16)}`,
  })),
);
row("120 parallel wrong, 120 addresses of one /64: hashed", `${hashed(ipv6.results)} of 120`, "120 of 120");

// While a stranger is throttled at the owner's account, the owner signs in from their own address.
const attack = createSignInLimits();
for (let i = 0; i < 10; i++) {
  await signIn(database.db, attack, { email: "owner@bench.example", password: `x${i}`, ip: "198.51.100.1" });
}
const strangerRefused = await signIn(database.db, attack, {
  email: "owner@bench.example",
  password: PASSWORD,
  ip: "198.51.100.1",
});
const owner = await signIn(database.db, attack, {
  email: "owner@bench.example",
  password: PASSWORD,
  ip: "192.0.2.5",
});
row("owner signs in from elsewhere while the account is attacked", String(owner.ok), "false (15 min lock)");
row(
  "  … the attacker's address, even with the right password",
  strangerRefused.ok ? "signed in" : "refused",
  "",
);

// One honest sign-in, end to end (argon2id verify dominates).
const times: number[] = [];
for (let i = 0; i < 15; i++) {
  const started = performance.now();
  await signIn(database.db, createSignInLimits(), {
    email: "owner@bench.example",
    password: PASSWORD,
    ip: "192.0.2.6",
  });
  times.push(performance.now() - started);
}
times.sort((a, b) => a - b);
row("one honest sign-in: p50 / max", `${times[7]!.toFixed(0)} / ${times[14]!.toFixed(0)} ms`, "");

await database.close();
await rm(dataDir, { recursive: true, force: true });
