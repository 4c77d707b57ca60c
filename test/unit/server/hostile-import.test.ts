import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { OpenedBridge } from "../../../src/bridge/open.js";
import { createServer, type KeybridgeServer } from "../../../src/server/app.js";
import { openVirtual, tempDataDir } from "../bridge/helpers.js";
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
