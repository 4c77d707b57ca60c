import { chmodSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { overriding } from "../server/helpers.js";
import { type CliHarness, runCli, startCli } from "./cli-harness.js";

let h: CliHarness;
beforeEach(async () => {
  h = await startCli();
});
afterEach(async () => {
  await h.close();
});

function writeLicenses(dir: string): string {
  const file = join(dir, "licenses.json");
  writeFileSync(file, JSON.stringify({ licenses: [{ product: 1001, seats: 10, borrowable: 4, borrowDays: 30 }] }));
  return file;
}

const borrowOne = async (client = "ws-07") => {
  const r = await h.cli("borrow", "1001", "--client", client, "--json");
  expect(r.code, r.stderr).toBe(0);
  return r.json as { id: number; state: string };
};

describe("read commands", () => {
  it("status --json has keys, borrows, dummies, risks; the table names the parts", async () => {
    const json = await h.cli("status", "--json");
    expect(json.code).toBe(0);
    expect(Object.keys(json.json as object)).toEqual(expect.arrayContaining(["keys", "borrows", "dummies", "risks"]));
    const text = await h.cli("status");
    expect(text.stdout).toMatch(/1 of 1 key\(s\) present, 0 borrow\(s\) out/);
    expect(text.stdout).toMatch(/No open risks/);
    expect(text.stdout).toMatch(/last export: never \(keybridge ledger export FILE\)/);
  });

  it("keys prints aligned columns; --json an array of keys", async () => {
    const text = await h.cli("keys");
    const lines = text.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^SERIAL\s+PRESENT\s+PRODUCT\s+SEATS\s+BORROWABLE\s+BORROWED\s+DUMMIES\s+DAYS$/);
    expect(lines[1]).toMatch(/^KB-0001\s+yes\s+1001 CAD Pro\s+10\s+4\s+0\s+0\s+30$/);
    expect(lines[0]!.indexOf("SEATS")).toBe(lines[1]!.search(/ 10 /) + 1);
    const json = await h.cli("keys", "--json");
    expect(Array.isArray(json.json)).toBe(true);
    expect((json.json as { serial: string }[])[0]!.serial).toBe("KB-0001");
  });

  it("global options are accepted before or after the command", async () => {
    const before = await runCli(["--json", "--data-dir", h.dataDir, "keys"]);
    const after = await runCli(["keys", "--data-dir", h.dataDir, "--json"]);
    expect(before.code).toBe(0);
    // Each key's clock (keyTime) is read at each answer; everything else is the same.
    const withoutClock = (keys: unknown) => (keys as { keyTime?: string }[]).map(({ keyTime: _, ...key }) => key);
    expect(withoutClock(before.json)).toEqual(withoutClock(after.json));
    const viaUrl = await runCli(["--url", h.url, "keys", "--json"], {
      KEYBRIDGE_TOKEN: "test-token-0123456789abcdefghijklmnopqrstuv",
      HOME: "/nonexistent",
    });
    expect(viaUrl.code, viaUrl.stderr).toBe(0);
  });
});

