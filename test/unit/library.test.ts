import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { firstValueFrom } from "rxjs";
import { filter } from "rxjs/operators";
import { describe, expect, it } from "vitest";
import { isCodedError, openBridge, type RiskView, STATUS_BY_CODE } from "../../src/index.js";

// The package entry, used the way docs/library.md shows: open, borrow, watch risks, map errors, close.
describe('library entry (import { openBridge } from "keybridge")', () => {
  it("embeds keybridge: a borrow, a risk on unplug, a typed error with its HTTP status", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "keybridge-library-"));
    const bridge = await openBridge({ dataDir, mode: "virtual", hostPollMs: 60_000, clockCheckMs: 60_000 });
    try {
      const borrow = await bridge.borrow({ product: 1001, client: "ws-embedded", days: 14 });
      expect(borrow).toMatchObject({ product: 1001, client: "ws-embedded", state: "active" });

      const unplugged = firstValueFrom(
        bridge.risks$.pipe(filter((open: RiskView[]) => open.some((risk) => risk.kind === "key-unplugged"))),
      );
      await bridge.virtual?.unplug(borrow.serial);
      const open = await unplugged;
      expect(open.find((risk) => risk.kind === "key-unplugged")?.borrowIds).toContain(borrow.id);

      const refused = await bridge.borrow({ product: 1001, client: "ws-2" }).catch((error: unknown) => error);
      expect(isCodedError(refused) && refused.code).toBe("KEY_ABSENT");
      expect(isCodedError(refused) && STATUS_BY_CODE[refused.code]?.status).toBe(503);

      await bridge.virtual?.plug(borrow.serial);
      await expect(bridge.returnBorrow(borrow.id)).resolves.toMatchObject({ outcome: "returned" });
    } finally {
      await bridge.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
