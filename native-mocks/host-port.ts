import { VirtualKeyError, VirtualKeyErrorCode } from "./errors.js";

/** hidraw keeps this many unread input reports per open file and drops the oldest beyond it. */
export const INPUT_QUEUE_LIMIT = 64;

interface Reader {
  readonly resolve: (report: Uint8Array | undefined) => void;
  readonly reject: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * The host's end of one open device, like an open hidraw file: its own queue of input reports,
 * reads that wait with a timeout, writes handed to the device. After an unplug every pending and
 * later call fails with DEVICE_UNPLUGGED; after close, with PORT_CLOSED.
 */
export class HostPort {
  private readonly queue: Uint8Array[] = [];
  private readonly readers: Reader[] = [];
  private failure: VirtualKeyError | undefined;

  constructor(
    private readonly sink: (report: Uint8Array) => Promise<void> | undefined,
    private readonly onClose: (port: HostPort) => void,
  ) {}

  get closed(): boolean {
    return this.failure !== undefined;
  }

  /** Sends one 64-byte report to the device; resolves when the device has taken it. */
  write(report: Uint8Array): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    try {
      return this.sink(report) ?? Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * The next input report, or undefined when `timeoutMs` passes first (0: only what is queued;
   * undefined or negative: wait without limit).
   */
  read(timeoutMs?: number): Promise<Uint8Array | undefined> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (timeoutMs === 0) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      const reader: Reader = { resolve, reject, timer: undefined };
      if (timeoutMs !== undefined && timeoutMs > 0) {
        reader.timer = setTimeout(() => {
          const index = this.readers.indexOf(reader);
          if (index >= 0) this.readers.splice(index, 1);
          resolve(undefined);
        }, timeoutMs);
      }
      this.readers.push(reader);
    });
  }

  /** Device side: one input report arrives. */
  deliver(report: Uint8Array): void {
    if (this.failure !== undefined) return;
    const reader = this.readers.shift();
    if (reader !== undefined) {
      if (reader.timer !== undefined) clearTimeout(reader.timer);
      reader.resolve(report);
      return;
    }
    if (this.queue.length >= INPUT_QUEUE_LIMIT) this.queue.shift();
    this.queue.push(report);
  }

  /** Device side: the device is gone. */
  fail(error: VirtualKeyError): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    this.queue.length = 0;
    for (const reader of this.readers.splice(0)) {
      if (reader.timer !== undefined) clearTimeout(reader.timer);
      reader.reject(error);
    }
  }

  close(): void {
    if (this.failure !== undefined) return;
    this.fail(new VirtualKeyError(VirtualKeyErrorCode.PORT_CLOSED, "device has been closed"));
    this.onClose(this);
  }
}