describe("borrow and return", () => {
  it("borrow prints the borrow; borrows lists it with time left; return frees it", async () => {
    const text = await h.cli("borrow", "1001", "--client", "ws-07", "--days", "14");
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(
      /^Borrowed product 1001 for ws-07: borrow 1 on key KB-0001, expires \d{4}-\d\d-\d\d \d\d:\d\d \(in 1[34] d\)\.$/m,
    );
    const list = await h.cli("borrows");
    expect(list.stdout).toMatch(/^1\s+KB-0001\s+1001\s+ws-07\s+active\s+/m);
    expect(list.stdout).toMatch(/\(in 1[34] d\)/);
    const json = await h.cli("borrows", "--json");
    expect(json.json).toEqual([
      expect.objectContaining({ id: 1, serial: "KB-0001", product: 1001, client: "ws-07", state: "active" }),
    ]);
    const returned = await h.cli("return", "1");
    expect(returned.code).toBe(0);
    expect(returned.stdout).toBe("Returned borrow 1 (product 1001, client ws-07).\n");
    expect((await h.cli("borrows")).stdout).toBe("No borrows.\n");
  });

  it("return --json shows the borrow as returned", async () => {
    const b = await borrowOne();
    const returned = await h.cli("return", String(b.id), "--json");
    expect(returned.code, returned.stderr).toBe(0);
    expect(returned.json).toMatchObject({ outcome: "returned", borrow: { id: b.id, state: "returned" } });
  });

  it("a return the key answers with a dummy says so and exits 1", async () => {
    // The key answering a return with a dummy is a race (it made the dummy unseen, K4) that the
    // virtual bridge does not run into by itself: this server's bridge answers every return so,
    // with the real dummy a forced license update made.
    await h.close();
    h = await startCli({
      serve: (bridge) =>
        overriding(bridge, {
          returnBorrow: async (id: number) => ({ borrow: await bridge.getBorrow(id), outcome: "dummy" }),
        }),
    });
    const held = await borrowOne("ws-held");
    await h.cli("license-update", "KB-0001", writeLicenses(h.dataDir), "--force");
    const dummy = await h.cli("return", String(held.id));
    expect(dummy.code).toBe(1);
    expect(dummy.stdout).toMatch(/^Borrow \d+ was NOT returned: key KB-0001 holds it as a borrow dummy until \d{4}-/);
    const json = await h.cli("return", String(held.id), "--json");
    expect(json.code).toBe(1);
    expect(json.json).toMatchObject({ outcome: "dummy", borrow: { id: held.id, state: "dummy" } });
  });

  it("borrow --json has the contract's fields", async () => {
    const b = await borrowOne();
    expect(Object.keys(b)).toEqual(
      expect.arrayContaining(["id", "serial", "product", "client", "issuedAt", "expiresAt", "state"]),
    );
  });

  it("refusals exit 1 with the code on stderr", async () => {
    await borrowOne("a");
    await borrowOne("b");
    await borrowOne("c");
    await borrowOne("d");
    const refused = await h.cli("borrow", "1001", "--client", "e");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/No more licenses are available for borrowing: .* \[NO_BORROWABLE\]/);
    const missing = await h.cli("return", "999", "--json");
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stderr)).toMatchObject({ error: { code: "UNKNOWN_BORROW", status: 404 } });
  });
});

describe("usage errors exit 2", () => {
  it.each([
    [["dance"]],
    [["keys", "--colour"]],
    [["borrow", "abc", "--client", "x"]],
    [["borrow", "1001"]],
    [["return"]],
    [["preflight", "dance"]],
    [["virtual", "clock", "--advance", "soon"]],
    [["borrows", "--state", "lost"]],
    [[]],
  ])("%j", async (args) => {
    const r = await h.cli(...args);
    expect(r.code).toBe(2);
    expect(r.stderr.length + r.stdout.length).toBeGreaterThan(0);
  });
});

describe("preflight", () => {
  it("exit 0 when safe, 3 when unsafe, with reasons", async () => {
    const safe = await h.cli("preflight", "unplug-key", "--json");
    expect(safe.code).toBe(0);
    expect(safe.json).toMatchObject({ action: "unplug-key", safe: true, reasons: [] });
    await borrowOne();
    const unsafe = await h.cli("preflight", "unplug-key");
    expect(unsafe.code).toBe(3);
    expect(unsafe.stdout).toMatch(
      /^UNSAFE: do not unplug key now\.\n {2}- Borrow 1 of product 1001 by client "ws-07" /,
    );
    const json = await h.cli("preflight", "unplug-key", "--json");
    expect(json.code).toBe(3);
    expect(json.json).toMatchObject({ action: "unplug-key", safe: false });
  });
});

