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
  eventHashInput,
  GENESIS_HASH,
  DEFAULT_UNSIGNED_GRACE_MS,
  type NewEvent,
  type ChainBreakReason,
  type ChainVerification,
  type SignedHeadRef,
  type VerifyOptions,
} from "./audit.ts";
export {
  headMessage,
  keyFingerprint,
  loadOrCreateSigningKey,
  registerSigningKey,
  signHead,
  SIGNING_KEY_FILE,
  verifyHeadSignature,
  type AuditSigningKey,
  type HeadClaim,
} from "./audit-signing.ts";
export { AuditHeadSigner, type AuditHeadSignerOptions, type SignerLog } from "./audit-head-signer.ts";
export {
  AuditScopeNotFound,
  EXPORT_FORMAT,
  openAuditExport,
  type AuditExport,
  type AuditExportScope,
} from "./audit-export.ts";
export { verifyExport, type ExportProblem, type ExportVerification } from "./audit-offline-verify.ts";
export { canonicalJson } from "./canonical-json.ts";
export { databaseError, UNIQUE_VIOLATION, type DatabaseError } from "./errors.ts";
export {
  openSession,
  transitionSession,
  SessionNotFound,
  TRANSITION_EVENTS,
  type TransitionOptions,
} from "./sessions.ts";
export { CONTROL_CHANNEL, notifyControl, parseControlNotice, type ControlNotice } from "./control-feed.ts";
export {
  answerParticipant,
  changeControl,
  EndRefused,
  endSessionFor,
  IllegalControlChange,
  joinAsCandidate,
  joinAsRecorder,
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
export {
  addSegment,
  claimRecording,
  expiredRecordings,
  finishRecording,
  markRecordingDeleted,
  RECORDER_LEASE_MS,
  RecordingRefused,
  renewRecording,
  requestStop,
  sessionsOwedRecording,
  setRecordingParticipant,
  startRecording,
  sweepOrphanRecordings,
  type FinishedState,
  type StoredSegment,
} from "./recordings.ts";
