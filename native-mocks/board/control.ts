import type { KeySnapshot } from "../firmware/firmware.js";
import type { GadgetPort } from "../gadget-port.js";

/**
 * Test controls of a served key, answered only when the serving process was started with an IPC
 * channel and asked for them (`keybridge key serve --ipc-control`): the VM's checks move the key's
 * clock, reboot it and hold requests, which nobody can do to a key in service. Messages:
 * `{id, op: "advanceClock", ms} | {id, op: "reboot"} | {id, op: "hold", durationMs, keepalive?, count?} |
 * {id, op: "snapshot"}`, answered `{id, ok, result?, error?}`.
 */
export interface ControlMessage {
  readonly id: number;
  readonly op: string;
  readonly ms?: number;
  readonly durationMs?: number;
  readonly keepalive?: number;
  readonly count?: number;
}

export interface ControlReply {
  readonly id: number;
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: string;
}

export function answerControl(port: GadgetPort, message: ControlMessage): ControlReply {
  let result: unknown;
  try {
    switch (message.op) {
      case "advanceClock":
        port.advanceClock(numberField(message.ms, "ms"));
        break;
      case "reboot":
        port.reboot();
        break;
      case "hold":
        port.holdNextRequests(
          {
            durationMs: numberField(message.durationMs, "durationMs"),
            ...(message.keepalive === undefined ? {} : { keepalive: message.keepalive as 1 | 2 }),
          },
          message.count ?? 1,
        );
        break;
      case "snapshot":
        result = printableSnapshot(port.snapshot());
        break;
      default:
        throw new Error(`unknown op ${message.op}`);
    }
  } catch (error) {
    return { id: message.id, ok: false, error: error instanceof Error ? error.message : String(error) };
  }
  return { id: message.id, ok: true, result };
}

function numberField(value: number | undefined, name: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) throw new Error(`${name} must be a number`);
  return value;
}

function printableSnapshot(snapshot: KeySnapshot): Record<string, unknown> {
  return {
    serial: snapshot.serial,
    firmwareVersion: snapshot.firmwareVersion,
    keyTimeMs: snapshot.keyTimeMs,
    clockOffsetMs: snapshot.clockOffsetMs,
    licenses: snapshot.licenses,
    updateCounter: snapshot.updateCounter,
    borrows: snapshot.borrows.map(({ id, product, client, state, expiresAt }) => ({
      id,
      product,
      client,
      state,
      expiresAt,
    })),
  };
}
