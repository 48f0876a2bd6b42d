/**
 * The X screen's current size, asked of the server each time. libnut reads the size Xlib noted
 * when it connected and never updates it, so after a resolution change it would keep reporting the
 * old one and every click would land off target.
 *
 * Asked over one X connection kept open (the root window's geometry follows RandR resizes): it
 * was `xrandr --current`, a process started every five seconds for as long as the agent ran.
 */
import { u32s, XConnection } from "../capture/x11/x-connection.ts";
import { xAuthorityFor } from "../child-env.ts";

/** Core request opcode (X11 protocol, "Encoding::Requests"). */
const OP_GET_GEOMETRY = 14;

export class XScreenSize {
  private readonly display: string;
  private connection?: Promise<XConnection>;

  constructor(display: string) {
    this.display = display;
  }

  /** The root window's size now; connects on first use, and again after the connection was lost. */
  async read(): Promise<{ width: number; height: number }> {
    const x = await this.connect();
    const reply = await x.request(OP_GET_GEOMETRY, 0, u32s(x.setup.root));
    return { width: reply.readUInt16LE(16), height: reply.readUInt16LE(18) };
  }

  close(): void {
    void this.connection?.then(
      (x) => x.close(),
      () => {},
    );
    this.connection = undefined;
  }

  private connect(): Promise<XConnection> {
    if (this.connection) return this.connection;
    const opening = XConnection.connect(this.display, xAuthorityFor(this.display)).then((x) => {
      x.onClose = () => {
        if (this.connection === opening) this.connection = undefined;
      };
      return x;
    });
    opening.catch(() => {
      if (this.connection === opening) this.connection = undefined;
    });
    this.connection = opening;
    return opening;
  }
}
