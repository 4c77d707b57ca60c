import type { Command } from "commander";
import { KeybridgeError } from "../../errors.js";
import { type CommandKit, example } from "../command-kit.js";

/**
 * `keybridge key ...`: turns a Linux board with a USB device controller into a keybridge key.
 * The firmware is the package's reference key (dist/native-mocks), loaded only when one of these
 * commands runs, so the rest of the CLI never loads it.
 */
type Board = typeof import("../../../native-mocks/board/index.js");

const loadBoard = (): Promise<Board> => import("../../../native-mocks/board/index.js");

interface Locations {
  state?: string;
  gadget?: string;
  udc?: string;
  device?: string;
}

const ENVIRONMENT =
  "\nEnvironment (the systemd unit sets them from /etc/keybridge/key.env): KEYBRIDGE_KEY_STATE, " +
  "KEYBRIDGE_KEY_GADGET, KEYBRIDGE_KEY_UDC, KEYBRIDGE_KEY_DEVICE.\n";

export function registerKey(program: Command, kit: CommandKit): void {
  const { io, out, globals } = kit;
  const env = io.env;
  const statePath = (o: Locations, board: Board) => o.state ?? env.KEYBRIDGE_KEY_STATE ?? board.DEFAULT_STATE_PATH;
  const gadgetDir = (o: Locations, board: Board) => o.gadget ?? env.KEYBRIDGE_KEY_GADGET ?? board.DEFAULT_GADGET_DIR;
  const udc = (o: Locations) => o.udc ?? (env.KEYBRIDGE_KEY_UDC || undefined);
  const device = (o: Locations, board: Board) => o.device ?? env.KEYBRIDGE_KEY_DEVICE ?? board.DEFAULT_DEVICE;
  const json = (command: Command) => globals(command).json === true;
  const print = (command: Command, value: unknown, text: string) =>
    out(json(command) ? `${JSON.stringify(value, null, 2)}\n` : text);
  const stateOption = [
    "--state <file>",
    "the key's state file (default $KEYBRIDGE_KEY_STATE or /var/lib/keybridge-key/key.json)",
  ] as const;
  const gadgetOption = [
    "--gadget <dir>",
    "the configfs gadget (default /sys/kernel/config/usb_gadget/keybridge)",
  ] as const;

  const key = program
    .command("key")
    .description("run a keybridge key on this board (a Linux board with a USB device controller)")
    .addHelpText(
      "after",
      "\nOnce per board:   keybridge key init --serial KB-0001\n" +
        "Then (the systemd unit keybridge-key.service does this): key setup, key serve, and key teardown on stop.\n" +
        "The key's state holds its identity secret: it is written 0600 and never printed.\n" +
        ENVIRONMENT +
        example(
          "sudo keybridge key init --serial KB-0001",
          "sudo systemctl enable --now keybridge-key",
          "keybridge key status",
        ),
    );

  key
    .command("init")
    .description("create the key once: its serial and a new identity key pair, no licenses, not provisioned")
    .requiredOption("--serial <serial>", "the key's serial for life: 1-32 letters, digits, '.', '_' or '-'")
    .option(...stateOption)
    .addHelpText(
      "after",
      "\nRun again with the same serial, it changes nothing; another serial is refused (a license server pins\n" +
        "the key's public key to its serial). Next: provision it from the vendor's station (keybridge vendor provision).\n" +
        example("sudo keybridge key init --serial KB-0001"),
    )
    .action(async (options: Locations & { serial: string }, command: Command) => {
      const board = await loadBoard();
      const path = statePath(options, board);
      const result = board.initKey(path, options.serial);
      const status = board.keyStatus(path, gadgetDir(options, board));
      print(
        command,
        { created: result.created, ...status },
        result.created
          ? `Created key ${status.serial} in ${path} (public key ${status.publicKey}).\n`
          : `${path} already holds key ${status.serial}; nothing changed.\n`,
      );
    });

  key
    .command("setup")
    .description("present the key on USB: create the configfs HID gadget and bind it to the device controller")
    .option(...stateOption)
    .option(...gadgetOption)
    .option("--udc <name>", "the device controller in /sys/class/udc (default: the board's only one)")
    .option("--product <name>", "the USB product string", "keybridge key")
    .option("--manufacturer <name>", "the USB manufacturer string", "keybridge")
    .addHelpText(
      "after",
      "\nVendor and product id and the report descriptor come from the protocol, the serial from the key's state.\n" +
        "A gadget left from before is removed first. Needs root (configfs) and the libcomposite module.\n" +
        example("sudo keybridge key setup", "sudo keybridge key setup --udc fe980000.usb --json"),
    )
    .action(async (options: Locations & { product: string; manufacturer: string }, command: Command) => {
      const board = await loadBoard();
      const result = board.setupGadget({
        statePath: statePath(options, board),
        gadgetDir: gadgetDir(options, board),
        ...(udc(options) === undefined ? {} : { udc: udc(options) }),
        identity: { product: options.product, manufacturer: options.manufacturer },
      });
      const { reportDescriptor, ...params } = result.params;
      const printable = {
        ...params,
        reportDescriptor: Buffer.from(reportDescriptor).toString("hex"),
        udc: result.udc,
        replaced: result.replaced,
      };
      print(
        command,
        printable,
        `Key ${params.serialNumber} is on USB: gadget ${gadgetDir(options, board)}, ` +
          `VID 0x${params.idVendor.toString(16).padStart(4, "0")} PID 0x${params.idProduct.toString(16).padStart(4, "0")}, ` +
          `bound to ${result.udc}${result.replaced ? " (an old gadget was removed first)" : ""}.\n`,
      );
    });

  key
    .command("serve")
    .description("serve the key's firmware on the gadget's HID node until stopped (SIGTERM, SIGINT)")
    .option(...stateOption)
    .option(...gadgetOption)
    .option("--device <path>", "the gadget's HID node (default /dev/hidg0)")
    .option("--no-gadget", "do not watch the gadget's power (the key then never reboots on an unplug)")
    .option("--ipc-control", "test hooks: answer clock/reboot/hold/snapshot requests on the IPC channel (VM checks)")
    .addHelpText(
      "after",
      "\nPrints `ready SERIAL` on stdout once the node is open; events go to stderr. Every change of the key's\n" +
        "state is written durably before the key answers. One process serves a key at a time. On SIGTERM or\n" +
        "SIGINT it stops serving, releases the key and ends by that signal.\n" +
        example("sudo keybridge key serve"),
    )
    .action(async (options: Omit<Locations, "gadget"> & { gadget?: string | false; ipcControl?: boolean }) => {
      const board = await loadBoard();
      if (options.ipcControl === true && process.send === undefined) {
        throw new KeybridgeError(
          "IPC_CONTROL_UNAVAILABLE",
          "--ipc-control needs an IPC channel: it is for a test harness that starts this process",
        );
      }
      const where: Locations = {
        ...(options.state === undefined ? {} : { state: options.state }),
        ...(options.device === undefined ? {} : { device: options.device }),
        ...(typeof options.gadget === "string" ? { gadget: options.gadget } : {}),
      };
      const gadget = options.gadget === false ? undefined : gadgetDir(where, board);
      const node = device(where, board);
      const say = (line: string) => io.stderr.write(`key: ${line}\n`);
      let lastIoError = "";
      const serving = board.serveKey({
        statePath: statePath(where, board),
        device: node,
        ...(gadget === undefined ? {} : { gadgetDir: gadget }),
        onEvent: (event) => {
          if (event.type === "io-error") {
            // While unbound the node fails the same way every few ms: each distinct error once.
            const text = `${event.operation}: ${event.error}`;
            if (text !== lastIoError) say(text);
            lastIoError = text;
          } else {
            lastIoError = "";
            say(
              event.type === "power"
                ? event.powered
                  ? "bus powered: key booted"
                  : "bus unpowered: key off"
                : event.type === "dropped"
                  ? `dropped a transfer of ${event.bytes} bytes`
                  : event.type,
            );
          }
          if (options.ipcControl === true) process.send?.({ ...event, event: event.type });
        },
      });
      const serial = serving.key.serial;
      say(`key ${serial} on ${node}${gadget === undefined ? "" : `, power from ${gadget}`}`);
      const stopped = new Promise<string>((resolve) => {
        process.once("SIGTERM", () => resolve("SIGTERM"));
        process.once("SIGINT", () => resolve("SIGINT"));
        if (options.ipcControl === true) {
          process.on("message", (message: import("../../../native-mocks/board/index.js").ControlMessage) => {
            process.send?.(board.answerControl(serving.port, message));
          });
          process.once("disconnect", () => resolve("parent gone"));
        }
      });
      void serving.ready.then(() => {
        out(`ready ${serial}\n`);
        if (options.ipcControl === true) process.send?.({ event: "ready", serial });
      });
      const reason = await stopped;
      say(`${reason}: stopping`);
      serving.stop();
      // A read blocked in the gadget node cannot be woken, and a normal exit waits for it forever
      // (Node joins its thread pool at exit). So the process ends by the signal it was sent, with
      // the default action: systemd counts a service ended by its SIGTERM as stopped cleanly.
      const signal = reason === "SIGINT" ? "SIGINT" : "SIGTERM";
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    });

  key
    .command("teardown")
    .description("unplug the key from the host and remove its configfs gadget")
    .option(...gadgetOption)
    .addHelpText("after", example("sudo keybridge key teardown"))
    .action(async (options: Locations, command: Command) => {
      const board = await loadBoard();
      const dir = gadgetDir(options, board);
      const removed = board.teardownGadget(dir);
      print(command, { gadget: dir, removed }, removed ? `Removed the gadget ${dir}.\n` : `No gadget at ${dir}.\n`);
    });

  key
    .command("status")
    .description("the key as stored: serial, public key, vendor, update counter, licenses, borrows, gadget")
    .option(...stateOption)
    .option(...gadgetOption)
    .addHelpText("after", example("keybridge key status", "keybridge key status --json"))
    .action(async (options: Locations, command: Command) => {
      const board = await loadBoard();
      const status = board.keyStatus(statePath(options, board), gadgetDir(options, board));
      print(command, status, statusText(status));
    });

  key
    .command("wipe")
    .description(
      "forget the vendor key, the licenses and every borrow (serial and identity stay); the key can be provisioned anew",
    )
    .option(...stateOption)
    .option("--yes", "confirm: borrows on the key are lost, their clients' licenses cannot be returned")
    .addHelpText(
      "after",
      "\nOnly here, on the board: no USB command unprovisions a key, or anyone holding one could give it a vendor\n" +
        "of their own. Stop the key first (systemctl stop keybridge-key).\n" +
        example("sudo keybridge key wipe --yes"),
    )
    .action(async (options: Locations & { yes?: boolean }, command: Command) => {
      const board = await loadBoard();
      const path = statePath(options, board);
      const wiped = board.wipeKey(path, options.yes === true);
      print(
        command,
        { serial: wiped.serial, provisioned: false, licenseSetVersion: wiped.licenseSetVersion },
        `Key ${wiped.serial} wiped: not provisioned, no licenses, no borrows.\n`,
      );
    });
}

