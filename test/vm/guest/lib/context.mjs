// What every check gets: the gadget's expected identity, the production `node-hid` and `usb`
// modules, the built project (`dist()`), plug/unplug of the gadget, the sysfs view of it, and the
// key itself: the key firmware served on /dev/hidg0 by the ExecStart= of the shipped
// systemd/keybridge-key.service (`keybridge key serve`), with a control channel (clock, reboot,
// held requests), provisioned and given its licenses by the vendor tooling as a factory would.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { keybridge, readKeyUnit, unitEnvironment } from "./key-unit.mjs";

const require = createRequire(import.meta.url);

export class CheckFailed extends Error {
  constructor(message, detail = {}) {
    super(message);
    this.detail = detail;
  }
}

const DIST = "/kb/dist";
/** The guest's vendor: its secret signs the key's updates (the conformance suite signs with it too). */
export const VENDOR_DIR = "/tmp/vendor";
export const VENDOR_KEY = `${VENDOR_DIR}/vendor.key`;

/** Thrown by a check that cannot run in this build (reported as skipped with the reason, not failed). */
export class CheckSkipped extends Error {}

export function createContext(config) {
  const unit = readKeyUnit();
  let key = null;
  let nextRequest = 1;
  const pendingRequests = new Map();
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
    /** The bus state the gadget side sees (/sys/class/udc/<udc>/state), e.g. "configured", "not attached". */
    udcState() {
      return readText(`/sys/class/udc/${config.udc}/state`);
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

    /** A module of the built project, e.g. `dist("src/transport/index.js")`. */
    dist(path) {
      return import(`${DIST}/${path}`);
    },

    /** The board's unit as the guest runs it (test/vm/guest/lib/key-unit.mjs). */
    unit,

    /** `keybridge ARGS` with the unit's environment, as an admin on the board runs it. */
    keybridge: (args, options) => keybridge(unit, args, options),

    /**
     * Starts the key once, as the unit's ExecStart= (`keybridge key serve`) plus the test hooks
     * (--ipc-control), and waits until it has the node open; later checks share it. The key
     * reboots on its own when the gadget is unplugged, as a real key loses power. Unless
     * `provisioned: false`, the key is then provisioned with the guest's vendor and holds the
     * demo licenses (ensureLicensed).
     */
    async ensureKey({ provisioned = true } = {}) {
      if (!key || key.exitCode !== null || key.signalCode !== null) await startKey();
      if (provisioned) await ctx.ensureLicensed();
    },

    /**
     * Stops the key as `systemctl stop` does (SIGTERM) and waits until it ended by that signal,
     * which systemd counts as a clean stop (it cannot exit normally: see native-mocks/gadget-port.ts).
     */
    async stopKey() {
      if (!key || key.exitCode !== null || key.signalCode !== null) return;
      const child = key;
      const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
      child.kill("SIGTERM");
      const { code, signal } = await exited;
      if (signal !== "SIGTERM") throw new CheckFailed(`keybridge key serve ended with ${code ?? signal} on SIGTERM`);
    },

    /**
     * What a factory does before a key ships, with the vendor tooling: a vendor key pair (once),
     * provisioning over USB, and a signed update with the demo licenses, applied over USB. Only
     * what is missing is done.
     */
    async ensureLicensed() {
      const { client } = await ctx.connect();
      let vendor;
      let licenses;
      try {
        vendor = await client.vendorInfo();
        licenses = await client.listLicenses();
      } finally {
        await client.close();
      }
      if (vendor.provisioned && licenses.length > 0) return;
      const cli = (...args) => {
        const result = ctx.keybridge(args);
        if (result.status !== 0) throw new CheckFailed(`keybridge ${args.join(" ")} failed`, { stderr: result.stderr });
        return result;
      };
      if (!existsSync(VENDOR_KEY)) cli("vendor", "keygen", "--key", VENDOR_KEY);
      if (!vendor.provisioned) cli("vendor", "provision", "--key", VENDOR_KEY);
      const { DEMO_LICENSES } = await ctx.dist("native-mocks/demo.js");
      const file = `${VENDOR_DIR}/demo-licenses.json`;
      writeFileSync(file, JSON.stringify({ licenses: DEMO_LICENSES }));
      const update = `${VENDOR_DIR}/${config.serial}-demo.kblu`;
      cli("vendor", "sign", "--key", VENDOR_KEY, "--serial", config.serial, "--licenses", file, "--out", update);
      cli("vendor", "apply", update);
    },

    /** Sends a control message to the running key: advanceClock {ms}, reboot, hold {durationMs}, snapshot. */
    keyControl(op, fields = {}) {
      if (!key || key.exitCode !== null || key.signalCode !== null) {
        return Promise.reject(new CheckFailed("the key is not running"));
      }
      const id = nextRequest++;
      return new Promise((resolve, reject) => {
        pendingRequests.set(id, { resolve, reject });
        key.send({ id, op, ...fields });
      });
    },

    /** The key as the production code finds it: the real node-hid/usb backend and the discovered device. */
    async realKey() {
      const { loadHidBackend, listKeys } = await ctx.dist("src/transport/index.js");
      const backend = await loadHidBackend();
      const device = (await listKeys(backend)).find((d) => d.serial === config.serial);
      if (!device) throw new CheckFailed("listKeys() does not find the key", { keys: await listKeys(backend) });
      return { backend, device };
    },

    /** Discovery, NodeHidPort, Transport and connectKey, exactly as the daemon connects. */
    async connect(pins, options = {}) {
      const { openHidPort, Transport } = await ctx.dist("src/transport/index.js");
      const { connectKey, MemoryPinStore } = await ctx.dist("src/key/index.js");
      const { backend, device } = await ctx.realKey();
      const transport = await Transport.open(await openHidPort(backend, device), options);
      const client = await connectKey(transport, pins ?? new MemoryPinStore());
      return { client, transport, device, backend };
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
      key?.kill("SIGTERM");
    },
  };

  async function startKey() {
    const [binary, ...args] = unit.start.argv;
    key = spawn(binary, [...args, "--ipc-control"], {
      env: unitEnvironment(unit),
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    const child = key;
    let ready = false;
    child.on("message", (message) => {
      if (message.event === "ready") ready = true;
      if (message.id === undefined) return;
      const request = pendingRequests.get(message.id);
      pendingRequests.delete(message.id);
      if (message.ok) request?.resolve(message.result);
      else request?.reject(new CheckFailed(`key control: ${message.error}`));
    });
    child.on("exit", (code) => {
      for (const request of pendingRequests.values()) request.reject(new CheckFailed(`the key exited (${code})`));
      pendingRequests.clear();
    });
    await ctx.waitFor(
      "the key to open /dev/hidg0",
      () => {
        if (child.exitCode !== null) throw new CheckFailed(`${unit.start.line} exited with ${child.exitCode}`);
        return ready;
      },
      30_000,
    );
  }

  return ctx;
}

/**
 * One raw INIT exchange below the transport: a report with a fresh nonce on the broadcast channel
 * out, the key's single INIT report back, which must echo the nonce.
 */
export async function initExchange(device, protocol, timeoutMs = 2000) {
  const nonce = randomReport(protocol.INIT_NONCE_SIZE);
  const [report] = protocol.encodeFrames(protocol.BROADCAST_CID, protocol.FrameCommand.INIT, nonce);
  const reply = await exchange(device, report, timeoutMs);
  const packet = protocol.parseReport(Uint8Array.from(reply));
  if (packet.kind !== "init" || packet.cmd !== protocol.FrameCommand.INIT || packet.cid !== protocol.BROADCAST_CID) {
    throw new CheckFailed("the reply is not an INIT response on the broadcast channel", {
      reply: reply.toString("hex"),
    });
  }
  const response = protocol.decodeInitResponse(packet.data.subarray(0, packet.length));
  if (!Buffer.from(response.nonce).equals(nonce)) throw new CheckFailed("the INIT response carries another nonce");
  return response;
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
