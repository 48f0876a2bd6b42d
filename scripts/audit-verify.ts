/**
 * `npm run audit:verify -- FILE [--key FINGERPRINT]...`: verifies an audit export (JSON Lines from
 * the dashboard's Export audit) offline, with no database: every event's hash, every link, every
 * signed head's Ed25519 signature. Prints "OK: N events, M signed heads, key <fingerprint>" (compare
 * that fingerprint with the one on the dashboard's audit page, or pin it with --key), or "FAILED at
 * line L: <what is wrong>" and exits 1. Bad usage or an unreadable file exits 2. FILE `-` is stdin.
 */
import { open } from "node:fs/promises";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { verifyExport } from "@rd/db/audit-verify";

const USAGE = "usage: npm run audit:verify -- FILE [--key FINGERPRINT]...   (FILE - reads stdin)";

function usage(problem: string): never {
  process.stderr.write(`${problem}\n${USAGE}\n`);
  process.exit(2);
}

const files: string[] = [];
const trustedKeyIds: string[] = [];
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const arg = args[i]!;
  if (arg === "--help" || arg === "-h") {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  } else if (arg === "--key") {
    const key = args[++i];
    if (!key || !/^[0-9a-f]{64}$/.test(key)) usage("--key takes a key fingerprint: 64 lowercase hex digits.");
    trustedKeyIds.push(key);
  } else if (arg.startsWith("-") && arg !== "-") {
    usage(`unknown option ${arg}`);
  } else {
    files.push(arg);
  }
}
if (files.length !== 1) usage(files.length === 0 ? "Give the export file to verify." : "Give one file.");
const file = files[0]!;

let input: Readable;
if (file === "-") {
  input = process.stdin;
} else {
  try {
    const handle = await open(file, "r");
    if ((await handle.stat()).isDirectory()) {
      await handle.close();
      usage(`${file} is a directory, not an export file.`);
    }
    input = handle.createReadStream({ encoding: "utf8" });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : (error as Error).message;
    usage(`Cannot read ${file}: ${why}.`);
  }
}

let result;
try {
  result = await verifyExport(createInterface({ input, crlfDelay: Infinity }), {
    ...(trustedKeyIds.length > 0 ? { trustedKeyIds } : {}),
  });
} catch (error) {
  usage(`Cannot read ${file}: ${(error as Error).message}.`);
}

if (result.ok) {
  const keys =
    result.keyIds.length === 0
      ? ""
      : `, ${result.keyIds.length === 1 ? "key" : "keys"} ${result.keyIds.join(", ")}`;
  process.stdout.write(`OK: ${result.events} events, ${result.heads} signed heads${keys}\n`);
} else {
  process.stdout.write(`FAILED at line ${result.line}: ${result.message}\n`);
  process.exitCode = 1;
}
