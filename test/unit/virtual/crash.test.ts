/**
 * A process killed with SIGKILL in the middle of a stream of borrows leaves a state file that
 * loads, and every borrow the key answered is in it: the state is durable before the answer.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { rolldown } from "rolldown";
import { describe, expect, it } from "vitest";
import { fromDocument } from "../../../native-mocks/firmware/key-state.js";
import { FileKeyStore } from "../../../native-mocks/key-store.js";

const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const CACHE_DIR = join(REPO_ROOT, "node_modules", ".cache", "keybridge-virtual-tests");

const CHILD = `
import { randomBytes } from "node:crypto";
import { VirtualKey } from "${REPO_ROOT}native-mocks/index.ts";
import { BROADCAST_CID, COMMAND_CODECS, decodeFrames, decodeInitResponse, decodeResponseEnvelope, encodeFrames,
  encodeRequestEnvelope, FrameCommand } from "${REPO_ROOT}src/protocol/index.ts";
const key = new VirtualKey({ serial: "KB-CRASH", stateFile: process.argv[2],
  licenses: [{ product: 1, seats: 60000, borrowable: 60000, borrowDays: 30 }] });
key.plug();
const port = key.open();
await port.write(encodeFrames(BROADCAST_CID, FrameCommand.INIT, randomBytes(8))[0]);
const cid = decodeInitResponse(decodeFrames([await port.read(100)]).payload).cid;
for (;;) {
  const body = COMMAND_CODECS.BORROW.encodeRequest({ opId: randomBytes(16), product: 1, days: 1,
    binding: new Uint8Array(32), tag: new Uint8Array(16), client: "crash" });
  const payload = encodeRequestEnvelope({ nonce: randomBytes(16), command: 3, body });
  for (const report of encodeFrames(cid, FrameCommand.MSG, payload)) await port.write(report);
  const reports = [];
  for (;;) {
    reports.push(await port.read(100));
    try { const e = decodeResponseEnvelope(decodeFrames(reports, cid).payload);
      process.stdout.write(COMMAND_CODECS.BORROW.decodeResponse(e.body).id + "\\n"); break; } catch {}
  }
}
`;

async function bundleChild(): Promise<string> {
  mkdirSync(CACHE_DIR, { recursive: true });
  const entry = join(CACHE_DIR, `crash-${process.pid}.ts`);
  const output = join(CACHE_DIR, `crash-${process.pid}.mjs`);
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

/** Runs the child until it has confirmed `confirmations` borrows (plus a random few), then SIGKILLs it. */
function runAndKill(script: string, stateFile: string, confirmations: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, stateFile], { stdio: ["ignore", "pipe", "pipe"] });
    let lastConfirmed = 0;
    let stderr = "";
    const killAt = confirmations + Math.floor(Math.random() * 5);
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      for (const line of chunk.split("\n")) if (line !== "") lastConfirmed = Number(line);
      if (lastConfirmed >= killAt) child.kill("SIGKILL");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("exit", (_code, signal) => {
      if (signal !== "SIGKILL") reject(new Error(`child ended without being killed: ${stderr}`));
      else resolve(lastConfirmed);
    });
  });
}

describe("state file under SIGKILL", () => {
  it("holds every answered borrow and loads cleanly after each kill", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kb-virtual-crash-"));
    const script = await bundleChild();
    try {
      const stateFile = join(dir, "key.json");
      let confirmedSoFar = 0;
      for (let round = 1; round <= 3; round++) {
        const confirmed = await runAndKill(script, stateFile, confirmedSoFar + 15);
        const state = fromDocument(new FileKeyStore(stateFile).load());
        // answered borrows are all there; at most the one in flight beyond them
        expect(state.borrows.size).toBeGreaterThanOrEqual(confirmed);
        expect(state.borrows.size).toBeLessThanOrEqual(confirmed + 1);
        expect(state.nextBorrowId).toBe(state.borrows.size + 1);
        confirmedSoFar = state.borrows.size;
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(script, { force: true });
    }
  });
});
