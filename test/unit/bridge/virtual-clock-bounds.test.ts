import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { captureLogs } from "../log-capture.js";
import { closeBridge, openVirtual, tempDataDir } from "./helpers.js";

const DAY = 86_400_000;
const KEY_FILE = join("virtual", "KB-DEMO-0001.key.json");

describe("virtual clock moves are checked before anything is saved", () => {
  it.each([
    [1e308, /advance must be a duration from 0 to 3650d \(315360000000 ms\); got 1e\+308 ms/],
    [Number.POSITIVE_INFINITY, /got Infinity ms/],
    [Number.NaN, /got NaN ms/],
    [-DAY, /got -86400000 ms/],
    [3651 * DAY, /from 0 to 3650d/],
  ])("advance %d: VALIDATION on advance, the key clock and its file unchanged", async (ms, message) => {
    const dataDir = tempDataDir();
    const bridge = await openVirtual({ dataDir });
    const before = readFileSync(join(dataDir, KEY_FILE), "utf8");
    const keyTime = (await bridge.virtual?.keys())?.[0]?.keyTime;
    await expect(bridge.virtual?.advanceClock(ms)).rejects.toMatchObject({
      code: "VALIDATION",
      details: { field: "advance" },
      message: expect.stringMatching(message),
    });
    expect(readFileSync(join(dataDir, KEY_FILE), "utf8")).toBe(before);
    // The directory still starts.
    await closeBridge(bridge);
    const again = await openVirtual({ dataDir });
    expect(Date.parse((await again.virtual?.keys())?.[0]?.keyTime ?? "")).toBeLessThan(Date.parse(keyTime ?? "") + DAY);
  });

  it("a key clock stays within 100 years of real time: the move that would pass it is refused, saying how far it may go", async () => {
    const bridge = await openVirtual();
    for (let i = 0; i < 10; i++) await bridge.virtual?.advanceClock(3650 * DAY);
    await expect(bridge.virtual?.advanceClock(3650 * DAY)).rejects.toThrow(
      /KB-DEMO-0001's clock is already 36500d ahead of real time; it may be at most 36525d ahead, so it can move 25d more/,
    );
    await expect(bridge.virtual?.advanceClock(25 * DAY)).resolves.toBeDefined();
  });
});

describe("a key file holding an out-of-range clock (saved by an older version) does not keep the daemon down", () => {
  it("the bridge opens, that key stays unplugged and the log says which file and why", async () => {
    const dataDir = tempDataDir();
    await closeBridge(await openVirtual({ dataDir }));
    const file = join(dataDir, KEY_FILE);
    const { state } = JSON.parse(readFileSync(file, "utf8"));
    state.clockOffsetMs = 1e308;
    const stateJson = JSON.stringify(state);
    const checksum = createHash("sha256").update(stateJson).digest("hex");
    writeFileSync(file, `{"checksum":"${checksum}","state":${stateJson}}\n`);

    const logs = captureLogs();
    const bridge = await openVirtual({ dataDir });
    expect(await bridge.virtual?.keys()).toEqual([]);
    const [line] = logs.matching("error", /virtual key KB-DEMO-0001 cannot be loaded and stays unplugged/);
    expect(line?.message).toMatch(/clockOffsetMs is not an integer in -3155760000000\.\.3155760000000/);
    expect(line?.file).toBe(file);
    // The broken file is kept, and no new key takes its place.
    await expect(bridge.virtual?.create({ serial: "KB-DEMO-0001" })).rejects.toThrow(/already exists/);
    expect(JSON.parse(readFileSync(file, "utf8")).state.clockOffsetMs).toBe(1e308);
  });
});
