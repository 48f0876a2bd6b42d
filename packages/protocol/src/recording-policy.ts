/**
 * Whether an agent's sessions are recorded, set per agent (a desk's from its template): `never`,
 * `always` (from the start, to the end), or `choice` (a technician presses Record).
 */
export const RECORDING_POLICIES = ["never", "always", "choice"] as const;
export type RecordingPolicy = (typeof RECORDING_POLICIES)[number];
