/**
 * PGlite's file layer for a data directory on disk, writing every file and directory owner-only.
 * PGlite writes through Emscripten's NODEFS, which sets the mode of what it creates itself: 0666
 * for the thousand files it unpacks on first start, and whatever the in-WebAssembly postgres asks
 * for later under Emscripten's own umask (022), so the process umask never reaches them. Here the
 * group and other bits are masked off every mode that layer creates or sets.
 */
import type { PGlite } from "@electric-sql/pglite";
import { NodeFS } from "@electric-sql/pglite/nodefs";

const GROUP_AND_OTHERS = 0o077;
const wrapped = Symbol("rd.ownerOnly");

type Op = (...args: never[]) => unknown;
interface EmscriptenNodeFs {
  [wrapped]?: true;
  node_ops: { mknod?: Op; setattr?: Op };
  stream_ops: { setattr?: Op };
}
type InitOptions = Parameters<NodeFS["init"]>[1];

export class PrivateNodeFS extends NodeFS {
  override async init(pg: PGlite, options: InitOptions) {
    const result = await super.init(pg, options);
    // First, so the directory is mounted (by NodeFS's own step) with the masking in place.
    result.emscriptenOpts.preRun = [
      (mod) => ownerOnly(mod.NODEFS as unknown as EmscriptenNodeFs),
      ...(result.emscriptenOpts.preRun ?? []),
    ];
    return result;
  }
}

function ownerOnly(nodefs: EmscriptenNodeFs): void {
  if (nodefs[wrapped]) return;
  const { node_ops, stream_ops } = nodefs;
  const { mknod, setattr } = node_ops;
  const streamSetattr = stream_ops.setattr;
  // A PGlite whose file layer changed shape must not quietly write open files again.
  if (!mknod || !setattr || !streamSetattr) {
    throw new Error("PGlite's NODEFS changed: cannot keep the data directory owner-only");
  }
  const mask = (attr: { mode?: number }) =>
    attr.mode == null ? attr : { ...attr, mode: attr.mode & ~GROUP_AND_OTHERS };
  node_ops.mknod = ((parent: unknown, name: string, mode: number, dev: number) =>
    (mknod as (...a: unknown[]) => unknown)(parent, name, mode & ~GROUP_AND_OTHERS, dev)) as Op;
  node_ops.setattr = ((node: unknown, attr: { mode?: number }) =>
    (setattr as (...a: unknown[]) => unknown)(node, mask(attr))) as Op;
  stream_ops.setattr = ((stream: unknown, attr: { mode?: number }) =>
    (streamSetattr as (...a: unknown[]) => unknown)(stream, mask(attr))) as Op;
  nodefs[wrapped] = true;
}
