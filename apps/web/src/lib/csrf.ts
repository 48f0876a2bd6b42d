/** The CSRF cookie's value, which every state-changing request echoes in `x-csrf-token` (hooks.server.ts). */
export function csrfToken(): string {
  const match = document.cookie.match(/(?:^|;\s*)rd_csrf=([^;]+)/);
  return match ? decodeURIComponent(match[1]!) : "";
}
