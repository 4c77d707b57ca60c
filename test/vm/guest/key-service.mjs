// Brings the guest's key up at boot the way a board does: `keybridge key init` once (the install
// step), then the ExecStartPre= lines of systemd/keybridge-key.service (`keybridge key setup`),
// and records what the gadget shows the host, read back from configfs, for the checks.
//
//   node /kb/test/vm/guest/key-service.mjs prepare
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { keybridge, readKeyUnit, runUnitCommands } from "./lib/key-unit.mjs";

const guest = JSON.parse(readFileSync("/etc/keybridge-vm/guest.json", "utf8"));
const unit = readKeyUnit();

// The checks address the key by the guest's settings: they must be the unit's own defaults.
const expected = {
  KEYBRIDGE_KEY_STATE: guest.keyState,
  KEYBRIDGE_KEY_GADGET: guest.configfsDir,
  KEYBRIDGE_KEY_DEVICE: guest.device,
};
for (const [name, value] of Object.entries(expected)) {
  if (unit.environment[name] !== value)
    fail(`the unit sets ${name}=${unit.environment[name]}, the guest expects ${value}`);
}

const init = keybridge(unit, ["key", "init", "--serial", guest.serial]);
if (init.status !== 0) fail(`keybridge key init: ${init.stderr.trim()}`);
try {
  runUnitCommands(unit, unit.startPre);
} catch (error) {
  fail(error.message);
}

const dir = guest.configfsDir;
const read = (path) => readFileSync(join(dir, path), "utf8").trim();
mkdirSync("/run/keybridge-vm", { recursive: true });
writeFileSync(
  "/run/keybridge-vm/gadget.json",
  `${JSON.stringify({
    idVendor: Number.parseInt(read("idVendor"), 16),
    idProduct: Number.parseInt(read("idProduct"), 16),
    serialNumber: read("strings/0x409/serialnumber"),
    manufacturer: read("strings/0x409/manufacturer"),
    product: read("strings/0x409/product"),
    reportLength: Number(read("functions/hid.usb0/report_length")),
    udc: read("UDC"),
  })}\n`,
);

function fail(message) {
  process.stderr.write(`key-service: ${message}\n`);
  process.exit(1);
}
