/** @rd/db: schema, client factory, migrations and the audit chain. */
export * from "./schema.ts";
export {
  createDb,
  defaultMigrationsFolder,
  type Database,
  type DbHandle,
  type DbOptions,
  type Executor,
} from "./client.ts";
export {
  appendEvent,
  verifyChain,
  eventHash,
  GENESIS_HASH,
  type NewEvent,
  type ChainVerification,
} from "./audit.ts";
export { canonicalJson } from "./canonical-json.ts";
export { databaseError, UNIQUE_VIOLATION, type DatabaseError } from "./errors.ts";
export { transitionSession, SessionNotFound, TRANSITION_EVENTS, type TransitionOptions } from "./sessions.ts";
export { CONTROL_CHANNEL, notifyControl, parseControlNotice, type ControlNotice } from "./control-feed.ts";
export {
  answerParticipant,
  changeControl,
  EndRefused,
  endSessionFor,
  IllegalControlChange,
  joinAsCandidate,
  joinSession,
  JoinRefused,
  leaveSession,
  leftReason,
  openSessionsOfAgent,
  participantAway,
  participantConnected,
  participantDisconnected,
  ParticipantNotFound,
  participantsSnapshot,
  participantWithSession,
  revokeDeskLinkParticipants,
  revokeUser,
  stopQuietly,
  sweepInterrupted,
  touchParticipants,
  touchSessionAgents,
  type ControlRequest,
  type JoinOptions,
} from "./participants.ts";
export {
  deskEvent,
  DeskExtendRefused,
  DeskNotFound,
  DESK_TRANSITION_EVENTS,
  extendDesk,
  IllegalDeskTransition,
  lockDesk,
  sweepDeskExpiry,
  transitionDesk,
  type DeskTransitionOptions,
} from "./desks.ts";
