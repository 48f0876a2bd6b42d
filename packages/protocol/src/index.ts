/** @rd/protocol: the contracts shared by the dashboard, the API, the signaling worker and the agent. */
export * from "./state-table.ts";
export * from "./session-state.ts";
export * from "./participants.ts";
export * from "./audit-events.ts";
export * from "./recording-policy.ts";
export * from "./signaling.ts";
export * from "./turn-credentials.ts";
export * from "./datachannel.ts";
export * from "./token-bucket.ts";
export * from "./desk-state.ts";
export * from "./desk-template.ts";
export * from "./screen-tiles.ts";
