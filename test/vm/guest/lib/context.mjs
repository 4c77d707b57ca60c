// What every check gets: the gadget's expected identity, the production `node-hid` and `usb`
// modules, plug/unplug of the gadget, the sysfs view of it, and the key side's responder.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);

export class CheckFailed extends Error {
  constructor(message, detail = {}) {
    super(message);
    this.detail = detail;
  }
}

export function createContext(config) {
  let responder = null;
  let plugged = true;
  const hex = (n) => n.toString(16).padStart(8, "0");
  const hidId = `0003:${hex(config.vendorId)}:${hex(config.productId)}`.toUpperCase();
  const udcFile = join(config.configfsDir, "UDC");

  const ctx = {
    config,
    hid: () => require("node-hid"),
    usb: () => require("usb"),

    /** `hidrawN` of the gadget as the kernel lists it, or null. */
    findHidraw() {
      const dir = "/sys/class/hidraw";
      if (!existsSync(dir)) return null;
      for (const name of readdirSync(dir)) {
        const uevent = readText(join(dir, name, "device", "uevent"));
        if (uevent?.toUpperCase().includes(`HID_ID=${hidId}`)) return name;
      }
      return null;
    },

    /** The gadget's USB device as sysfs shows it: `{sysName, busnum, devnum, devnode}`, or null. */
    findUsbDevice() {
      const dir = "/sys/bus/usb/devices";
      for (const name of readdirSync(dir)) {
        const vid = readText(join(dir, name, "idVendor"));
        const pid = readText(join(dir, name, "idProduct"));
        if (vid === null || Number.parseInt(vid, 16) !== config.vendorId) continue;
        if (pid === null || Number.parseInt(pid, 16) !== config.productId) continue;
        const busnum = Number(readText(join(dir, name, "busnum")));
        const devnum = Number(readText(join(dir, name, "devnum")));
        const pad = (n) => String(n).padStart(3, "0");
        return { sysName: name, busnum, devnum, devnode: `/dev/bus/usb/${pad(busnum)}/${pad(devnum)}` };
      }
      return null;
    },

    /** A real USB disconnect: the gadget leaves the dummy controller. */
    unplug() {
      writeFileSync(udcFile, "\n");
      plugged = false;
    },
    replug() {
      writeFileSync(udcFile, `${config.udc}\n`);
      plugged = true;
    },
    get plugged() {
      return plugged;
    },

    /** Polls `probe` until it returns a truthy value; fails the check after `timeoutMs`. */
    async waitFor(what, probe, timeoutMs = 10_000) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const value = await probe();
        if (value) return value;
        if (performance.now() > deadline) throw new CheckFailed(`timed out waiting for ${what}`, { timeoutMs });
        await sleep(10);
      }
    },

    /** Opens the gadget through node-hid (hidraw), found by VID/PID/serial. */
    async openHid() {
      const HID = ctx.hid();
      const devices = await HID.devicesAsync(config.vendorId, config.productId);
      const device = devices.find((d) => d.serialNumber === config.serial);
      if (!device?.path) throw new CheckFailed("node-hid does not list the gadget", { devices });
      return HID.HIDAsync.open(device.path);
    },

    /** Starts the key side (an echo of every report) once and waits until it listens; later checks share it. */
    async ensureResponder() {
      if (responder && responder.exitCode === null) return;
      const script = fileURLToPath(new URL("./echo-responder.mjs", import.meta.url));
      responder = spawn(process.execPath, [script, "/dev/hidg0", String(config.reportSize)], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      const child = responder;
      let output = "";
      child.stdout.setEncoding("utf8");
      child.stdout.on("data", (chunk) => {
        output += chunk;
      });
      await ctx.waitFor(
        "the key-side responder to open /dev/hidg0",
        () => {
          if (child.exitCode !== null) throw new CheckFailed(`responder exited with ${child.exitCode}`);
          return output.includes("ready");
        },
        30_000,
      );
    },

    /** Puts the gadget back for the next check, whatever the last one left. */
    async restore() {
      if (!plugged) {
        ctx.replug();
        await ctx.waitFor("the hidraw node after replug", () => ctx.findHidraw());
        ctx.settleUdev();
      }
    },

    /** Waits until udevd has handled every queued event (rules applied to new nodes). */
    settleUdev() {
      const result = spawnSync("udevadm", ["settle", "--timeout=10"], { encoding: "utf8" });
      if (result.status !== 0) throw new CheckFailed("udevadm settle failed", { stderr: result.stderr });
    },

    close() {
      responder?.kill("SIGKILL");
    },
  };
  return ctx;
}

/** One HID exchange: a 64-byte output report out, the input report back (report id 0: unnumbered). */
export async function exchange(device, payload, timeoutMs = 2000) {
  await device.write([0x00, ...payload]);
  const reply = await device.read(timeoutMs);
  if (!reply || reply.length === 0) throw new CheckFailed(`no input report within ${timeoutMs} ms`);
  return Buffer.from(reply);
}

export function randomReport(size) {
  const report = Buffer.alloc(size);
  for (let i = 0; i < size; i++) report[i] = Math.floor(Math.random() * 256);
  return report;
}

function readText(path) {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (error) {
    if (error.code === "ENOENT" || error.code === "ENODEV") return null;
    throw error;
  }
}
