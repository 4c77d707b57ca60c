import { readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { canonicalJson, sha256Hex } from "../../../src/ledger/checksum.js";
import {
  type Ledger,
  LedgerExportCorruptError,
  LedgerExportUnsupportedError,
  LedgerImportConflictError,
} from "../../../src/ledger/index.js";
import { hex, openTracked, sampleBorrow, tempDir } from "./helpers.js";

function populated(): { ledger: Ledger; file: string } {
  const ledger = openTracked({ dir: tempDir() });
  ledger.pinKey("KB-0001", "aa".repeat(32), 10);
  ledger.insertBorrow(sampleBorrow({ id: 1 }));
  ledger.insertBorrow(sampleBorrow({ id: 2, state: "dummy", dummyUntil: 99 }));
  ledger.insertBorrow(sampleBorrow({ id: 3, state: "returned" }));
  ledger.beginOp({ opId: hex(16), kind: "return", serial: "KB-0001", borrowId: 1, step: "settle-sent" });
  const file = join(dirname(ledger.dir), "export.json");
  ledger.export(file);
  return { ledger, file };
}

describe("ledger export and import", () => {
  it("writes a 0600 file that another ledger imports to take over the outstanding borrows", () => {
    const { ledger: source, file } = populated();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const target = openTracked({ dir: tempDir() });
    const summary = target.import(file);
    expect(summary).toMatchObject({ sourceInstanceId: source.instanceId, keys: 1, borrows: 2, pendingOps: 1 });
    expect(summary.adoptedSecret).toBe(true);
    expect(target.listOutstanding()).toEqual(source.listOutstanding());
    expect(target.getPinnedKey("KB-0001")?.publicKey).toBe("aa".repeat(32));
    expect(target.listPendingOps().map((op) => op.step)).toEqual(["settle-sent"]);
    expect(target.serverSecret().equals(source.serverSecret())).toBe(true);
    const opId = hex(16);
    expect(target.deriveTag(opId).equals(source.deriveTag(opId))).toBe(true);
    expect(target.listAudit({ kind: "ledger-import", limit: 5 })).toHaveLength(1);
    expect(source.listAudit({ kind: "ledger-export", limit: 5 })).toHaveLength(1);
    expect(source.getMeta("last_export_at")).toBeDefined();
  });

  it("imports the same file twice without conflict", () => {
    const { file } = populated();
    const target = openTracked({ dir: tempDir() });
    target.import(file);
    expect(() => target.import(file)).not.toThrow();
    expect(target.listOutstanding()).toHaveLength(2);
  });

  it("detects any change to the file's content", () => {
    const { file } = populated();
    const document = JSON.parse(readFileSync(file, "utf8"));
    document.body.borrows[0].binding = hex(32);
    writeFileSync(file, JSON.stringify(document));
    const target = openTracked({ dir: tempDir() });
    expect(() => target.import(file)).toThrow(LedgerExportCorruptError);
    try {
      target.import(file);
    } catch (error) {
      expect((error as Error).message).toMatch(/export\.json is damaged or was modified \(checksum mismatch/);
    }
    expect(target.listOutstanding()).toEqual([]);
  });

  it("detects truncation and garbage, and refuses newer format versions", () => {
    const { file } = populated();
    const text = readFileSync(file, "utf8");
    const target = openTracked({ dir: tempDir() });
    writeFileSync(file, text.slice(0, text.length / 2));
    expect(() => target.import(file)).toThrow(LedgerExportCorruptError);
    writeFileSync(file, JSON.stringify({ hello: "world" }));
    expect(() => target.import(file)).toThrow(LedgerExportCorruptError);
    writeFileSync(file, JSON.stringify({ ...JSON.parse(text), version: 99 }));
    expect(() => target.import(file)).toThrow(LedgerExportUnsupportedError);
  });

  it("refuses to merge over different outstanding borrows for the same serial unless forced", () => {
    const { file } = populated();
    const target = openTracked({ dir: tempDir() });
    const own = target.insertBorrow(sampleBorrow({ id: 500 }));
    expect(() => target.import(file)).toThrow(LedgerImportConflictError);
    expect(target.listOutstanding()).toEqual([own]);

    const summary = target.import(file, { force: true });
    expect(summary.forced).toBe(true);
    expect(summary.adoptedSecret).toBe(false);
    expect(target.listOutstanding()).toHaveLength(3);
    expect(target.serverSecrets()).toHaveLength(2);
    const entry = target.listAudit({ kind: "ledger-import", limit: 1 })[0];
    expect(entry?.message).toContain("forced");
  });

  it("refuses a different pinned public key for the same serial", () => {
    const { file } = populated();
    const target = openTracked({ dir: tempDir() });
    target.pinKey("KB-0001", "bb".repeat(32), 1);
    expect(() => target.import(file)).toThrow(LedgerImportConflictError);
    target.import(file, { force: true });
    expect(target.getPinnedKey("KB-0001")?.publicKey).toBe("aa".repeat(32));
  });
});

describe("an edited export is refused even with its checksum recomputed", () => {
  const rewrite = (
    file: string,
    edit: (body: Record<string, unknown> & { borrows: Record<string, unknown>[] }) => void,
  ) => {
    const document = JSON.parse(readFileSync(file, "utf8"));
    edit(document.body);
    document.sha256 = sha256Hex(
      canonicalJson({ format: document.format, version: document.version, body: document.body }),
    );
    writeFileSync(file, JSON.stringify(document));
  };

  /** An export whose borrows carry the tags keybridge derives: HMAC of the opId under the ledger's secret. */
  function derivedExport(): { file: string; opIds: string[] } {
    const ledger = openTracked({ dir: tempDir() });
    const opIds = [hex(16), hex(16)];
    for (const [i, opId] of opIds.entries()) {
      ledger.insertBorrow(sampleBorrow({ id: i + 1, opId, tag: ledger.deriveTag(opId).toString("hex") }));
    }
    const file = join(dirname(ledger.dir), "export.json");
    ledger.export(file);
    return { file, opIds };
  }

  it("a tag changed (and the SHA-256 recomputed) is refused, naming the borrow; nothing is imported", () => {
    const { file } = derivedExport();
    expect(JSON.parse(readFileSync(file, "utf8")).body.tagSeals).toEqual({});
    rewrite(file, (body) => {
      (body.borrows[1] as { tag: string }).tag = hex(16);
    });
    const target = openTracked({ dir: tempDir() });
    let refused: unknown;
    try {
      target.import(file);
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(LedgerExportCorruptError);
    expect((refused as LedgerExportCorruptError).details).toMatchObject({
      reason: "tag-mismatch",
      rows: ["KB-0001/2"],
    });
    expect((refused as Error).message).toMatch(
      /was modified: the tag of borrow\(s\) KB-0001\/2 is not the one derived/,
    );
    expect(target.listOutstanding()).toEqual([]);
  });

  it("an opId changed under its tag is refused the same way", () => {
    const { file } = derivedExport();
    rewrite(file, (body) => {
      (body.borrows[0] as { opId: string }).opId = hex(16);
    });
    expect(() => openTracked({ dir: tempDir() }).import(file)).toThrow(/tag of borrow\(s\) KB-0001\/1 is not/);
  });

  it("a tag keybridge did not derive (adopted from the registry) is sealed at export, imports, and its edit is refused", () => {
    const { file } = populated();
    const document = JSON.parse(readFileSync(file, "utf8"));
    expect(Object.keys(document.body.tagSeals).sort()).toEqual(["KB-0001/1", "KB-0001/2"]);
    expect(openTracked({ dir: tempDir() }).import(file).borrows).toBe(2);

    rewrite(file, (body) => {
      (body.borrows[0] as { tag: string }).tag = hex(16);
    });
    expect(() => openTracked({ dir: tempDir() }).import(file)).toThrow(/tag of borrow\(s\) KB-0001\/1 is not/);
  });

  it("a seal removed is refused", () => {
    const { file } = populated();
    rewrite(file, (body) => {
      body.tagSeals = {};
    });
    expect(() => openTracked({ dir: tempDir() }).import(file)).toThrow(/KB-0001\/1, KB-0001\/2/);
  });
});
