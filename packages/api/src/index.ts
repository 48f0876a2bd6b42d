/** @rd/api: the tRPC routers, their context, and the services the dashboard calls outside tRPC. */
export { appRouter, createCaller, type AppRouter } from "./root.ts";
export { describeIssues, type Context, type FieldIssue } from "./trpc.ts";
export {
  findReviewableSession,
  reviewableSession,
  segmentForReview,
  type SegmentLookup,
} from "./routers/recordings.ts";
export { emailInput, passwordInput } from "./routers/users.ts";
export { auditExportInput, type AuditExportInput } from "./routers/events.ts";
export { needsSetup, setupFirstAdmin, type FirstAdmin } from "./services/setup.ts";
export {
  createEnrollmentCode,
  enrollAgent,
  type AgentInfo,
  type EnrollResult,
} from "./services/enrollment.ts";
export {
  ssoProviderForEmail,
  ssoProviderOf,
  ssoRequired,
  userForSsoIdentity,
  type SsoProvider,
  type SsoUserResult,
} from "./services/sso.ts";
export {
  claimLink,
  resolveLink,
  type CandidateDesk,
  type ClaimedLink,
  type DeskLinkView,
  type LinkRefused,
  type ResolvedLink,
} from "./services/desk-links.ts";
export { enterDesk, type CandidateEntry } from "./services/candidate-session.ts";
export { DeskHost, parseDeskPool, type DeskHostOptions } from "./desk-host/host.ts";
