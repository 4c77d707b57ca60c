/**
 * Every way a report or message can be malformed. Decoders throw only `ProtocolError`; any
 * other exception escaping a decoder is a bug (the fuzz properties check this).
 */
export const ProtocolErrorCode = {
  /** A report that is not exactly REPORT_SIZE bytes. */
  BAD_REPORT_SIZE: "PROTOCOL_BAD_REPORT_SIZE",
  /** A report on a channel other than the one expected. */
  WRONG_CHANNEL: "PROTOCOL_WRONG_CHANNEL",
  /** A continuation packet out of order, or one with no init packet before it. */
  BAD_SEQUENCE: "PROTOCOL_BAD_SEQUENCE",
  /** An init packet declaring more than MAX_MESSAGE_SIZE bytes. */
  LENGTH_TOO_LARGE: "PROTOCOL_LENGTH_TOO_LARGE",
  /** An init packet while a message was still being reassembled. */
  UNEXPECTED_INIT: "PROTOCOL_UNEXPECTED_INIT",
  /** A message body shorter than its fields, or with bytes left over. */
  TRUNCATED: "PROTOCOL_TRUNCATED",
  /** A field with a value outside its range (unknown enum, oversized client, id over 2^53). */
  BAD_FIELD: "PROTOCOL_BAD_FIELD",
  /** A frame command this side does not know. */
  UNKNOWN_FRAME_COMMAND: "PROTOCOL_UNKNOWN_FRAME_COMMAND",
  /** A response whose signature does not verify against the key's public key (rule K9). */
  BAD_SIGNATURE: "PROTOCOL_BAD_SIGNATURE",
  /** A response that answers another request (nonce or command differs). */
  MISMATCHED_RESPONSE: "PROTOCOL_MISMATCHED_RESPONSE",
  /** A message too large to be sent. */
  MESSAGE_TOO_LARGE: "PROTOCOL_MESSAGE_TOO_LARGE",
  /** A license update file that does not start with the update file's magic and version, or is too large to be one. */
  BAD_UPDATE_FILE: "PROTOCOL_BAD_UPDATE_FILE",
} as const;
export type ProtocolErrorCode = (typeof ProtocolErrorCode)[keyof typeof ProtocolErrorCode];

export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ProtocolErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = "ProtocolError";
    this.code = code;
    this.details = details;
  }
}
