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

describe('library notifications (import { Notifier, resolveWebhooks } from "keybridge")', () => {
  it("an embedding service sends the bridge's risks to its own webhook", async () => {
    const { createServer: createHttpServer } = await import("node:http");
    const { Notifier, resolveWebhooks } = await import("../../src/index.js");
    const received: string[] = [];
    const receiver = createHttpServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => {
        body += chunk.toString();
      });
      req.on("end", () => {
        received.push(body);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const address = receiver.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    const dataDir = mkdtempSync(join(tmpdir(), "keybridge-library-"));
    const bridge = await openBridge({ dataDir, mode: "virtual", hostPollMs: 60_000, clockCheckMs: 60_000 });
    const notifier = new Notifier(bridge, resolveWebhooks([{ url: `http://127.0.0.1:${port}/hook` }]), {
      outboxFile: join(dataDir, "notify-outbox.db"),
    });
    notifier.start();
    try {
      const borrow = await bridge.borrow({ product: 1001, client: "ws-embedded" });
      await bridge.virtual?.unplug(borrow.serial);
      await expect.poll(() => received.length, { timeout: 5_000 }).toBeGreaterThan(0);
      expect(JSON.parse(received[0] ?? "{}")).toMatchObject({ type: "risk.raised", risk: { kind: "key-unplugged" } });
    } finally {
      await notifier.close();
      await bridge.close();
      await new Promise((resolve) => receiver.close(resolve));
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
