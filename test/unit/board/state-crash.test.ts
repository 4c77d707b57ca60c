/**
 * A board's key under power cuts: a child process applies vendor-signed updates (and borrows) to
 * a key stored as a board stores it and is killed with SIGKILL at random moments, also in the
 * middle of a save. After every kill the state loads, holds every update the key answered, and
 * its license set is exactly the one of its update counter: the old set or the new one, never a
 * mix. The temp file a cut save leaves is removed when the key next boots.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { rolldown } from "rolldown";
import { describe, expect, it } from "vitest";
import { initKey, readKey, removeTempFiles } from "../../../native-mocks/board/index.js";
import { KeyFirmware } from "../../../native-mocks/firmware/firmware.js";
import { FileKeyStore } from "../../../native-mocks/key-store.js";
import { generateVendorKeyPair, vendorSecretToPem } from "../../../src/protocol/index.js";

const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const CACHE_DIR = join(REPO_ROOT, "node_modules", ".cache", "keybridge-board-tests");

/** The license set of update `counter`: sizes and seats differ, so a mix of two would show. */
const SET_SOURCE = `
export function setFor(counter) {
  const size = 1 + (counter % 5);
  return Array.from({ length: size }, (_, i) => ({ product: 1000 + i, seats: 100 + counter, borrowable: 50, borrowDays: 30 }));
}`;
// The same function text runs in the child (bundled from CHILD below) and here.
const setFor = new Function(`${SET_SOURCE.replace("export ", "")}; return setFor;`)() as (
  counter: number,
) => Array<{ product: number; seats: number; borrowable: number; borrowDays: number }>;

const CHILD = `
import { createPrivateKey, randomBytes } from "node:crypto";
import { BoardKeyStore, removeTempFiles } from "${REPO_ROOT}native-mocks/board/key-file.ts";
import { KeyFirmware } from "${REPO_ROOT}native-mocks/firmware/firmware.ts";
import { BROADCAST_CID, COMMAND_CODECS, decodeFrames, decodeInitResponse, decodeResponseEnvelope, encodeFrames,
  encodeRequestEnvelope, FrameCommand, signLicenseUpdate } from "${REPO_ROOT}src/protocol/index.ts";
${SET_SOURCE}
const [statePath, vendorPem] = [process.argv[2], Buffer.from(process.argv[3], "base64").toString()];
const vendor = createPrivateKey({ key: vendorPem, format: "pem" });
removeTempFiles(statePath);
const store = new BoardKeyStore(statePath);
const outbox = [];
const firmware = KeyFirmware.boot({ store, emit: (r) => outbox.push(Uint8Array.from(r)) }, { serial: "KB-CRASH" });
const exchange = (cid, cmd, payload) => {
  outbox.length = 0;
  for (const report of encodeFrames(cid, cmd, payload)) firmware.receive(report);
  return decodeFrames(outbox.splice(0), cid).payload;
};
const cid = decodeInitResponse(exchange(BROADCAST_CID, FrameCommand.INIT, randomBytes(8))).cid;
const call = (codec, request, refusalOk = false) => {
  const payload = encodeRequestEnvelope({ nonce: randomBytes(16), command: codec.command, body: codec.encodeRequest(request) });
  const envelope = decodeResponseEnvelope(exchange(cid, FrameCommand.MSG, payload));
  if (envelope.status === 0) return codec.decodeResponse(envelope.body);
  if (!refusalOk) throw new Error("status " + envelope.status);
};
let counter = call(COMMAND_CODECS.VENDOR_INFO, {}).updateCounter;
for (;;) {
  counter++;
  const update = signLicenseUpdate(vendor, { serial: "KB-CRASH", counter, licenses: setFor(counter) });
  const result = call(COMMAND_CODECS.SIGNED_LICENSE_UPDATE, { opId: randomBytes(16), update });
  process.stdout.write("update " + result.updateCounter + "\\n");
  // An active borrow for the next update to turn into a dummy (K6); refused once dummies block the product.
  call(COMMAND_CODECS.BORROW, { opId: randomBytes(16), product: 1000 + (counter % 5), days: 1,
    binding: new Uint8Array(32), tag: new Uint8Array(16), client: "crash" }, true);
  await new Promise((resolve) => setImmediate(resolve));
}
`;

async function bundleChild(): Promise<string> {
  mkdirSync(CACHE_DIR, { recursive: true });
  const entry = join(CACHE_DIR, `board-crash-${process.pid}.ts`);
  const output = join(CACHE_DIR, `board-crash-${process.pid}.mjs`);
  writeFileSync(entry, CHILD);
  const bundle = await rolldown({
    input: entry,
    platform: "node",
    external: (id) => !id.startsWith(".") && !id.startsWith("/"),
    logLevel: "silent",
  });
  await bundle.write({ file: output, format: "esm" });
  await bundle.close();
  rmSync(entry, { force: true });
  return output;
}

/** Lets the child confirm at least `confirmations` more updates, then kills it 0-3 ms later (mid-save or not). */
function runAndKill(script: string, args: string[], confirmations: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let last = 0;
    let seen = 0;
    let stderr = "";
    let scheduled = false;
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      for (const line of chunk.split("\n")) {
        const match = /^update (\d+)$/.exec(line);
        if (match === null) continue;
        last = Number(match[1]);
        seen++;
      }
      if (seen >= confirmations && !scheduled) {
        scheduled = true;
        setTimeout(() => child.kill("SIGKILL"), Math.floor(Math.random() * 4));
      }
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("exit", (_code, signal) => {
      if (signal !== "SIGKILL") reject(new Error(`child ended without being killed: ${stderr}`));
      else resolve(last);
    });
  });
}

describe("a board key's state under SIGKILL", () => {
  it("always loads with a whole license set matching its counter, and keeps every answered update", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kb-board-crash-"));
    const script = await bundleChild();
    try {
      const statePath = join(dir, "key.json");
      initKey(statePath, "KB-CRASH");
      const vendor = generateVendorKeyPair();
      const provisioning = KeyFirmware.boot(
        { store: new FileKeyStore(statePath), emit: () => {} },
        { serial: "KB-CRASH" },
      );
      provisioning.provision(vendor.publicKey);
      provisioning.shutdown();
      const pem = Buffer.from(vendorSecretToPem(vendor.secret)).toString("base64");
      let confirmed = 0;
      for (let round = 1; round <= 12; round++) {
        const answered = await runAndKill(script, [statePath, pem], 2 + Math.floor(Math.random() * 6));
        const key = readKey(statePath);
        expect(key.updateCounter, `round ${round}`).toBeGreaterThanOrEqual(answered);
        expect(key.updateCounter, `round ${round}`).toBeLessThanOrEqual(answered + 1);
        expect(key.updateCounter).toBeGreaterThanOrEqual(confirmed);
        expect(
          key.licenses.map(({ product, seats, borrowable, borrowDays }) => ({
            product,
            seats,
            borrowable,
            borrowDays,
          })),
        ).toEqual(setFor(key.updateCounter));
        expect(key.vendorPublicKey).toEqual(vendor.publicKey);
        confirmed = key.updateCounter;
      }
      // What a cut save left behind goes at the next boot; the state is the only file then.
      removeTempFiles(statePath);
      expect(readdirSync(dir).sort()).toEqual(["key.json"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(script, { force: true });
    }
  }, 120_000);
});
