/**
 * Short notices in the viewer's corner: a few at a time, each gone after a while or when dismissed.
 * A notice is the viewer's own or comes from the remote machine, whose text whoever sits there
 * chooses; the two are kept apart so the second is always shown as the remote machine's words.
 */
export interface Toast {
  id: number;
  level: "info" | "warning";
  message: string;
  /** The text was chosen by the remote machine (its agent's `control/notice`), not by this dashboard. */
  fromRemote: boolean;
}

/** How long a notice stays; older ones give way, so a burst never covers the screen. */
const TOAST_MS = 6000;
const MAX_TOASTS = 4;

export class ToastList {
  items = $state<Toast[]>([]);
  private nextId = 0;

  /** A notice of the viewer's own. */
  push(level: Toast["level"], message: string): void {
    this.add({ level, message, fromRemote: false });
  }

  /** A notice whose words come from the remote machine: shown labelled as such. */
  pushFromRemote(level: Toast["level"], message: string): void {
    this.add({ level, message, fromRemote: true });
  }

  dismiss(id: number): void {
    this.items = this.items.filter((t) => t.id !== id);
  }

  private add(toast: Omit<Toast, "id">) {
    const id = ++this.nextId;
    this.items = [...this.items, { id, ...toast }].slice(-MAX_TOASTS);
    setTimeout(() => this.dismiss(id), TOAST_MS);
  }
}
