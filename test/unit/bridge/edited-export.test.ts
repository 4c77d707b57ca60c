import { describe, expect, it } from "vitest";
import { canonicalJson, sha256Hex } from "../../../src/ledger/checksum.js";
import { openVirtual } from "./helpers.js";

describe("an edited ledger export does not reach the key", () => {
  it("a tag edited with the checksum recomputed is refused by importLedgerText, naming the borrow", async () => {
    const source = await openVirtual();
    const borrow = await source.borrow({ product: 1001, client: "ws-a" });
    const { text } = await source.exportLedgerText();
    const document = JSON.parse(text);
    document.body.borrows[0].tag = "ab".repeat(16);
    document.sha256 = sha256Hex(
      canonicalJson({ format: document.format, version: document.version, body: document.body }),
    );

    const target = await openVirtual();
    await expect(target.importLedgerText(JSON.stringify(document))).rejects.toMatchObject({
      code: "LEDGER_EXPORT_CORRUPT",
      details: { reason: "tag-mismatch", rows: [`${borrow.serial}/${borrow.id}`] },
    });
    expect(await target.borrows()).toEqual([]);
    // The unedited export imports (forced: this virtual world has its own demo key of that serial).
    await expect(target.importLedgerText(text, { force: true })).resolves.toMatchObject({ borrows: 1 });
  });
});
