/**
 * Something a source could not read or did not understand. Findings never stop the mode: the
 * last good picture is kept and the finding is shown (status, doctor) until its cause is gone.
 */
export type FindingCode =
  | "cmu-timeout"
  | "cmu-failed"
  | "cmu-garbage"
  | "config-unreadable"
  | "config-too-large"
  | "config-invalid-encoding"
  | "config-duplicate-section"
  | "config-malformed-line"
  | "config-registry-unreadable"
  | "tracking-dir-missing"
  | "tracking-dir-unreadable"
  | "tracking-file-unreadable"
  | "tracking-malformed-lines"
  | "tracking-oversized-lines"
  | "tracking-truncated"
  | "tracking-position-unreadable"
  | "tracking-position-unwritable"
  | "observations-unsaved"
  // The mode is on (codemeter.mode = on) and a part of CodeMeter is not found on this host.
  | "config-missing"
  | "cmu-missing"
  | "sticks-none";

export interface Finding {
  readonly code: FindingCode;
  readonly message: string;
  /** Where: a file, a directory, a registry key, a command. */
  readonly where?: string;
}
