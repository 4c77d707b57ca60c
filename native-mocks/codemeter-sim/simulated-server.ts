import { createHash } from "node:crypto";
import { appendFileSync, chmodSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { DAY_MS } from "../../src/protocol/index.js";
import type { VirtualBus } from "../virtual-bus.js";
import { type IniSectionText, idKey, logTime, quoted, serverIniText, trackingLogName } from "./files.js";
import { type RegistryTreeWriter, writeRegistryTree } from "./registry-tree.js";

/**
 * SYNTHETIC: a simulated CodeMeter license server, for CI. It writes the files a CodeMeter
 * runtime writes — Server.ini with its Borrow sections, one License Tracking log per firm code
 * (header, Borrow entries at borrow time and again at every start, Admin start/stop, License
 * rewrites after a plug-in), a `cmu` stand-in — and puts a CmStick (vendor 0x064F, product 0x2AF9)
 * on the virtual bus. Everything is made from the grammar in CodeMeter's public help texts; no
 * byte of it comes from a real installation.
 *
 * Its borrows turn into Borrow Dummies by the rules of the Borrow Dummy problem. A borrow is settled (returned, or at
 * its expiry) by the stick holding its license; it becomes a dummy instead when, at that moment:
 *   - the stick is not plugged into this server (unplugged, or moved to another computer);
 *   - the server's identity (IP address, hostname, machine id) differs from the one at borrow time;
 *   - CodeMeter's own copy of the borrow (its Borrow sections) is gone, or was written by another
 *     major version of the runtime (a new main version, an uninstall, a reinstalled OS);
 *   - the licenses on the stick were re-programmed (upgraded) since.
 * At every start the runtime re-lists the borrows whose copy it can read; one it cannot is not
 * re-listed. A borrow in progress when the service stops reaches the stick but not the copy.
 */

/** 2026-03-02T08:00:00Z: the simulation's day 0. */
export const SIM_EPOCH = Date.UTC(2026, 2, 2, 8, 0, 0);

export interface SimHost {
  readonly ips: readonly string[];
  readonly hostname: string;
  readonly machineId: string;
}

export interface SimLicense {
  readonly firmCode: number;
  readonly productCode: number;
  /** Product item reference (the last part of the license id). */
  readonly item: number;
  readonly quantity: number;
  readonly text: string;
}

export interface SimBorrow {
  readonly borrowId: string;
  readonly licenseId: string;
  readonly license: SimLicense;
  readonly client: string;
  readonly user: string;
  readonly clientSerial: string;
  readonly borrowedAt: number;
  readonly expiresAt: number | null;
  state: "active" | "returned" | "expired" | "dummy";
  dummyReason?: string;
  dummyUntil?: number;
  readonly hostAtBorrow: SimHost;
  readonly majorAtBorrow: number;
  readonly licenseSetAtBorrow: number;
}

export type CmuBehaviour = "normal" | "hang" | "garbage" | "fail";

export interface SimulatedServerOptions {
  /** A directory of its own; the installation is made below it. */
  readonly root: string;
  readonly runtimeVersion?: string;
  /** The server's CmStick. Default `3-6903986`. */
  readonly stickSerial?: string;
  readonly licenses?: readonly SimLicense[];
  readonly host?: SimHost;
  /** License Tracking on (default) or off. */
  readonly tracking?: boolean;
  /** Put the stick on this bus (plugged). */
  readonly bus?: VirtualBus;
  readonly start?: number;
  /** The node executable the cmu launcher runs with. Default this process's. */
  readonly nodePath?: string;
}

export const DEFAULT_SIM_LICENSES: readonly SimLicense[] = [
  { firmCode: 100532, productCode: 1001, item: 18, quantity: 10, text: "Synthetic CAD Pro" },
  { firmCode: 100532, productCode: 1003, item: 19, quantity: 20, text: "Synthetic Viewer" },
  { firmCode: 6000010, productCode: 2001, item: 4, quantity: 5, text: "Synthetic Render" },
];

export const DEFAULT_SIM_HOST: SimHost = {
  ips: ["10.0.0.5"],
  hostname: "lic-srv",
  machineId: "synthetic-machine-0001",
};

/** Where the stand-in script lives: next to this module in the source tree, or back there from dist/. */
function standInScript(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [
    join(here, "cmu-stand-in.mjs"),
    join(here, "../../../native-mocks/codemeter-sim/cmu-stand-in.mjs"),
  ];
  const found = candidates.find((candidate) => existsSync(candidate));
  if (found === undefined) throw new Error(`cmu-stand-in.mjs not found (looked in ${candidates.join(", ")})`);
  return found;
}

function major(version: string): number {
  return Number(version.split(".")[0]) || 0;
}

export class SimulatedCodeMeterServer {
  readonly root: string;
  readonly paths: {
    readonly serverIni: string;
    readonly logDir: string;
    readonly cmu: string;
    /** The simulator's own bookkeeping (not part of the simulated CodeMeter tree). */
    readonly simDir: string;
    readonly state: string;
    readonly invocations: string;
  };
  readonly stickSerial: string;
  readonly licenses: readonly SimLicense[];
  readonly borrows: SimBorrow[] = [];
  #now: number;
  #host: SimHost;
  #runtime: { installed: boolean; version: string; running: boolean };
  #tracking: boolean;
  #stick: "here" | "unplugged" | "elsewhere" = "here";
  readonly #otherSticks = new Set<string>();
  #licenseSet = 1;
  /** CodeMeter's own copy of each borrow (the Borrow sections): borrow id → major version that wrote it. */
  readonly #copies = new Map<string, number>();
  #configPresent = true;
  #cmuBehaviour: CmuBehaviour = "normal";
  #registry: RegistryTreeWriter | undefined;
  readonly #bus: VirtualBus | undefined;
  readonly #nodePath: string;
  #nextClient = 1;
  readonly #clientSerials = new Map<string, string>();
  readonly #written = new Set<string>();

  constructor(options: SimulatedServerOptions) {
    this.root = options.root;
    const simDir = join(options.root, "sim");
    this.paths = {
      serverIni: join(options.root, "etc/wibu/CodeMeter/Server.ini"),
      logDir: join(options.root, "var/log/CodeMeter"),
      cmu: join(options.root, "usr/bin/cmu"),
      simDir,
      state: join(simDir, "state.json"),
      invocations: join(simDir, "invocations.log"),
    };
    this.stickSerial = options.stickSerial ?? "3-6903986";
    this.licenses = options.licenses ?? DEFAULT_SIM_LICENSES;
    this.#now = options.start ?? SIM_EPOCH;
    this.#host = options.host ?? DEFAULT_SIM_HOST;
    this.#runtime = { installed: true, version: options.runtimeVersion ?? "8.20a", running: false };
    this.#tracking = options.tracking ?? true;
    this.#bus = options.bus;
    this.#nodePath = options.nodePath ?? process.execPath;
    mkdirSync(simDir, { recursive: true });
    this.#bus?.addCodeMeterStick({ serial: this.stickSerial, productId: 0x2af9 });
    this.#installFiles();
    this.startService();
  }

  // ---- what the outside sees ----------------------------------------------------------------

  now(): number {
    return this.#now;
  }

  host(): SimHost {
    return this.#host;
  }

  get runtimeVersion(): string | null {
    return this.#runtime.installed ? this.#runtime.version : null;
  }

  get running(): boolean {
    return this.#runtime.installed && this.#runtime.running;
  }

  get stickLocation(): "here" | "unplugged" | "elsewhere" {
    return this.#stick;
  }

  /** Sticks plugged into this server now. */
  sticksHere(): string[] {
    return [...(this.#stick === "here" ? [this.stickSerial] : []), ...this.#otherSticks];
  }

  active(): SimBorrow[] {
    return this.borrows.filter((borrow) => borrow.state === "active");
  }

  dummies(): SimBorrow[] {
    return this.borrows.filter((borrow) => borrow.state === "dummy");
  }

  /** Borrowable seats blocked: a dummy blocks borrowing of its license whatever seats are free. */
  seatsBlocked(): number {
    const blocked = new Set(this.dummies().map((borrow) => this.licenseId(borrow.license)));
    return this.licenses
      .filter((license) => blocked.has(this.licenseId(license)))
      .reduce((sum, license) => sum + license.quantity, 0);
  }

  licenseId(license: SimLicense): string {
    return `${this.stickSerial}-${license.firmCode}-${license.item}`;
  }

  // ---- time --------------------------------------------------------------------------------

  /** Moves the clock on and settles what expires meanwhile (in order). */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      const due = this.active()
        .filter((borrow) => borrow.expiresAt !== null && borrow.expiresAt <= end)
        .sort((a, b) => (a.expiresAt ?? 0) - (b.expiresAt ?? 0))[0];
      if (due === undefined || due.expiresAt === null) break;
      this.#now = Math.max(this.#now, due.expiresAt);
      this.#settle(due, "expired");
    }
    this.#now = end;
  }

  advanceDays(days: number): void {
    this.advance(days * DAY_MS);
  }

  // ---- borrowing ---------------------------------------------------------------------------

  borrow(client: string, user: string, productCode: number, days = 30): SimBorrow {
    if (!this.running) throw new Error("the CodeMeter service is not running");
    if (this.#stick !== "here") throw new Error("the server's stick is not plugged in");
    const license = this.licenses.find((candidate) => candidate.productCode === productCode);
    if (license === undefined) throw new Error(`no license for product ${productCode}`);
    if (this.borrows.some((b) => b.state === "dummy" && b.license === license)) {
      throw new Error("No more licenses are available for borrowing (a Borrow Dummy blocks this license)");
    }
    const clientSerial = this.#clientSerial(client);
    const slot = this.borrows.filter((b) => b.clientSerial === clientSerial && b.state === "active").length;
    const borrow: SimBorrow = {
      borrowId: `${clientSerial}-${license.firmCode}-${slot}`,
      licenseId: this.licenseId(license),
      license,
      client,
      user,
      clientSerial,
      borrowedAt: this.#now,
      expiresAt: days === Number.POSITIVE_INFINITY ? null : this.#now + days * DAY_MS,
      state: "active",
      hostAtBorrow: this.#host,
      majorAtBorrow: major(this.#runtime.version),
      licenseSetAtBorrow: this.#licenseSet,
    };
    this.borrows.push(borrow);
    this.#copies.set(borrow.borrowId, major(this.#runtime.version));
    this.#writeServerIni();
    this.#log(license.firmCode, this.#borrowLine(borrow));
    return borrow;
  }

  /** The client gives it back early. "returned", or "dummy" with the rule that made it one. */
  returnBorrow(borrowId: string): "returned" | "dummy" {
    const borrow = this.borrows.find((b) => b.borrowId === borrowId && b.state === "active");
    if (borrow === undefined) throw new Error(`no active borrow ${borrowId}`);
    if (!this.running) throw new Error("the CodeMeter service is not running");
    return this.#settle(borrow, "returned");
  }

  /** Why settling this borrow now would make it a dummy (empty: it would settle cleanly). */
  dummyReasons(borrow: SimBorrow): string[] {
    const reasons: string[] = [];
    if (this.#stick !== "here")
      reasons.push(`the stick is ${this.#stick === "elsewhere" ? "on another computer" : "unplugged"}`);
    const was = borrow.hostAtBorrow;
    if ([...was.ips].sort().join() !== [...this.#host.ips].sort().join()) reasons.push("the IP address changed");
    if (was.hostname !== this.#host.hostname) reasons.push("the hostname changed");
    if (was.machineId !== this.#host.machineId) reasons.push("the machine id changed");
    const copy = this.#copies.get(borrow.borrowId);
    if (!this.#runtime.installed || copy === undefined) reasons.push("CodeMeter's copy of the borrow is gone");
    else if (copy !== major(this.#runtime.version)) reasons.push("the new main version cannot read the old copy");
    if (this.#licenseSet !== borrow.licenseSetAtBorrow) reasons.push("the licenses were re-programmed");
    return reasons;
  }

  #settle(borrow: SimBorrow, how: "returned" | "expired"): "returned" | "dummy" {
    const reasons = this.dummyReasons(borrow);
    if (reasons.length > 0) {
      borrow.state = "dummy";
      borrow.dummyReason = reasons.join("; ");
      borrow.dummyUntil = this.#now + 30 * DAY_MS;
    } else {
      borrow.state = how;
    }
    this.#copies.delete(borrow.borrowId);
    if (this.#runtime.installed && this.#configPresent) this.#writeServerIni();
    return borrow.state === "dummy" ? "dummy" : "returned";
  }

  // ---- the service and the runtime ---------------------------------------------------------

  startService(): void {
    if (!this.#runtime.installed || this.#runtime.running) return;
    this.#runtime.running = true;
    this.#writeState();
    const firmCodes = [...new Set(this.licenses.map((license) => license.firmCode))];
    for (const firmCode of firmCodes) {
      this.#log(
        firmCode,
        `${logTime(this.#now)} Admin Server:${quoted(this.#host.hostname)} CodeMeter_started ${logTime(this.#now)}`,
      );
      if (this.#stick === "here") this.#writeLicenses(firmCode);
      // The re-listing: every borrow whose copy this runtime can read.
      for (const borrow of this.active()) {
        if (borrow.license.firmCode !== firmCode) continue;
        if (this.#copies.get(borrow.borrowId) !== major(this.#runtime.version)) continue;
        this.#log(firmCode, this.#borrowLine(borrow));
      }
    }
  }

  stopService(): void {
    if (!this.#runtime.running) return;
    for (const firmCode of new Set(this.licenses.map((license) => license.firmCode))) {
      this.#log(firmCode, `${logTime(this.#now)} Admin Server:${quoted(this.#host.hostname)} CodeMeter_stopped`);
    }
    this.#runtime.running = false;
    this.#writeState();
  }

  /**
   * Restarts the service. With `midBorrow`, a client was borrowing at that moment: the borrow
   * reached the stick but not CodeMeter's copy, so the start cannot re-list it.
   */
  restartService(
    options: { midBorrow?: { client: string; user: string; productCode: number } } = {},
  ): SimBorrow | undefined {
    let lost: SimBorrow | undefined;
    if (options.midBorrow !== undefined) {
      const { client, user, productCode } = options.midBorrow;
      lost = this.borrow(client, user, productCode);
      this.#copies.delete(lost.borrowId);
      this.#writeServerIni();
    }
    this.stopService();
    this.advance(60_000);
    this.startService();
    return lost;
  }

  /** A new main version: stopped, replaced, started (it cannot read the old version's borrow copies). */
  upgradeRuntime(version: string): void {
    this.stopService();
    this.#runtime.version = version;
    this.#writeRegistry();
    this.#writeHeaders();
    this.#writeState();
    this.advance(60_000);
    this.startService();
  }

  /** Uninstalls the runtime: cmu and its configuration go with it (and CodeMeter's copies of the borrows). */
  uninstallRuntime(): void {
    this.stopService();
    this.#runtime.installed = false;
    this.#copies.clear();
    this.#configPresent = false;
    rmSync(this.paths.cmu, { force: true });
    rmSync(this.paths.serverIni, { force: true });
    this.#writeRegistry();
    this.#writeState();
  }

  /** Installs the runtime afresh: a new, empty configuration (no copies of earlier borrows). */
  installRuntime(version = this.#runtime.version): void {
    this.#runtime = { installed: true, version, running: false };
    this.#configPresent = true;
    this.#installFiles();
    this.startService();
  }

  /** A reinstalled operating system: new machine id, runtime and configuration gone, then installed again. */
  reinstallOs(machineId = "synthetic-machine-0002"): void {
    this.uninstallRuntime();
    this.#host = { ...this.#host, machineId };
    this.advance(3_600_000);
    this.installRuntime();
  }

  /** Re-programs the licenses on the stick (remote programming): License entries are written again. */
  upgradeLicenses(): void {
    this.#licenseSet++;
    for (const firmCode of new Set(this.licenses.map((license) => license.firmCode))) this.#writeLicenses(firmCode);
  }

  /** CodeMeter's Borrow sections are emptied ("registry lost"), the service keeps running. */
  loseBorrowSections(): void {
    this.#copies.clear();
    this.#writeServerIni();
  }

  setHost(change: Partial<SimHost>): void {
    this.#host = { ...this.#host, ...change };
  }

  unplugStick(): void {
    if (this.#stick === "unplugged") return;
    this.#stick = "unplugged";
    this.#bus?.unplug(this.stickSerial);
    this.#writeState();
  }

  plugStick(): void {
    if (this.#stick === "here") return;
    this.#stick = "here";
    this.#bus?.plug(this.stickSerial);
    this.#writeState();
    if (this.running) {
      for (const firmCode of new Set(this.licenses.map((license) => license.firmCode))) this.#writeLicenses(firmCode);
    }
  }

  /** The stick goes to another computer and another stick is plugged in here instead. */
  moveStickAway(replacement = "3-7777001"): void {
    this.unplugStick();
    this.#stick = "elsewhere";
    if (!this.#otherSticks.has(replacement)) {
      this.#otherSticks.add(replacement);
      this.#bus?.addCodeMeterStick({ serial: replacement, productId: 0x2af9 });
    }
    this.#writeState();
  }

  /** The stick comes back from the other computer; the replacement leaves. */
  moveStickBack(): void {
    for (const serial of this.#otherSticks) this.#bus?.remove(serial);
    this.#otherSticks.clear();
    this.#stick = "unplugged";
    this.plugStick();
  }

  setTracking(on: boolean): void {
    this.#tracking = on;
    this.#writeServerIni();
  }

  setCmuBehaviour(behaviour: CmuBehaviour): void {
    this.#cmuBehaviour = behaviour;
    this.#writeState();
  }

  // ---- files -------------------------------------------------------------------------------

  #clientSerial(client: string): string {
    let serial = this.#clientSerials.get(client);
    if (serial === undefined) {
      serial = `3-${7_000_000 + this.#nextClient++}`;
      this.#clientSerials.set(client, serial);
    }
    return serial;
  }

  #borrowLine(borrow: SimBorrow): string {
    const version = this.#runtime.version;
    return (
      `${logTime(this.#now)} Borrow Server:${quoted(this.#host.hostname)}, ${idKey(version, "License")}:${borrow.licenseId}, ` +
      `${idKey(version, "Borrow")}:${borrow.borrowId}, Client:${quoted(borrow.client)}, User:${quoted(borrow.user)}, ` +
      `Expires:${borrow.expiresAt === null ? "never" : logTime(borrow.expiresAt)}, BorrowSn:${borrow.clientSerial}`
    );
  }

  #writeLicenses(firmCode: number): void {
    const version = this.#runtime.version;
    for (const license of this.licenses) {
      if (license.firmCode !== firmCode) continue;
      this.#log(
        firmCode,
        `${logTime(this.#now)} License Server:${quoted(this.#host.hostname)}, ${idKey(version, "License")}:${this.licenseId(license)}, ` +
          `SN:${this.stickSerial}, FC:${license.firmCode}, PC:${license.productCode}, FM:0, ET:never, LQ:${license.quantity}, PT:${quoted(license.text)}`,
      );
    }
  }

  #log(firmCode: number, line: string): void {
    if (!this.#tracking || !this.#runtime.installed) return;
    const file = join(this.paths.logDir, trackingLogName(firmCode));
    mkdirSync(this.paths.logDir, { recursive: true });
    if (!this.#written.has(file) || !existsSync(file)) {
      this.#written.add(file);
      if (!existsSync(file)) appendFileSync(file, `${this.#header(firmCode)}\n`);
    }
    appendFileSync(file, `${line}\n`);
  }

  #header(firmCode: number): string {
    // A made-up public key of zeros: the real key and signature scheme are WIBU's.
    return `${logTime(this.#now)} SignedLogfile FirmCode:${firmCode}, PublicKey:${"0".repeat(64)}, Runtime-Version:${this.#runtime.version}, LogfileId:1`;
  }

  /** A new runtime version starts new log files (renaming the old ones, as a rotation would). */
  #writeHeaders(): void {
    for (const firmCode of new Set(this.licenses.map((license) => license.firmCode))) {
      const file = join(this.paths.logDir, trackingLogName(firmCode));
      // A rename keeps the inode: a follower sees the old file under its new name.
      if (existsSync(file)) renameSync(file, `${file}.${logTime(this.#now).replaceAll(":", "")}`);
      this.#written.delete(file);
    }
  }

  #installFiles(): void {
    mkdirSync(dirname(this.paths.cmu), { recursive: true });
    const launcher = [
      `#!${this.#nodePath}`,
      "// SYNTHETIC: a stand-in for WIBU's cmu, written by keybridge's CodeMeter simulator.",
      `import(${JSON.stringify(pathToFileURL(standInScript()).href)}).then((m) => m.main(process.argv.slice(2), ${JSON.stringify(this.paths.state)}));`,
      "",
    ].join("\n");
    writeFileSync(this.paths.cmu, launcher);
    chmodSync(this.paths.cmu, 0o755);
    this.#writeServerIni();
    this.#writeState();
  }

  /**
   * Lays the configuration out as CodeMeter's Windows registry key in `writer` (a fake backend),
   * and keeps it there as the server changes, beside Server.ini.
   */
  attachRegistry(writer: RegistryTreeWriter): void {
    this.#registry = writer;
    this.#writeRegistry();
  }

  #writeRegistry(): void {
    if (this.#registry === undefined) return;
    const present = this.#runtime.installed && this.#configPresent;
    writeRegistryTree(this.#registry, present ? this.#serverSections() : null, this.#runtime.version);
  }

  #writeServerIni(): void {
    this.#writeRegistry();
    if (!this.#runtime.installed || !this.#configPresent) return;
    mkdirSync(dirname(this.paths.serverIni), { recursive: true });
    writeFileSync(this.paths.serverIni, serverIniText(this.#serverSections()));
  }

  #serverSections(): IniSectionText[] {
    const copies = [...this.#copies.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
    const opaque = (id: string, version: number) =>
      createHash("sha256").update(`synthetic|${id}|${version}`).digest("hex").slice(0, 32).toUpperCase();
    const sections: IniSectionText[] = [
      {
        name: "General",
        values: [
          ["NetworkPort", "22350"],
          ["CmWANPort", "22351"],
          ["BindAddress", "0.0.0.0"],
          ["IsNetworkServer", "1"],
          ["LogLicenseTracking", this.#tracking ? "1" : "0"],
          ["LogLicenseTrackingPath", this.paths.logDir],
        ],
      },
      { name: "BorrowClient", values: [] },
      {
        name: "BorrowServer",
        values: copies.map(([id, version], index) => [`Item${index}`, opaque(id, version)] as const),
      },
      {
        name: "BorrowManage",
        values:
          copies.length === 0
            ? []
            : [
                ["Count", String(copies.length)],
                ["Hash", opaque(copies.map(([id]) => id).join(","), 0)],
              ],
      },
      { name: "HTTP", values: [["Port", "22352"]] },
      { name: "HTTPS", values: [["Port", "22353"]] },
    ];
    return sections;
  }

  #writeState(): void {
    const state = {
      synthetic: true,
      version: this.#runtime.version,
      running: this.#runtime.installed && this.#runtime.running,
      containers: this.sticksHere(),
      behaviour: this.#cmuBehaviour,
    };
    writeFileSync(this.paths.state, `${JSON.stringify(state)}\n`);
  }
}
