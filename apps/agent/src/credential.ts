/**
 * The agent's credential: what enrollment returned (agent id, secret, where to connect), kept in
 * one JSON file readable only by its owner (0600, in a 0700 directory).
 */
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";

export const credentialSchema = z.object({
  server: z.url(),
  agentId: z.uuid(),
  secret: z.string().min(16),
  signalUrl: z.url(),
  name: z.string(),
  enrolledAt: z.string(),
});
export type Credential = z.infer<typeof credentialSchema>;

export class NotEnrolled extends Error {}

export async function readCredential(file: string): Promise<Credential> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new NotEnrolled(
        `this agent is not enrolled (no ${file}). Run: agent enroll --server URL --code CODE`,
      );
    }
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${file} is not valid JSON; enroll again to replace it`);
  }
  const parsed = credentialSchema.safeParse(json);
  if (!parsed.success) throw new Error(`${file} is incomplete or damaged; enroll again to replace it`);
  return parsed.data;
}

/**
 * Writes atomically (temp file + rename), so a crash never leaves half a credential. The directory
 * is the agent's own: one that already existed, more open, is tightened too.
 */
export async function writeCredential(file: string, credential: Credential): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await chmod(path.dirname(file), 0o700);
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(credential, null, 2)}\n`, { mode: 0o600 });
  await chmod(temp, 0o600);
  await rename(temp, file);
}
