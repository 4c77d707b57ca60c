import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { Requirement } from "../../support/require-tool.js";

const UNIT_PATH = fileURLToPath(new URL("../../../systemd/keybridge.service", import.meta.url));
const SYSUSERS_PATH = fileURLToPath(new URL("../../../systemd/keybridge.sysusers.conf", import.meta.url));
const unitSource = readFileSync(UNIT_PATH, "utf8");

/** section → key → every value assigned, in order (systemd keys such as DeviceAllow= repeat). */
type UnitFile = Map<string, Map<string, string[]>>;

function parseUnit(source: string): UnitFile {
  const unit: UnitFile = new Map();
  let section: Map<string, string[]> | undefined;
  source.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) return;
    const header = /^\[([A-Za-z]+)\]$/.exec(line);
    if (header !== null) {
      section = new Map();
      unit.set(header[1]!, section);
      return;
    }
    const assignment = /^([A-Za-z0-9]+)=(.*)$/.exec(line);
    if (assignment === null || section === undefined) throw new Error(`unit line ${index + 1}: cannot parse ${line}`);
    const [, key, value] = assignment;
    section.set(key!, [...(section.get(key!) ?? []), value!]);
  });
  return unit;
}

const unit = parseUnit(unitSource);
const service = unit.get("Service") ?? new Map<string, string[]>();
const only = (key: string): string | undefined => {
  const values = service.get(key);
  return values?.length === 1 ? values[0] : undefined;
};

const workDir = mkdtempSync(join(tmpdir(), "keybridge-systemd-"));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

/**
 * Runs systemd-analyze verify on a copy whose ExecStart points at a binary that exists here,
 * so the check does not depend on keybridge being installed. Returns the warnings about the
 * unit file itself; verify exits 0 on unknown keys and only prints them.
 */
function verifyUnit(source: string, name: string): { status: number | null; problems: string[] } {
  const dir = join(workDir, name);
  mkdirSync(dir, { recursive: true });
  const copy = join(dir, "keybridge.service");
  writeFileSync(copy, source.replace(/^ExecStart=\/usr\/bin\/keybridge /m, "ExecStart=/usr/bin/env "));
  const result = spawnSync("systemd-analyze", ["verify", copy], { encoding: "utf8" });
  if (result.error !== undefined) throw result.error;
  const problems = `${result.stdout}${result.stderr}`.split("\n").filter((line) => line.includes(copy));
  return { status: result.status, problems };
}

const ANALYZE = "/usr/bin/systemd-analyze";
const analyzeNeeded = Requirement.tool(ANALYZE);

describe("systemd/keybridge.service", () => {
  it(`passes systemd-analyze verify${analyzeNeeded.skipNote}`, (ctx) => {
    analyzeNeeded.check(ctx);
    expect(verifyUnit(unitSource, "shipped")).toEqual({ status: 0, problems: [] });
  });

  it(`verification reports a misspelt setting${analyzeNeeded.skipNote}`, (ctx) => {
    analyzeNeeded.check(ctx);
    const broken = unitSource.replace("ProtectHome=yes", "ProtectHomme=yes");
    const { problems } = verifyUnit(broken, "misspelt");
    expect(problems.join("\n")).toMatch(/ProtectHomme/);
  });

  it("starts `keybridge serve` from /usr/bin with the data dir in /var/lib/keybridge", () => {
    expect(only("ExecStart")).toBe("/usr/bin/keybridge serve --data-dir /var/lib/keybridge $KEYBRIDGE_SERVE_ARGS");
    expect(only("Type")).toBe("simple");
    expect(only("Restart")).toBe("on-failure");
    expect(only("StateDirectory")).toBe("keybridge");
    expect(only("StateDirectoryMode")).toBe("0700");
    expect(only("UMask")).toBe("0077");
  });

  it("takes optional settings from /etc/keybridge/keybridge.env, after the defaults", () => {
    expect(service.get("EnvironmentFile")).toEqual(["-/etc/keybridge/keybridge.env"]);
    expect(service.get("Environment")).toContain("KEYBRIDGE_SERVE_ARGS=");
    expect(service.get("Environment")).toContain("KEYBRIDGE_LOG_FORMAT=json");
  });

  it("runs as the keybridge system user and group", () => {
    expect(only("User")).toBe("keybridge");
    expect(only("Group")).toBe("keybridge");
    expect(only("SupplementaryGroups")).toBe("keybridge");
    expect(service.has("DynamicUser")).toBe(false);
  });

  it("is hardened", () => {
    const expected: Record<string, string> = {
      NoNewPrivileges: "yes",
      CapabilityBoundingSet: "",
      ProtectSystem: "strict",
      ProtectHome: "yes",
      PrivateTmp: "yes",
      ProtectKernelTunables: "yes",
      ProtectKernelModules: "yes",
      ProtectControlGroups: "yes",
      LockPersonality: "yes",
      RestrictRealtime: "yes",
      SystemCallArchitectures: "native",
      RestrictAddressFamilies: "AF_UNIX AF_INET AF_INET6 AF_NETLINK",
      DevicePolicy: "closed",
    };
    for (const [key, value] of Object.entries(expected)) expect(only(key), key).toBe(value);
  });

  it("lets the daemon reach hidraw and libusb nodes and nothing else of /dev", () => {
    expect(service.get("DeviceAllow")).toEqual(["char-hidraw rw", "char-usb_device rw"]);
    // PrivateDevices= would hide /dev/hidraw* and /dev/bus/usb entirely.
    expect(service.has("PrivateDevices")).toBe(false);
  });

  it("leaves MemoryDenyWriteExecute off, with the reason written down", () => {
    expect(service.has("MemoryDenyWriteExecute")).toBe(false);
    expect(unitSource).toMatch(/# MemoryDenyWriteExecute=[^\n]*(?:\n#[^\n]*)*?JIT/);
  });

  it("is enabled for multi-user.target", () => {
    expect(unit.get("Install")?.get("WantedBy")).toEqual(["multi-user.target"]);
  });
});

const SYSUSERS = "/usr/bin/systemd-sysusers";
const sysusersNeeded = Requirement.tool(SYSUSERS);

describe("systemd/keybridge.sysusers.conf", () => {
  it(`creates the keybridge user in the keybridge group${sysusersNeeded.skipNote}`, (ctx) => {
    sysusersNeeded.check(ctx);
    const root = join(workDir, "root");
    mkdirSync(join(root, "etc"), { recursive: true });
    for (const name of ["passwd", "group", "shadow", "gshadow"]) writeFileSync(join(root, "etc", name), "");
    // "-" reads the configuration from stdin; a path would be resolved inside --root.
    const result = spawnSync(SYSUSERS, [`--root=${root}`, "-"], {
      input: readFileSync(SYSUSERS_PATH),
      encoding: "utf8",
    });
    expect(result.status, result.stderr).toBe(0);

    const [user] = readFileSync(join(root, "etc", "passwd"), "utf8")
      .trim()
      .split("\n");
    const [group] = readFileSync(join(root, "etc", "group"), "utf8")
      .trim()
      .split("\n");
    const [name, , uid, gid, , home, shell] = (user ?? "").split(":");
    const [groupName, , groupId] = (group ?? "").split(":");
    expect({ name, home, shell }).toEqual({
      name: "keybridge",
      home: "/var/lib/keybridge",
      shell: "/usr/sbin/nologin",
    });
    expect(groupName).toBe("keybridge");
    expect(gid).toBe(groupId);
    // A system account: below the distribution's first regular uid.
    expect(Number(uid)).toBeLessThan(1000);
  });
});
