/**
 * The X screen's current size, asked of the server each time. libnut reads the size Xlib noted
 * when it connected and never updates it, so after a resolution change it would keep reporting the
 * old one and every click would land off target.
 *
 * Asked over one X connection kept open (the root window's geometry follows RandR resizes): it
 * was `xrandr --current`, a process started every five seconds for as long as the agent ran.
 */
import { rootSize, XConnection } from "../capture/x11/x-connection.ts";
import { xAuthorityFor } from "../child-env.ts";

export class XScreenSize {
  private readonly display: string;
  private connection?: Promise<XConnection>;

  constructor(display: string) {
    this.display = display;
  }

  /** The root window's size now; connects on first use, and again after the connection was lost. */
  async read(): Promise<{ width: number; height: number }> {
    return rootSize(await this.connect());
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