function statusText(status: import("../../../native-mocks/board/index.js").BoardKeyStatus): string {
  const lines = [`Key ${status.serial} (firmware ${status.firmwareVersion}), state ${status.statePath}`];
  const row = (label: string, value: string) => lines.push(`  ${label.padEnd(14)} ${value}`);
  row("public key", status.publicKey);
  row(
    "vendor",
    status.provisioned
      ? `${status.vendorPublicKey}, update counter ${status.updateCounter}`
      : "not provisioned: provision it from the vendor's station (keybridge vendor provision)",
  );
  row(
    "licenses",
    status.licenses.length === 0
      ? `none (set version ${status.licenseSetVersion})`
      : `set version ${status.licenseSetVersion}`,
  );
  for (const license of status.licenses) {
    lines.push(
      `    product ${license.product}: ${license.seats} seats, ${license.borrowable} borrowable for up to ` +
        `${license.borrowDays} days (${license.borrowed} borrowed, ${license.dummies} dummies)`,
    );
  }
  row("borrows", `${status.borrows.active} active, ${status.borrows.dummies} dummies`);
  row("key time", status.keyTime);
  row("served", status.servedBy === null ? "no" : `by process ${status.servedBy}`);
  const gadget = status.gadget;
  row(
    "gadget",
    !gadget.present
      ? `none at ${gadget.dir}`
      : gadget.udc === null
        ? `${gadget.dir}, not bound`
        : `${gadget.dir}, bound to ${gadget.udc} (${gadget.udcState ?? "state unknown"})`,
  );
  return `${lines.join("\n")}\n`;
}
