/**
 * `keybridge license-update SERIAL FILE` with a file from `keybridge vendor sign`: the preview
 * first, then the update; --dry-run previews only; a bad file is refused before anything is sent.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subscription } from "rxjs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MAX_UPDATE_FILE_SIZE } from "../../../src/protocol/index.js";
import { TEST_LICENSES } from "../server/helpers.js";
import { type CliHarness, startCli } from "./cli-harness.js";

let h: CliHarness;
/** Every command sent to a key while the test runs. */
let sent: string[];
let watching: Subscription;
beforeEach(async () => {
  h = await startCli();
  sent = [];
  watching = h.bridge.keyExchanges$.subscribe((exchange) => sent.push(exchange.command));
});
afterEach(async () => {
  watching.unsubscribe();
  await h.close();
});

/** Signs with the vendor the virtual key was provisioned with, as the vendor would with their own secret. */
async function sign(counter: number, serial = "KB-0001", ...licenses: string[]): Promise<string> {
  const out = join(h.dataDir, `${serial}-${counter}.kblu`);
  const specs = (licenses.length > 0 ? licenses : ["1001:20:8:30", "1003:3:1:7"]).flatMap((spec) => [
    "--license",
    spec,
  ]);
  const key = join(h.bridgeDir, "virtual", "demo-vendor.key");
  const signed = await h.cli(
    "vendor",
    "sign",
    "--key",
    key,
    "--serial",
    serial,
    "--counter",
    String(counter),
    ...specs,
    "--out",
    out,
  );
  expect(signed.code, signed.stderr).toBe(0);
  return out;
}

/** The key's license set and update counter, read from the virtual key itself. */
function keyState() {
  const { licenses, updateCounter } = h.bridge.testSeams.world!.key("KB-0001").state;
  return {
    licenses: [...licenses.values()].map(({ product, seats, borrowable, borrowDays }) => ({
      product,
      seats,
      borrowable,
      borrowDays,
    })),
    updateCounter,
  };
}

const UNCHANGED = { licenses: TEST_LICENSES, updateCounter: 0 };
const licenseCommands = () => sent.filter((command) => /LICENSE_UPDATE/.test(command));

