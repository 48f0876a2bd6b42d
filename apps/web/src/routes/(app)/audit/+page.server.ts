/**
 * The tenant's audit log for admins: 50 events at a time, newest first, older via ?before=<seq>;
 * with the audit signing key's fingerprint and the last signed chain head.
 */
import { ACCOUNT_EVENT_TYPES, SECURITY_EVENT_TYPES } from "@rd/protocol";
import { error } from "@sveltejs/kit";
import type { PageServerLoad } from "./$types";
import { api, load as call } from "$lib/server/api.ts";

/** Events per page: enough to scan a busy hour at a glance. */
const PAGE_SIZE = 50;

/** The ?show= filters: everything, refusals and throttling, or sign-in changes. */
const FILTERS = {
  all: undefined,
  security: [...SECURITY_EVENT_TYPES],
  accounts: [...ACCOUNT_EVENT_TYPES],
} as const;
type Filter = keyof typeof FILTERS;

export const load: PageServerLoad = async (event) => {
  if (event.locals.user?.role !== "admin")
    error(403, { message: "Only administrators can see the audit log." });
  const before = Number.parseInt(event.url.searchParams.get("before") ?? "", 10);
  const requested = event.url.searchParams.get("show") ?? "all";
  const show: Filter = requested in FILTERS ? (requested as Filter) : "all";
  const types = FILTERS[show];
  const caller = api(event);
  const [result, signing] = await Promise.all([
    call(
      caller.events.byTenant({
        limit: PAGE_SIZE,
        before: Number.isSafeInteger(before) && before > 0 ? before : undefined,
        types: types ? [...types] : undefined,
      }),
    ),
    call(caller.events.signing()),
  ]);
  return {
    signing: {
      currentKeyId: signing.currentKeyId,
      lastSignedHead: signing.lastSignedHead,
      /** Older keys that signed this tenant's heads: still needed to verify those heads. */
      earlierKeys: signing.keys
        .filter((key) => key.id !== signing.currentKeyId && key.lastUsedAt !== null)
        .map((key) => ({ id: key.id, lastUsedAt: key.lastUsedAt })),
    },
    events: result.items,
    nextCursor: result.nextCursor,
    paged: event.url.searchParams.has("before"),
    show,
  };
};
