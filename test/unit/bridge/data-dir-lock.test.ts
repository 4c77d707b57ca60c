import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { DataDirLockedError } from "../../../src/bridge/errors.js";
import { closeBridge, openVirtual, tempDataDir } from "./helpers.js";

const entry = resolve("dist/src/bridge/index.js");
const built = existsSync(entry);
/** A process that opens a virtual bridge on a directory, says so and stays until killed. */
const holder = `
  const { openBridge } = await import(${JSON.stringify(pathToFileURL(entry).href)});
  await openBridge({ dataDir: process.argv[1], mode: "virtual", hostPollMs: 60000, clockCheckMs: 60000 });
  process.stdout.write("open\\n");
  setInterval(() => {}, 60000);
`;

describe("one bridge per data directory (openBridge)", () => {
  it("a second openBridge on the same directory is refused before it reads anything, naming this process", async () => {
    const dataDir = tempDataDir();
    const first = await openVirtual({ dataDir });
    const borrow = await first.borrow({ product: 1001, client: "ws-1" });
    const second = openVirtual({ dataDir });
    await expect(second).rejects.toBeInstanceOf(DataDirLockedError);
    const error = (await second.catch((e: unknown) => e)) as DataDirLockedError;
    expect(error.code).toBe("DATA_DIR_LOCKED");
    expect(error.holder).toMatchObject({ pid: process.pid, role: "library" });
    expect(error.message).toMatch(/already in use in this process by a program using the keybridge library/);
    // The refused attempt closed its own connection to the lock file without dropping the first's lock.
    await expect(openVirtual({ dataDir })).rejects.toMatchObject({ code: "DATA_DIR_LOCKED" });
    // The first bridge is untouched: its borrow is still out and it keeps working.
    expect((await first.borrows()).map((b) => b.id)).toEqual([borrow.id]);
    await first.returnBorrow(borrow.id);

    await closeBridge(first);
    const again = await openVirtual({ dataDir });
    expect(await again.borrows()).toEqual([]);
  });

  it("a different directory is not affected", async () => {
    await openVirtual({ dataDir: tempDataDir() });
    await expect(openVirtual({ dataDir: tempDataDir() })).resolves.toBeDefined();
  });

  it.skipIf(!built)("a lock left by a killed process does not block: the OS drops it with the process", async () => {
    const dataDir = tempDataDir();
    const child = spawn(process.execPath, ["--input-type=module", "-e", holder, dataDir], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<void>((done) => child.on("exit", () => done()));
    await new Promise<void>((opened, failed) => {
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes("open")) opened();
      });
      child.on("exit", (code) => failed(new Error(`driver exited with ${code} before opening`)));
    });
    // While the child holds it, this process is refused and told the child's pid.
    const refused = (await openVirtual({ dataDir }).catch((e: unknown) => e)) as DataDirLockedError;
    expect(refused.code).toBe("DATA_DIR_LOCKED");
    expect(refused.holder).toMatchObject({ pid: child.pid, role: "library" });
    expect(refused.message).toContain(`pid ${child.pid}`);
    child.kill("SIGKILL");
    await exited;
    await expect(openVirtual({ dataDir })).resolves.toBeDefined();
  });
});
