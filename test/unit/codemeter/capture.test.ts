import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CAPTURE_FORMAT, redactLine } from "../../../src/codemeter/capture.js";
import { openLedger } from "../../../src/ledger/index.js";
import { tempDir, watchedWorld } from "./helpers.js";

// Captures of the SYNTHETIC simulated installation.

async function world() {
  const w = await watchedWorld();
  w.sim.advance(3_600_000);
  w.sim.borrow("ws-1", "anna", 1001);
  w.sim.borrow("ws-2", "anna", 2001);
  w.sim.advance(60_000);
  await w.look();
  return w;
}

describe("capture", () => {
  it("bundles cmu's outputs, the configuration with Borrow-section fingerprints, the last log lines, versions and the picture", async () => {
    const { watch, sim } = await world();
    const bundle = await watch.capture({ redact: false, lastLines: 4, note: "SYNTHETIC: simulated installation" });
    expect(bundle).toMatchObject({
      format: CAPTURE_FORMAT,
      version: 1,
      note: "SYNTHETIC: simulated installation",
      redaction: { enabled: false, method: null },
      versions: { runtime: "8.20a", node: process.versions.node },
      cmu: { state: "ok", finding: null },
      config: {
        state: "ok",
        where: sim.paths.serverIni,
        values: { LogLicenseTracking: "1", NetworkPort: 22350, "HTTP.Port": 22352 },
        borrowSections: { BorrowServer: { present: true, values: 2 } },
      },
    });
    expect(bundle.cmu.outputs.list).toContain("Result: 1 CmContainer(s) listed.");
    expect(bundle.tracking.files.map((file) => file.name)).toEqual([
      "synthetic-license-tracking-fc100532.log",
      "synthetic-license-tracking-fc6000010.log",
    ]);
    expect(bundle.tracking.files[0]?.lines).toHaveLength(4);
    expect(bundle.view.borrows.map((borrow) => borrow.client).sort()).toEqual(["ws-1", "ws-2"]);
    // The Borrow sections' content is never in the bundle, only its fingerprint.
    const ini = readFileSync(sim.paths.serverIni, "utf8");
    const borrowValues = [...ini.matchAll(/^(?:Item\d+|Hash)=(.+)$/gm)].map((match) => match[1]!);
    expect(borrowValues).toHaveLength(3);
    for (const value of borrowValues) expect(JSON.stringify(bundle)).not.toContain(value);
  });

  it("replaces client, user and server names by stable salted hashes unless redaction is off", async () => {
    const { watch } = await world();
    const bundle = await watch.capture();
    const text = JSON.stringify(bundle);
    for (const name of ["anna", "ws-1", "ws-2", "lic-srv"]) expect(text).not.toContain(name);
    expect(bundle.redaction).toEqual({
      enabled: true,
      method: "hmac-sha256",
      salt: "per-capture",
      keys: ["Client", "User", "Server"],
    });
    const users = new Set(bundle.view.borrows.map((borrow) => borrow.user));
    expect(users.size).toBe(1);
    const [hashedUser] = users;
    expect(text.split(`User:\\"${hashedUser}\\"`).length - 1).toBe(2);
    const again = await watch.capture();
    expect(again.view.borrows[0]?.user).not.toBe(hashedUser);
    const fixedA = await watch.capture({ salt: "site-salt" });
    const fixedB = await watch.capture({ salt: "site-salt" });
    expect(fixedA.view.borrows[0]?.user).toBe(fixedB.view.borrows[0]?.user);
    expect(fixedA.redaction.salt).toBe("fixed");
  });

  it("a line that does not parse is left out of a redacted bundle (it could hold anything)", () => {
    const hash = (value: string) => `h(${value})`;
    expect(redactLine('2026-03-02T08:00:00 Access Server:"srv", Client:"a \\"b\\"", User:"u"', hash)).toBe(
      '2026-03-02T08:00:00 Access Server:"h(srv)", Client:"h(a "b")", User:"h(u)"',
    );
    expect(redactLine("garbage with anna in it", hash)).toBe("<unreadable line of 23 bytes left out>");
  });
});

describe("the picture kept through trouble", () => {
  it("the log directory vanishes: a finding, the borrows still shown; cmu failing: a finding, the last version kept", async () => {
    const { watch, sim, look } = await world();
    rmSync(sim.paths.logDir, { recursive: true });
    sim.setCmuBehaviour("garbage");
    await look();
    const view = watch.view();
    expect(view.borrows).toHaveLength(2);
    expect(view.tracking.state).toBe("missing");
    expect(view.runtime).toMatchObject({ version: "8.20a", cmu: "failed" });
    expect(view.findings.map((finding) => finding.code).sort()).toEqual(["cmu-garbage", "tracking-dir-missing"]);
  });

  it("with the ledger as the store, a restart of keybridge keeps the borrows and the audit trail", async () => {
    const dir = tempDir();
    const ledger = openLedger({ dir: join(dir, "data") });
    const first = await watchedWorld({ store: ledger.codeMeterObservations() });
    first.sim.advance(60_000);
    const borrow = first.sim.borrow("ws-1", "anna", 1001);
    first.sim.advance(60_000);
    await first.look();
    await first.watch.close();
    ledger.close();
    const reopened = openLedger({ dir: join(dir, "data") });
    try {
      const second = await watchedWorld({
        world: first,
        store: reopened.codeMeterObservations(),
        positions: first.positions,
      });
      expect(second.watch.view().borrows.map((b) => b.borrowId)).toEqual([borrow.borrowId]);
      expect(reopened.listAudit({ kind: "codemeter-borrow-seen", limit: 5 })).toEqual([
        expect.objectContaining({
          serial: "3-6903986",
          details: expect.objectContaining({ borrowId: borrow.borrowId }),
        }),
      ]);
      await second.watch.close();
    } finally {
      reopened.close();
    }
  });
});
