/** Names of audit events, shared by the writers (API, worker, agent) and the dashboard's timeline. */
export const AUDIT_EVENT_LABELS = {
  tenant_created: "Workspace created",
  user_created: "User created",
  user_deactivated: "User deactivated",
  user_reactivated: "User reactivated",
  user_signed_in: "Signed in",
  user_signed_out: "Signed out",
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
} as const;

export type AuditEventType = keyof typeof AUDIT_EVENT_LABELS;

/** A readable label for any event type, including ones this build does not know yet. */
export function auditEventLabel(type: string): string {
  return (AUDIT_EVENT_LABELS as Record<string, string>)[type] ?? type.replaceAll("_", " ");
}
