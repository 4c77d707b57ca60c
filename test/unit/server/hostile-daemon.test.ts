import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { OpenedBridge } from "../../../src/bridge/open.js";
import { createServer, type KeybridgeServer } from "../../../src/server/app.js";
import { closeBridge, openVirtual, tempDataDir } from "../bridge/helpers.js";
import { TOKEN } from "./helpers.js";

let server: KeybridgeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(bridge: OpenedBridge): Promise<string> {
  server = await createServer({ bridge, token: TOKEN });
  return server.listen("127.0.0.1", 0);
}

const auth = { authorization: `Bearer ${TOKEN}` };
/** 15 MB of nothing but nesting: what made the daemon overflow its stack and take a gigabyte. */
const NESTED = `${"[".repeat(7_500_000)}${"]".repeat(7_500_000)}`;

describe("a deeply nested import is refused before it is parsed", () => {
  it("POST /v1/ledger/import of 15 MB of nesting: 400 LEDGER_EXPORT_CORRUPT, the daemon answers on", async () => {
    const bridge = await openVirtual();
    const url = await serve(bridge);
    const response = await fetch(`${url}/v1/ledger/import`, { method: "POST", headers: auth, body: NESTED });
    expect(response.status).toBe(400);
    const problem = (await response.json()) as { code: string; detail: string };
    expect(problem.code).toBe("LEDGER_EXPORT_CORRUPT");
    expect(problem.detail).toMatch(/nested deeper than 32 levels at character 32/);
    expect((await fetch(`${url}/v1/health`)).status).toBe(200);

    // A real export still imports.
    const exported = await fetch(`${url}/v1/ledger/export`, { headers: auth });
    const imported = await fetch(`${url}/v1/ledger/import`, {
      method: "POST",
      headers: auth,
      body: await exported.text(),
    });
    expect(imported.status).toBe(200);
  });

  it("the library refuses a nested file the same way, and objects nested in strings do not count", async () => {
    const bridge = await openVirtual();
    const file = join(tempDataDir(), "nested.json");
    writeFileSync(file, `{"format":"keybridge-ledger-export","body":${'{"a":'.repeat(40)}1${"}".repeat(40)}}`);
    await expect(bridge.importLedger(file)).rejects.toMatchObject({ code: "LEDGER_EXPORT_CORRUPT" });
    writeFileSync(file, JSON.stringify({ format: "keybridge-ledger-export", note: "[".repeat(1000) }));
    await expect(bridge.importLedger(file)).rejects.toThrow(/not a keybridge ledger export|missing|version/);
  });
});

describe("POST /v1/virtual/clock is bounded before anything is saved", () => {
  it.each([{ advance: 1e308 }, { advance: "99999999999999999999d" }, { advance: 3651 * 86_400_000 }])(
    "%j: 400 VALIDATION on advance; the daemon's data directory still starts",
    async (body) => {
      const dataDir = tempDataDir();
      const bridge = await openVirtual({ dataDir });
      const url = await serve(bridge);
      const response = await fetch(`${url}/v1/virtual/clock`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      expect(response.status).toBe(400);
      const problem = (await response.json()) as { code: string; field: string; detail: string };
      expect(problem).toMatchObject({ code: "VALIDATION", field: "advance" });
      expect(problem.detail).toMatch(/advance must be a duration from 0 to 3650d/);
      await server?.close();
      server = undefined;
      await closeBridge(bridge);
      await expect(openVirtual({ dataDir })).resolves.toBeDefined();
    },
  );
});
