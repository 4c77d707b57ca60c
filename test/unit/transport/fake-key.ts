import {
  BROADCAST_CID,
  decodeInitRequest,
  encodeFrames,
  encodeInitResponse,
  FrameCommand,
  type FrameMessage,
  MessageAssembler,
  PROTOCOL_VERSION,
} from "../../../src/protocol/index.js";
import { KeyDisconnected } from "../../../src/transport/errors.js";
import type { HidPort, HidPortInfo } from "../../../src/transport/hid-port.js";

export const FAKE_INFO: HidPortInfo = { path: "fake:1", serial: "FAKE-1", vendorId: 0x1209, productId: 0x0001 };

/**
 * A HidPort whose other end is a script: each complete message written is handed to `onMessage`,
 * which answers by `send`ing reports. Reads wait on a timer like node-hid's read(timeout).
 */
export class FakePort implements HidPort {
  readonly info = FAKE_INFO;
  readonly written: Uint8Array[] = [];
  closed = false;
  private unplugged = false;
  private readonly inbox: Uint8Array[] = [];
  private waiter:
    | { resolve(report: Uint8Array | undefined): void; reject(error: unknown): void; timer: NodeJS.Timeout }
    | undefined;
  private readonly assembler = new MessageAssembler();
  /** Called for every complete message the host sends. */
  onMessage: (message: FrameMessage) => void = () => {};
  /** Called for every report written, before reassembly (for faults at a report boundary). */
  onReport: (report: Uint8Array, index: number) => void = () => {};

  async write(report: Uint8Array): Promise<void> {
    if (this.unplugged || this.closed) throw new KeyDisconnected("fake unplugged");
    const copy = Uint8Array.from(report);
    this.written.push(copy);
    this.onReport(copy, this.written.length - 1);
    let message: FrameMessage | undefined;
    try {
      message = this.assembler.push(copy);
    } catch {
      this.assembler.reset();
      return;
    }
    if (message !== undefined) this.onMessage(message);
  }

  read(timeoutMs: number): Promise<Uint8Array | undefined> {
    if (this.unplugged || this.closed) return Promise.reject(new KeyDisconnected("fake unplugged"));
    const next = this.inbox.shift();
    if (next !== undefined) return Promise.resolve(next);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.waiter = { resolve, reject, timer };
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake(undefined);
  }

  /** Queues reports for the host to read. */
  send(...reports: Uint8Array[]): void {
    for (const report of reports) {
      if (this.waiter !== undefined) {
        const waiter = this.waiter;
        this.waiter = undefined;
        clearTimeout(waiter.timer);
        waiter.resolve(report);
      } else {
        this.inbox.push(report);
      }
    }
  }

  sendMessage(cid: number, cmd: number, payload: Uint8Array): void {
    this.send(...encodeFrames(cid, cmd, payload).map((report) => Uint8Array.from(report)));
  }

  /** Device gone: the pending read and everything after fail like node-hid does. */
  unplug(): void {
    this.unplugged = true;
    if (this.waiter !== undefined) {
      const waiter = this.waiter;
      this.waiter = undefined;
      clearTimeout(waiter.timer);
      waiter.reject(new KeyDisconnected("fake unplugged"));
    }
  }

  private wake(report: Uint8Array | undefined): void {
    if (this.waiter === undefined) return;
    const waiter = this.waiter;
    this.waiter = undefined;
    clearTimeout(waiter.timer);
    waiter.resolve(report);
  }

  /** Written messages of one frame command (after reassembly). */
  messagesOf(cmd: number): FrameMessage[] {
    const assembler = new MessageAssembler();
    const messages: FrameMessage[] = [];
    for (const report of this.written) {
      try {
        const message = assembler.push(report);
        if (message !== undefined && message.cmd === cmd) messages.push(message);
      } catch {
        assembler.reset();
      }
    }
    return messages;
  }
}

export const FAKE_CID = 0x01020304;

export interface FakeKeyBehaviour {
  protocolVersion?: number;
  cid?: number;
  /** Answer to a MSG; default: echo the payload. Return nothing to stay silent. */
  answer?: (message: FrameMessage, port: FakePort) => void;
}

/** Wires a FakePort to a minimal key: INIT echoes the nonce, MSG is answered by `answer` (echo by default). */
export function fakeKey(behaviour: FakeKeyBehaviour = {}): FakePort {
  const port = new FakePort();
  const cid = behaviour.cid ?? FAKE_CID;
  port.onMessage = (message) => {
    if (message.cid === BROADCAST_CID && message.cmd === FrameCommand.INIT) {
      const nonce = decodeInitRequest(message.payload);
      port.sendMessage(
        BROADCAST_CID,
        FrameCommand.INIT,
        encodeInitResponse({
          nonce,
          cid,
          protocolVersion: behaviour.protocolVersion ?? PROTOCOL_VERSION,
          firmwareVersion: "1.2.3",
          capabilities: 0x0f,
        }),
      );
      return;
    }
    if (message.cmd === FrameCommand.MSG) {
      if (behaviour.answer !== undefined) behaviour.answer(message, port);
      else port.sendMessage(message.cid, FrameCommand.MSG, message.payload);
    }
  };
  return port;
}
