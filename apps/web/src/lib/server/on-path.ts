/** Whether a command is installed, without a shell or a synchronous call (the server's event loop). */
import { constants } from "node:fs";
import { access } from "node:fs/promises";
import path from "node:path";

/** Whether `command` is an executable on PATH. */
export async function onPath(command: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter).filter(Boolean)) {
    try {
      await access(path.join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}
