/**
 * Serves a virtual key on a USB HID gadget node, or configures the gadget in configfs.
 *
 *   node dist/native-mocks/gadget-main.js --device /dev/hidg0 --state /tmp/key.json --serial KB-VM-0001 \
 *        [--gadget /sys/kernel/config/usb_gadget/keybridge]
 *   node dist/native-mocks/gadget-main.js configure --gadget /sys/kernel/config/usb_gadget/keybridge \
 *        --state /tmp/key.json --serial KB-VM-0001 [--udc dummy_udc.0] [--product NAME] [--manufacturer NAME]
 *
 * `configure` creates the key's state file when absent, writes the gadget's configfs attributes
 * from the protocol constants and the key's state, binds it to `--udc` when given, and prints the
 * parameters as one JSON line. Serving prints `ready <serial>` once the node is open; with
 * `--gadget` the key powers down when the gadget is unbound or its controller loses the bus (an
 * unplug) and boots from its state file when it comes back, as a real key does. SIGTERM and SIGINT end
 * the process with status 0.
 *
 * Started with an IPC channel (child_process.fork or spawn with "ipc"), it takes control messages
 * `{id, op: "advanceClock", ms} | {id, op: "reboot"} | {id, op: "hold", durationMs, keepalive?, count?} |
 * {id, op: "snapshot"}` and answers `{id, ok, result?, error?}`; port events arrive as `{event}`.
 */
import { parseArgs } from "node:util";
import { DEMO_LICENSES } from "./demo.js";
import { KeyFirmware, type KeySnapshot } from "./firmware/firmware.js";
import {
  bindGadget,
  charDeviceOpener,
  GadgetPort,
  type GadgetPortEvent,
  gadgetParameters,
  gadgetPowerProbe,
  writeGadgetConfig,
} from "./gadget-port.js";
import { FileKeyStore } from "./key-store.js";

const USAGE =
  "usage: gadget-main [configure] --state FILE --serial SERIAL [--gadget DIR] [--device /dev/hidg0] [--udc NAME]";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    device: { type: "string", default: "/dev/hidg0" },
    state: { type: "string" },
    serial: { type: "string" },
    udc: { type: "string" },
    gadget: { type: "string" },
    product: { type: "string" },
    manufacturer: { type: "string" },
  },
});

const say = (line: string): void => {
  process.stderr.write(`gadget: ${line}\n`);
};

if (values.state === undefined || values.serial === undefined) fail(USAGE, 2);
const store = new FileKeyStore(values.state);
const newKey = { serial: values.serial, licenses: DEMO_LICENSES };

if (positionals[0] === "configure") configure();
else if (positionals.length === 0) serve();
else fail(USAGE, 2);

function configure(): void {
  if (values.gadget === undefined) fail(USAGE, 2);
  // Booting creates the state on first use; the identity then comes from the key, not from flags.
  const firmware = KeyFirmware.boot({ store, emit: () => {} }, newKey);
  const snapshot = firmware.snapshot();
  firmware.shutdown();
  const params = gadgetParameters(snapshot, {
    ...(values.product === undefined ? {} : { product: values.product }),
    ...(values.manufacturer === undefined ? {} : { manufacturer: values.manufacturer }),
  });
  writeGadgetConfig(values.gadget, params);
  if (values.udc !== undefined) bindGadget(values.gadget, values.udc);
  const { reportDescriptor, ...printable } = params;
  process.stdout.write(
    `${JSON.stringify({ ...printable, reportDescriptor: Buffer.from(reportDescriptor).toString("hex") })}\n`,
  );
}

function serve(): void {
  const port = new GadgetPort({
    open: charDeviceOpener(values.device ?? "/dev/hidg0"),
    store,
    newKey,
    ...(values.gadget === undefined ? {} : { powered: gadgetPowerProbe(values.gadget) }),
    onEvent: report,
  });
  const snapshot = port.start();
  say(`key ${snapshot.serial} on ${values.device}${values.gadget ? `, power from ${values.gadget}` : ""}`);
  void port.ready.then(() => {
    process.stdout.write(`ready ${snapshot.serial}\n`);
    process.send?.({ event: "ready", serial: snapshot.serial });
  });

  // A read blocked in the thread pool never returns on its own: leave with exit, not by draining.
  const stop = (signal: string): void => {
    say(`${signal}: stopping`);
    port.close();
    process.exit(0);
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  if (process.send !== undefined) {
    process.on("message", (message: ControlMessage) => answer(port, message));
    process.on("disconnect", () => stop("parent gone"));
  }
}

let lastIoError = "";

function report(event: GadgetPortEvent): void {
  if (event.type === "io-error") {
    // While unbound the node fails the same way every few ms: say each distinct error once.
    const text = `${event.operation}: ${event.error}`;
    if (text !== lastIoError) say(text);
    lastIoError = text;
  } else {
    lastIoError = "";
    say(event.type === "power" ? (event.powered ? "bus powered: key booted" : "bus unpowered: key off") : event.type);
  }
  process.send?.({ event: event.type, ...event });
}

interface ControlMessage {
  readonly id: number;
  readonly op: string;
  readonly ms?: number;
  readonly durationMs?: number;
  readonly keepalive?: number;
  readonly count?: number;
}

function answer(port: GadgetPort, message: ControlMessage): void {
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
    process.send?.({ id: message.id, ok: false, error: error instanceof Error ? error.message : String(error) });
    return;
  }
  process.send?.({ id: message.id, ok: true, result });
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
    borrows: snapshot.borrows.map(({ id, product, client, state, expiresAt }) => ({
      id,
      product,
      client,
      state,
      expiresAt,
    })),
  };
}

function fail(message: string, status: number): never {
  process.stderr.write(`${message}\n`);
  process.exit(status);
}
