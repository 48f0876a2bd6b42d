/** Names of audit events, shared by the writers (API, worker, agent) and the dashboard's timeline. */
export const AUDIT_EVENT_LABELS = {
  tenant_created: "Workspace created",
  user_created: "User created",
  user_deactivated: "User deactivated",
  user_reactivated: "User reactivated",
  user_signed_in: "Signed in",
  user_signed_out: "Signed out",
  password_changed: "Password changed",
  password_reset: "Password reset by an admin",
  two_factor_enabled: "Two-factor sign-in turned on",
  two_factor_disabled: "Two-factor sign-in turned off",
  recovery_code_used: "Recovery code used",
  tenant_security_changed: "Sign-in policy changed",
  auth_failed: "Sign-in failed",
  auth_throttled: "Sign-in throttled",
  enrollment_refused: "Enrollment refused",
  ticket_refused: "Signaling ticket refused",
  agent_credential_refused: "Agent credential refused",
  enrollment_code_created: "Enrollment code created",
  agent_enrolled: "Agent enrolled",
  agent_renamed: "Agent renamed",
  agent_consent_policy_changed: "Consent policy changed",
  agent_removed: "Agent removed",
  agent_online: "Agent came online",
  agent_offline: "Agent went offline",
  session_requested: "Session requested",
  session_consent_requested: "Consent requested",
  session_started: "Session started",
  session_denied: "Session denied",
  session_failed: "Session failed",
  session_ended: "Session ended",
  session_resumed: "Signaling restored",
  participant_joined: "Participant joined",
  participant_admitted: "Participant admitted",
  participant_refused: "Participant refused",
  participant_left: "Participant left",
  control_requested: "Control requested",
  control_granted: "Control handed over",
  control_released: "Control released",
  control_taken: "Control taken",
  clipboard_allowed: "Clipboard transfer allowed",
  clipboard_blocked: "Clipboard transfer blocked",
  desk_created: "Desk created",
  desk_provisioning: "Desk being prepared",
  desk_ready: "Desk ready",
  desk_claimed: "Candidate arrived at the desk",
  desk_expiring: "Desk expiry warning",
  desk_extended: "Desk extended",
  desk_expired: "Desk expired",
  desk_terminated: "Desk terminated",
  desk_failed: "Desk failed",
  desk_link_revoked: "Desk link revoked",
  desk_link_rotated: "Desk link replaced",
  desk_link_claimed: "Desk link opened",
  desk_link_taken_over: "Desk link moved to another browser",
  desk_link_pin_failed: "Wrong desk PIN",
  desk_link_refused: "Desk link refused",
  recording_started: "Recording started",
  recording_stopped: "Recording stopped",
  recording_segment: "Recording segment stored",
  recording_deleted: "Recording deleted (retention)",
  recording_store_failed: "Recording storage failed",
  agent_recording_policy_changed: "Recording policy changed",
} as const;

export type AuditEventType = keyof typeof AUDIT_EVENT_LABELS;

/** Refusals and throttling: what an admin looks at when someone may be attacking the workspace. */
export const SECURITY_EVENT_TYPES = [
  "auth_failed",
  "auth_throttled",
  "enrollment_refused",
  "ticket_refused",
  "agent_credential_refused",
  "desk_link_pin_failed",
  "desk_link_refused",
] as const satisfies readonly AuditEventType[];

/** Changes to how people sign in. */
export const ACCOUNT_EVENT_TYPES = [
  "user_signed_in",
  "password_changed",
  "password_reset",
  "two_factor_enabled",
  "two_factor_disabled",
  "recovery_code_used",
  "tenant_security_changed",
] as const satisfies readonly AuditEventType[];

/** A readable label for any event type, including ones this build does not know yet. */
export function auditEventLabel(type: string): string {
  return (AUDIT_EVENT_LABELS as Record<string, string>)[type] ?? type.replaceAll("_", " ");
}
