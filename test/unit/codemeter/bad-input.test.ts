import { appendFileSync, readdirSync, readFileSync, renameSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { FindingCode } from "../../../src/codemeter/model/findings.js";
import { snapshot, type WatchedWorld, watchedWorld } from "./helpers.js";

/**
 * Bad input at the level a user sees it: the CodeMeter watch over a SYNTHETIC simulated server
 * with borrows out, then one source turns bad. Each time the watch names it in its findings (what
 * `status` and the API show), keeps the last good picture (the borrows, the configuration, the
 * runtime version), does not throw, and leaves CodeMeter's files exactly as the test left them.
 */

const LINE_BOUND = 1 << 20;

async function withBorrowsOut(options: { cmuTimeoutMs?: number } = {}): Promise<WatchedWorld> {
  const world = await watchedWorld(options);
  const { sim } = world;
  sim.advance(3_600_000);
  sim.borrow("ws-anna", "anna", 1001);
  sim.borrow("ws-ben", "ben", 2001);
  sim.advance(60_000);
  await world.look();
  expect(
    world.watch
      .view()
      .borrows.map((borrow) => borrow.client)
      .sort(),
  ).toEqual(["ws-anna", "ws-ben"]);
  return world;
}

function logFiles(world: WatchedWorld): string[] {
  const dir = world.sim.paths.logDir;
  return readdirSync(dir)
    .sort()
    .map((name) => join(dir, name));
}

const tree = (world: WatchedWorld) => [join(world.sim.root, "etc"), join(world.sim.root, "var")].map(snapshot);

/** Looks again and checks the promise: the finding, the last good picture, nothing written. */
async function lookAfterBadInput(world: WatchedWorld, code: FindingCode): Promise<void> {
  const before = world.watch.view();
  const files = tree(world);
  await expect(world.look()).resolves.toBeUndefined();
  const after = world.watch.view();
  expect(after.findings.map((finding) => finding.code)).toContain(code);
  const message = after.findings.find((finding) => finding.code === code)?.message ?? "";
  expect(message.length).toBeGreaterThan(20);
  expect(after.borrows).toEqual(before.borrows);
  expect(after.config).toEqual(before.config);
  expect(after.runtime.version).toBe(before.runtime.version);
  expect(tree(world)).toEqual(files);
}

describe("bad input: a finding, the last good picture, no crash, nothing written", () => {
  it("a tracking log truncated to nothing", async () => {
    const world = await withBorrowsOut();
    for (const file of logFiles(world)) truncateSync(file, 0);
    await lookAfterBadInput(world, "tracking-truncated");
  });

  it("a tracking log cut in the middle of a line", async () => {
    const world = await withBorrowsOut();
    const [file] = logFiles(world);
    if (file === undefined) throw new Error("the simulated server wrote no log");
    const size = readFileSync(file).length;
    truncateSync(file, size - 7);
    await lookAfterBadInput(world, "tracking-truncated");
  });

  it("binary bytes in the tracking log: counted, the lines after them still read", async () => {
    const world = await withBorrowsOut();
    const [file] = logFiles(world);
    if (file === undefined) throw new Error("the simulated server wrote no log");
    appendFileSync(file, Buffer.from([0, 255, 254, 10, 0xc3, 0x28, 1, 2, 10]));
    await lookAfterBadInput(world, "tracking-malformed-lines");
    expect(world.watch.view().tracking.malformedLines).toBe(2);
    world.sim.borrow("ws-cleo", "cleo", 1001);
    await world.look();
    expect(
      world.watch
        .view()
        .borrows.map((borrow) => borrow.client)
        .sort(),
    ).toEqual(["ws-anna", "ws-ben", "ws-cleo"]);
  });

  it("a line of more than 1 MB: skipped and counted, the lines after it still read", async () => {
    const world = await withBorrowsOut();
    const [file] = logFiles(world);
    if (file === undefined) throw new Error("the simulated server wrote no log");
    appendFileSync(file, `2026-03-02T09:30:00 Access Server:"${"x".repeat(LINE_BOUND)}"\n`);
    await lookAfterBadInput(world, "tracking-oversized-lines");
    expect(world.watch.view().tracking.oversizedLines).toBe(1);
    world.sim.borrow("ws-cleo", "cleo", 1001);
    await world.look();
    expect(world.watch.view().borrows).toHaveLength(3);
  });

  it("a Server.ini with a duplicate section", async () => {
    const world = await withBorrowsOut();
    const ini = world.sim.paths.serverIni;
    appendFileSync(ini, "[General]\nLogLicenseTracking=1\n");
    await lookAfterBadInput(world, "config-duplicate-section");
    expect(world.watch.view().tracking.enabled).toBe(true);
  });

  it("a Server.ini with bytes that are not UTF-8", async () => {
    const world = await withBorrowsOut();
    appendFileSync(world.sim.paths.serverIni, Buffer.from("[Synthetic]\nName=\xff\xfe\n", "latin1"));
    await lookAfterBadInput(world, "config-invalid-encoding");
  });

  it("a Server.ini that turns into garbage keeps the last good configuration", async () => {
    const world = await withBorrowsOut();
    writeFileSync(world.sim.paths.serverIni, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0xff, 10, 0, 1]));
    // Read as a configuration, it would say tracking off and the Borrow sections emptied: a false registry-lost.
    await lookAfterBadInput(world, "config-malformed-line");
    expect(world.watch.view().tracking.enabled).toBe(true);
    expect(world.watch.risks().map((risk) => risk.kind)).not.toContain("registry-lost");
  });

  it("an empty Server.ini (a rewrite caught half-way) keeps the last good configuration", async () => {
    const world = await withBorrowsOut();
    truncateSync(world.sim.paths.serverIni, 0);
    await lookAfterBadInput(world, "config-malformed-line");
    expect(world.watch.risks().map((risk) => risk.kind)).not.toContain("registry-lost");
  });

  it.each([
    ["hangs", "hang", "cmu-timeout"],
    ["prints garbage", "garbage", "cmu-garbage"],
    ["exits non-zero", "fail", "cmu-failed"],
  ] as const)("a cmu that %s", async (_what, behaviour, code) => {
    // A long limit for the cmu that answers (a node script on a loaded machine); the hanging one waits it out.
    const world = await withBorrowsOut({ cmuTimeoutMs: behaviour === "hang" ? 1500 : 20_000 });
    world.sim.setCmuBehaviour(behaviour);
    await lookAfterBadInput(world, code);
    expect(world.watch.view().runtime.cmu).toBe("failed");
    world.sim.setCmuBehaviour("normal");
    await world.look();
    expect(world.watch.view().findings.map((finding) => finding.code)).not.toContain(code);
  });

  it("a log directory that vanishes, then comes back", async () => {
    const world = await withBorrowsOut();
    const dir = world.sim.paths.logDir;
    renameSync(dir, `${dir}.away`);
    await lookAfterBadInput(world, "tracking-dir-missing");
    expect(world.watch.view().tracking.state).not.toBe("ok");
    renameSync(`${dir}.away`, dir);
    world.sim.borrow("ws-cleo", "cleo", 1001);
    await world.look();
    const view = world.watch.view();
    expect(view.findings.map((finding) => finding.code)).not.toContain("tracking-dir-missing");
    expect(view.borrows.map((borrow) => borrow.client).sort()).toEqual(["ws-anna", "ws-ben", "ws-cleo"]);
  });
});