describe("keybridge license-update SERIAL FILE.kblu", () => {
  it("--dry-run shows the diff per product, the counters and the signature, and changes nothing", async () => {
    const file = await sign(1);
    const dry = await h.cli("license-update", "KB-0001", file, "--dry-run");
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(
      /^Update for key KB-0001: a vendor-signed update file, counter 1 \(the key is at 0\)\.$/m,
    );
    expect(dry.stdout).toMatch(/^ {2}the key has license set version 1; the update holds 2 license\(s\)$/m);
    expect(dry.stdout).toMatch(/^ {2}signature: valid, by the key's vendor [0-9a-f]{64}$/m);
    expect(dry.stdout).toMatch(
      /^ {2}~ product 1001: 20 seats, 8 borrowable for up to 30 days \(was 10 seats, 4 borrowable, 30 days\)$/m,
    );
    expect(dry.stdout).toMatch(/^ {2}- product 1002 \(removed\)$/m);
    expect(dry.stdout).toMatch(/^ {2}\+ product 1003: 3 seats, 1 borrowable for up to 7 days$/m);
    expect(dry.stdout).toMatch(/^No borrow would become a Borrow Dummy\.\nVerdict: it would be applied\.\n$/m);
    expect(dry.stdout).not.toMatch(/now has license set version/);
    const json = await h.cli("license-update", "KB-0001", file, "--dry-run", "--json");
    expect(json.json).toMatchObject({ signed: true, counter: 1, keyCounter: 0, signatureValid: true, refusal: null });
    expect(keyState()).toEqual(UNCHANGED);
    expect(licenseCommands()).toEqual([]);
  });

  it("applies after the preview: the key has the new set and the update's counter", async () => {
    const applied = await h.cli("license-update", "KB-0001", await sign(1));
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toMatch(
      /Verdict: it would be applied\.\nKey KB-0001 now has license set version 2, update counter 1\.\n$/,
    );
    expect(keyState()).toEqual({
      licenses: [
        { product: 1001, seats: 20, borrowable: 8, borrowDays: 30 },
        { product: 1003, seats: 3, borrowable: 1, borrowDays: 7 },
      ],
      updateCounter: 1,
    });
    const json = await h.cli("license-update", "KB-0001", await sign(2, "KB-0001", "1001:5:1:30"), "--json");
    expect(json.json).toMatchObject({
      serial: "KB-0001",
      licenseSetVersion: 3,
      updateCounter: 2,
      dummiesCreated: [],
      preview: { counter: 2, keyCounter: 1, changes: [{ product: 1001, change: "changed" }, { product: 1003 }] },
    });
  });

  it("with a borrow out: the preview names it, the update is refused unless --force, which reports the key's dummy", async () => {
    const borrowed = await h.cli("borrow", "1001", "--client", "ws-07", "--json");
    const id = (borrowed.json as { id: number }).id;
    const file = await sign(1);
    const dry = await h.cli("license-update", "KB-0001", file, "--dry-run");
    expect(dry.code).toBe(1);
    expect(dry.stdout).toMatch(
      new RegExp(
        `Borrows that would become Borrow Dummies \\(rule K6\\):\\nID .*\\n${id} +KB-0001 +1001 +ws-07 +active `,
      ),
    );
    expect(dry.stdout).toMatch(/Verdict: it would be REFUSED: .*\[BORROWS_OUTSTANDING\]/);
    const refused = await h.cli("license-update", "KB-0001", file);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/BORROWS_OUTSTANDING/);
    expect(keyState()).toEqual(UNCHANGED);
    expect(licenseCommands()).toEqual([]);

    const forced = await h.cli("license-update", "KB-0001", file, "--force");
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toMatch(/Borrow Dummies \(rule K6\), as --force allows/);
    expect(forced.stdout).toMatch(
      new RegExp(
        `now has license set version 2, update counter 1 \\(forced\\)\\.\\nThese borrows became Borrow Dummies:\\n` +
          `ID .*\\n${id} +KB-0001 +1001 +ws-07 +dummy `,
      ),
    );
    const dummies = await h.cli("borrows", "--json");
    expect((dummies.json as { id: number; state: string }[]).map((b) => [b.id, b.state])).toEqual([[id, "dummy"]]);
  });

  it("a replayed counter or another vendor's file is refused with the key's code; nothing is sent to the key", async () => {
    const first = await sign(1);
    expect((await h.cli("license-update", "KB-0001", first)).code).toBe(0);
    const after = keyState();
    sent.length = 0;
    const replayed = await h.cli("license-update", "KB-0001", first);
    expect(replayed.code).toBe(1);
    expect(replayed.stdout).toMatch(/Verdict: it would be REFUSED: .*\[KEY_STALE_COUNTER\]/);
    expect(replayed.stderr).toMatch(/counter 1 is not above the key's 1.*nothing was sent.*\[KEY_STALE_COUNTER\]/);

    const forged = join(h.dataDir, "forged.kblu");
    const bytes = readFileSync(await sign(2));
    bytes[bytes.length - 1]! ^= 0xff;
    writeFileSync(forged, bytes);
    const bad = await h.cli("license-update", "KB-0001", forged);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/signature: NOT by the key's vendor/);
    expect(bad.stderr).toMatch(/\[KEY_BAD_VENDOR_SIGNATURE\]/);
    expect(keyState()).toEqual(after);
    expect(licenseCommands()).toEqual([]);
  });

  it("a file for another serial, truncated or too large is refused before the daemon is asked", async () => {
    const other = await sign(1, "KB-0002");
    const good = readFileSync(await sign(1));
    const truncated = join(h.dataDir, "truncated.kblu");
    writeFileSync(truncated, good.subarray(0, good.length - 10));
    const oversized = join(h.dataDir, "oversized.kblu");
    writeFileSync(oversized, Buffer.alloc(MAX_UPDATE_FILE_SIZE + 1, 0x4b));
    const renamed = join(h.dataDir, "update.bin");
    writeFileSync(renamed, good.subarray(0, 12));
    const cases = [
      { file: other, error: /is a license update for key KB-0002, not KB-0001.*Nothing was sent \[KEY_WRONG_SERIAL\]/ },
      { file: truncated, error: /truncated\.kblu: .*\[UPDATE_FILE_INVALID\]/ },
      { file: oversized, error: /has 2669 bytes; a license update file has at most 2668 \[UPDATE_FILE_INVALID\]/ },
      { file: renamed, error: /update\.bin: .*\[UPDATE_FILE_INVALID\]/ },
    ];
    for (const { file, error } of cases) {
      for (const dryRun of [[], ["--dry-run"]]) {
        const result = await h.cli("license-update", "KB-0001", file, ...dryRun);
        expect(result.code, file).toBe(1);
        expect(result.stderr, file).toMatch(error);
        expect(result.stdout, file).toBe("");
      }
    }
    expect(sent).toEqual([]);
    expect(keyState()).toEqual(UNCHANGED);
  });

  it("the bare JSON form still works where the key takes it (virtual mode signs it with the demo vendor)", async () => {
    const file = join(h.dataDir, "licenses.json");
    writeFileSync(file, JSON.stringify({ licenses: [{ product: 1001, seats: 12, borrowable: 4, borrowDays: 30 }] }));
    const dry = await h.cli("license-update", "KB-0001", file, "--dry-run");
    expect(dry.stdout).toMatch(
      /a bare license set, signed by this daemon's demo vendor with counter 1 \(the key is at 0\)/,
    );
    const applied = await h.cli("license-update", "KB-0001", file);
    expect(applied.code, applied.stderr).toBe(0);
    expect(keyState()).toEqual({
      licenses: [{ product: 1001, seats: 12, borrowable: 4, borrowDays: 30 }],
      updateCounter: 1,
    });
  });
});
