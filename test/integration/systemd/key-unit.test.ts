/**
 * systemd/keybridge-key.service, the unit that runs a key on a board: it verifies, and its
 * commands are the `keybridge key` commands with the CLI's own defaults. The QEMU guest runs
 * these same command lines (test/vm/guest/lib/key-unit.mjs) against a real kernel's gadget.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_DEVICE, DEFAULT_GADGET_DIR, DEFAULT_STATE_PATH } from "../../../native-mocks/board/index.js";
import { Requirement } from "../../support/require-tool.js";

const UNIT_PATH = fileURLToPath(new URL("../../../systemd/keybridge-key.service", import.meta.url));
const source = readFileSync(UNIT_PATH, "utf8");
const ANALYZE = "/usr/bin/systemd-analyze";
const analyzeNeeded = Requirement.tool(ANALYZE);
const workDir = mkdtempSync(join(tmpdir(), "keybridge-key-unit-"));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

function section(name: string): Map<string, string[]> {
  const values = new Map<string, string[]>();
  let current: string | undefined;
  for (const raw of source.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header !== null) {
      current = header[1];
      continue;
    }
    const [, key, value] = /^(\w+)=(.*)$/.exec(line) ?? [];
    if (current === name && key !== undefined) values.set(key, [...(values.get(key) ?? []), value ?? ""]);
  }
  return values;
}

const service = section("Service");
const only = (key: string) => {
  const values = service.get(key);
  return values?.length === 1 ? values[0] : undefined;
};

/** Verifies a copy whose commands point at a binary that exists here (keybridge need not be installed). */
function verify(text: string, name: string): { status: number | null; problems: string[] } {
  const copy = join(workDir, name, "keybridge-key.service");
  rmSync(join(workDir, name), { recursive: true, force: true });
  mkdirSync(join(workDir, name), { recursive: true });
  writeFileSync(copy, text.replaceAll("/usr/bin/keybridge ", "/usr/bin/env "));
  const result = spawnSync(ANALYZE, ["verify", copy], { encoding: "utf8" });
  const problems = `${result.stdout}${result.stderr}`.split("\n").filter((line) => line.includes(copy));
  return { status: result.status, problems };
}

describe("systemd/keybridge-key.service", () => {
  it(`passes systemd-analyze verify${analyzeNeeded.skipNote}`, (ctx) => {
    analyzeNeeded.check(ctx);
    expect(verify(source, "shipped")).toEqual({ status: 0, problems: [] });
  });

  it(`verification would report a misspelt setting${analyzeNeeded.skipNote}`, (ctx) => {
    analyzeNeeded.check(ctx);
    expect(verify(source.replace("ProtectHome=yes", "ProtectHomme=yes"), "misspelt").problems.join("\n")).toMatch(
      /ProtectHomme/,
    );
  });

  it("sets the key up, serves it and tears it down on every stop, restarting it always", () => {
    expect(service.get("ExecStartPre")).toEqual(["/usr/bin/keybridge key setup"]);
    expect(only("ExecStart")).toBe("/usr/bin/keybridge key serve");
    expect(service.get("ExecStopPost")).toEqual(["/usr/bin/keybridge key teardown"]);
    expect(only("Restart")).toBe("always");
  });

  it("its locations are the CLI's own defaults, overridable from /etc/keybridge/key.env", () => {
    expect(service.get("Environment")).toEqual([
      `KEYBRIDGE_KEY_STATE=${DEFAULT_STATE_PATH}`,
      `KEYBRIDGE_KEY_GADGET=${DEFAULT_GADGET_DIR}`,
      "KEYBRIDGE_KEY_UDC=",
      `KEYBRIDGE_KEY_DEVICE=${DEFAULT_DEVICE}`,
    ]);
    expect(service.get("EnvironmentFile")).toEqual(["-/etc/keybridge/key.env"]);
    expect(section("Unit").get("ConditionPathExists")).toEqual([DEFAULT_STATE_PATH]);
    expect(only("StateDirectory")).toBe("keybridge-key");
    expect(`/var/lib/${only("StateDirectory")}/key.json`).toBe(DEFAULT_STATE_PATH);
  });

  it("keeps the key's state private and the service away from network and kernel modules", () => {
    expect(only("StateDirectoryMode")).toBe("0700");
    expect(only("UMask")).toBe("0077");
    expect(only("PrivateNetwork")).toBe("yes");
    expect(only("ProtectKernelModules")).toBe("yes");
    expect(only("ProtectSystem")).toBe("strict");
    // Either would break the key: /sys must stay writable for configfs, /dev/hidg0 visible.
    expect(service.has("ProtectKernelTunables")).toBe(false);
    expect(service.has("PrivateDevices")).toBe(false);
  });
});