describe("other commands", () => {
  it("reconcile and reconcile --repair", async () => {
    await borrowOne();
    const healthy = await h.cli("reconcile", "--json");
    expect(healthy.code).toBe(0);
    expect((healthy.json as { findings: unknown[] }).findings).toEqual([]);
    // A forced license update turns the borrow into a dummy: a finding no repair can undo.
    await h.cli("license-update", "KB-0001", writeLicenses(h.dataDir), "--force");
    const dry = await h.cli("reconcile", "--json");
    expect((dry.json as { findings: unknown[] }).findings).toHaveLength(1);
    expect((await h.cli("reconcile")).stdout).toMatch(
      /^SEVERITY\s+KIND\s+BORROW\s+MESSAGE\s+REPAIR\nwarning\s+dummy\s+1 /,
    );
    const repair = await h.cli("reconcile", "--repair", "--json");
    expect(repair.json).toMatchObject({ applied: [], findings: [expect.objectContaining({ kind: "dummy" })] });
  });

  it("migrate", async () => {
    await borrowOne();
    const r = await h.cli("migrate");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/already-current/);
    expect(r.stdout).toMatch(/0 rebound, 0 failed\./);
  });

  it("license-update reads and validates the file; refused while borrowed unless --force", async () => {
    const file = join(h.dataDir, "licenses.json");
    writeFileSync(file, JSON.stringify({ licenses: [{ product: 1001, seats: 20, borrowable: 8, borrowDays: 30 }] }));
    const bad = join(h.dataDir, "bad.json");
    writeFileSync(bad, JSON.stringify({ licenses: [{ product: 1001, seats: -1, borrowable: 8, borrowDays: 30 }] }));
    const invalid = await h.cli("license-update", "KB-0001", bad);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/licenses\.0\.seats: .*\[FILE_INVALID\]/);
    const missing = await h.cli("license-update", "KB-0001", join(h.dataDir, "nope.json"));
    expect(missing.stderr).toMatch(/FILE_UNREADABLE/);
    await borrowOne();
    const refused = await h.cli("license-update", "KB-0001", file);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/BORROWS_OUTSTANDING/);
    const forced = await h.cli("license-update", "KB-0001", file, "--force");
    expect(forced.code).toBe(0);
    expect(forced.stdout).toMatch(/license set version 2 \(forced\)[\s\S]*became Borrow Dummies/);
  });

  it("ledger export writes the file 0600; ledger import reads it back", async () => {
    await borrowOne();
    const file = join(h.dataDir, "ledger.export");
    const exported = await h.cli("ledger", "export", file, "--json");
    expect(exported.code).toBe(0);
    expect(exported.json).toEqual({ file, borrows: 1, keys: 1 });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, "utf8")).toMatch(/keybridge-ledger-export/);
    // An existing file readable by others is replaced by a private one, not written into.
    const existing = join(h.dataDir, "shared.export");
    writeFileSync(existing, "old", { mode: 0o644 });
    chmodSync(existing, 0o644);
    expect((await h.cli("ledger", "export", existing)).code).toBe(0);
    expect(statSync(existing).mode & 0o777).toBe(0o600);
    expect(readFileSync(existing, "utf8")).toMatch(/keybridge-ledger-export/);
    // A borrow made since the export is outstanding here and not in the file: importing it would lose it.
    await borrowOne("ws-later");
    const conflict = await h.cli("ledger", "import", file);
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toMatch(/LEDGER_IMPORT_CONFLICT/);
    const forced = await h.cli("ledger", "import", file, "--force");
    expect(forced.code).toBe(0);
    expect(forced.stdout).toBe(`Imported 1 borrow(s) of 1 key(s) from ${file}.\n`);
  });

  it("virtual commands", async () => {
    expect((await h.cli("virtual", "create", "--serial", "KB-0002")).stdout).toBe("Created virtual key KB-0002.\n");
    expect((await h.cli("virtual", "keys")).stdout).toMatch(/KB-0002\s+yes/);
    expect((await h.cli("virtual", "unplug", "KB-0002")).stdout).toBe("Virtual key KB-0002 unplugged.\n");
    expect((await h.cli("virtual", "plug", "KB-0002")).stdout).toBe("Virtual key KB-0002 plugged in.\n");
    const clock = await h.cli("virtual", "clock", "--advance", "31d", "--json");
    expect(Date.parse((clock.json as { keyTime: string }).keyTime)).toBeGreaterThan(Date.now() + 30 * 86_400_000);
    const host = await h.cli("virtual", "host", "--ip", "192.0.2.20", "--machine-id", "m1", "--json");
    expect(host.json).toMatchObject({ ips: ["192.0.2.20"], machineId: "m1" });
    expect((await h.cli("virtual", "wipe-registry")).stdout).toBe("Registry wiped.\n");
  });

  it("events without --follow prints what happened, oldest first; with --follow streams events as JSON lines", async () => {
    await borrowOne();
    await h.cli("virtual", "unplug", "KB-0001");
    const now = await h.cli("events", "--json");
    expect(now.code).toBe(0);
    const past = now.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { type: string; seq: number });
    expect(past.map((event) => event.type)).toEqual(expect.arrayContaining(["borrow.created", "key.detached"]));
    expect(past.map((event) => event.seq)).toEqual([...past.map((event) => event.seq)].sort((a, b) => a - b));
    const newest = await h.cli("events", "--limit", "1");
    expect(newest.stdout.trim().split("\n")).toHaveLength(1);
    expect(newest.stdout).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d risk\.raised: /);
    expect(newest.stderr).toContain("older events are not shown");
    const later = await h.cli("events", "--after", String(past.at(-1)!.seq), "--json");
    expect(later.stdout).toBe("");
    expect((await h.cli("events", "--limit", "0")).code).not.toBe(0);
    const following = h.cli("events", "--follow", "--json");
    await new Promise((resolve) => setTimeout(resolve, 100));
    await h.api("/v1/virtual/keys/KB-0001/plug", { method: "POST" });
    const r = await following;
    expect(r.code).toBe(0);
    const types = r.stdout
      .trim()
      .split("\n")
      .map((line) => (JSON.parse(line) as { type: string }).type);
    // The open risk first (the state when following began), then what plugging the key in changed.
    expect(types[0]).toBe("risk.raised");
    expect(types.slice(1)).toEqual(expect.arrayContaining(["key.attached", "risk.cleared"]));
  });

  it("audit lists the durable trail newest first; --since takes a duration or an ISO time", async () => {
    await borrowOne();
    const file = join(h.dataDir, "licenses.json");
    writeFileSync(file, JSON.stringify({ licenses: [{ product: 1001, seats: 10, borrowable: 4, borrowDays: 30 }] }));
    expect((await h.cli("license-update", "KB-0001", file, "--force")).code).toBe(0);
    const text = await h.cli("audit", "--since", "1d");
    expect(text.code, text.stderr).toBe(0);
    const lines = text.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ID\s+AT\s+KIND\s+SERIAL\s+BORROW\s+WHAT HAPPENED$/);
    expect(lines[1]).toMatch(
      /^\d+\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+license-update-forced\s+KB-0001\s+-\s+licenses of key KB-0001 replaced/,
    );
    const json = await h.cli("audit", "--kind", "license-update-forced", "--json");
    expect(json.json).toMatchObject([{ kind: "license-update-forced", serial: "KB-0001" }]);
    expect((await h.cli("audit", "--since", "2999-01-01T00:00:00Z")).stdout).toBe("No audit entries.\n");
    const bad = await h.cli("audit", "--since", "last tuesday");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--since must be a duration such as 7d or an ISO time");
  });

  it("--help on every command shows an example", async () => {
    for (const args of [
      [],
      ["serve"],
      ["status"],
      ["borrow"],
      ["preflight"],
      ["ledger", "export"],
      ["audit"],
      ["events"],
      ["virtual", "clock"],
      ["config"],
    ]) {
      const r = await h.cli(...args, "--help");
      expect(r.code, args.join(" ")).toBe(0);
      expect(r.stdout, args.join(" ")).toMatch(/Example/);
    }
  });
});

describe("daemon not running", () => {
  it("says how to start it and exits 1", async () => {
    await h.server.close();
    const r = await h.cli("status");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`keybridge daemon is not running at ${h.url} — start it with \`keybridge serve\``);
  });
});
