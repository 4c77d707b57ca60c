import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connectKey, type KeyClient } from "../../../src/key/key-client.js";
import { MemoryPinStore } from "../../../src/key/pin-store.js";
import { listKeys } from "../../../src/transport/discovery.js";
import { openHidPort } from "../../../src/transport/node-hid-port.js";
import { RecordingPort, ReplayPort } from "../../../src/transport/record-replay.js";
import { Transport } from "../../../src/transport/transport.js";
import { virtualSetup } from "../key/virtual-key-harness.js";

const dir = mkdtempSync(join(tmpdir(), "keybridge-replay-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BINDING = new Uint8Array(32).fill(7);
const TAG = new Uint8Array(16).fill(9);
const OP_ID = new Uint8Array(16).fill(3);

/** The session both sides run: a few commands, including multi-report messages. */
async function session(client: KeyClient) {
  const licenses = await client.listLicenses();
  const record = await client.borrow({
    opId: OP_ID,
    product: 1001,
    days: 3,
    binding: BINDING,
    tag: TAG,
    client: "ws-7",
  });
  const echo = await client.ping(new Uint8Array(300).fill(0x5a));
  const borrows = await client.listAllBorrows();
  return { licenses, record, echoLength: echo.length, borrows };
}

async function record(path: string) {
  const setup = virtualSetup();
  const [device] = await listKeys(setup.backend);
  const port = new RecordingPort(await openHidPort(setup.backend, device!), path);
  const transport = await Transport.open(port);
  const client = await connectKey(transport, new MemoryPinStore());
  const result = await session(client);
  await client.close();
  setup.bus.close();
  return { result, publicKey: client.info.publicKey };
}

describe("record and replay", () => {
  it("replays a recorded session with verified signatures, byte for byte", async () => {
    const path = join(dir, "session.jsonl");
    const recorded = await record(path);
    const lines = readFileSync(path, "utf8").trim().split("\n");
    expect(JSON.parse(lines[0]!)).toMatchObject({ fixture: "keybridge-hid", version: 1 });
    expect(lines.length).toBeGreaterThan(10);

    const replay = ReplayPort.fromFile(path);
    const transport = await Transport.open(replay, { randomBytes: replay.randomBytes });
    const pins = new MemoryPinStore();
    const client = await connectKey(transport, pins, { randomBytes: replay.randomBytes });
    expect(await session(client)).toEqual(recorded.result);
    expect(pins.get(client.serial)).toEqual(recorded.publicKey);
    await client.close();
    // Only trailing timeouts (if any) may be left.
    expect(replay.remaining).toBe(0);
  });

  it("without the recorded nonces, the channel opens but the signatures refuse to verify", async () => {
    const path = join(dir, "nonces.jsonl");
    await record(path);
    const replay = ReplayPort.fromFile(path);
    const transport = await Transport.open(replay);
    await expect(connectKey(transport, new MemoryPinStore())).rejects.toMatchObject({ code: "PROTOCOL_BAD_SIGNATURE" });
    await transport.close();
  });

  it("fails with REPLAY_MISMATCH when the live session sends something else", async () => {
    const path = join(dir, "mismatch.jsonl");
    await record(path);
    const replay = ReplayPort.fromFile(path);
    const transport = await Transport.open(replay, { randomBytes: replay.randomBytes });
    const client = await connectKey(transport, new MemoryPinStore(), { randomBytes: replay.randomBytes });
    await expect(client.getTime()).rejects.toMatchObject({ code: "REPLAY_MISMATCH" });
    await client.close();
  });
});
