/** Short notices in the viewer's corner: a few at a time, each gone after a while or when dismissed. */
export interface Toast {
  id: number;
  level: "info" | "warning";
  message: string;
}

/** How long a notice stays; older ones give way, so a burst never covers the screen. */
const TOAST_MS = 6000;
const MAX_TOASTS = 4;

export class ToastList {
  items = $state<Toast[]>([]);
  private nextId = 0;

  push(level: Toast["level"], message: string): void {
    const id = ++this.nextId;
    this.items = [...this.items, { id, level, message }].slice(-MAX_TOASTS);
    setTimeout(() => this.dismiss(id), TOAST_MS);
  }

  dismiss(id: number): void {
    this.items = this.items.filter((t) => t.id !== id);
  }
}
