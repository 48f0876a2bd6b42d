/** The sign-in redirect target, checked: the one place `?next=` is trusted. */
/**
 * Where `?next=` may send someone after sign-in: a path on this origin, never another site. The
 * value is resolved the way the browser will resolve it (so `/\evil.example`, `/\tevil…` and
 * other tricks a prefix check misses land on their real target) and kept only if that target is
 * still this origin.
 */
export function safeNext(next: string | null, origin = "http://dashboard.invalid"): string {
  if (!next || !next.startsWith("/")) return "/agents";
  try {
    const target = new URL(next, origin);
    const path = target.pathname + target.search + target.hash;
    // A path that itself starts with two slashes (from "/.//evil") would be read as another host.
    if (target.origin !== new URL(origin).origin || /^\/[/\\]/.test(path)) return "/agents";
    return path;
  } catch {
    return "/agents";
  }
}
