/** Identity of an opened HID device. */
export interface HidPortInfo {
  readonly path: string;
  readonly serial: string;
  readonly vendorId: number;
  readonly productId: number;
}

/**
 * The seam between the transport and the physical world: one 64-byte report in each direction
 * at a time. Implementations: `NodeHidPort` (real or stand-in node-hid), `RecordingPort`,
 * `ReplayPort`, and test fakes.
 */
export interface HidPort {
  readonly info: HidPortInfo;
  /** Sends one 64-byte report (no report-id byte). */
  write(report: Uint8Array): Promise<void>;
  /** Resolves one 64-byte report, or `undefined` when nothing arrived within `timeoutMs`. */
  read(timeoutMs: number): Promise<Uint8Array | undefined>;
  close(): Promise<void>;
}
