import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acquireFileLock } from "../../../src/registry/file-lock.js";
import { SerialQueue } from "../../../src/serial-queue.js";

describe("SerialQueue", () => {
  it("runs tasks one at a time in call order", async () => {
    const queue = new SerialQueue();
    const seen: string[] = [];
    let running = 0;
    const task = (name: string) => async () => {
      running++;
      expect(running).toBe(1);
      await Promise.resolve();
      seen.push(name);
      running--;
      return name;
    };
    const results = await Promise.all([queue.run(task("a")), queue.run(task("b")), queue.run(task("c"))]);
    expect(results).toEqual(["a", "b", "c"]);
    expect(seen).toEqual(["a", "b", "c"]);
  });

  it("gives a failure to its own caller only; the tasks behind it still run", async () => {
    const queue = new SerialQueue();
    const failing = queue.run(() => {
      throw new Error("disk full");
    });
    const next = queue.run(() => "written");
    await expect(failing).rejects.toThrow("disk full");
    await expect(next).resolves.toBe("written");
  });

  it("idle() waits for every queued task, failed ones included, and never rejects", async () => {
    const queue = new SerialQueue();
    const done: string[] = [];
    const failing = queue.run(async () => {
      throw new Error("refused");
    });
    void queue.run(async () => {
      done.push("last");
    });
    await expect(queue.idle()).resolves.toBeUndefined();
    expect(done).toEqual(["last"]);
    await expect(failing).rejects.toThrow("refused");
  });
});

describe("file lock temporary files", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "kb-lock-"));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("leaves only the lock file while held and nothing after release", async () => {
    const lockPath = join(dir, "registry.ini.lock");
    const lock = await acquireFileLock(lockPath);
    expect(readdirSync(dir)).toEqual(["registry.ini.lock"]);
    expect(await lock.release()).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("a writer that finds the lock held leaves no temporary file behind", async () => {
    const lockPath = join(dir, "registry.ini.lock");
    const held = await acquireFileLock(lockPath);
    await expect(acquireFileLock(lockPath, { timeoutMs: 30, retryMs: 5 })).rejects.toMatchObject({
      code: "REGISTRY_LOCKED",
    });
    expect(readdirSync(dir)).toEqual(["registry.ini.lock"]);
    await held.release();
  });
});
