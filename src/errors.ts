/**
 * Base class for every error a caller of keybridge can act on. Each subclass carries a stable
 * `code` (part of the public contract: the CLI, the HTTP API's problem+json bodies and the
 * library all expose it) and may carry structured `details` for machines.
 *
 * The protocol layer has its own `ProtocolError` (it imports nothing else of the project),
 * which has the same shape.
 */
export class KeybridgeError extends Error {
  readonly code: string;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: string, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options?.details;
  }
}

/** Anything with a stable string code: KeybridgeError and ProtocolError alike. */
export interface CodedError extends Error {
  readonly code: string;
}

export function isCodedError(value: unknown): value is CodedError {
  return value instanceof Error && typeof (value as { code?: unknown }).code === "string";
}
