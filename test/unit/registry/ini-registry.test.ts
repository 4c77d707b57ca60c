import { mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { mapFsError } from "../../../src/registry/fs-errors.js";
import { defaultIniRegistryPath, IniRegistry, type RegistryValue } from "../../../src/registry/index.js";
import { buildRegistryForChild, spawnChild, waitForExit, waitForLine } from "./child-process.js";

const ROOT = "SOFTWARE\\keybridge";
const BORROW = `${ROOT}\\Borrows\\K-1\\1`;
const u32 = (value: number): RegistryValue => ({ type: "u32", value });

let child: { dir: string; cleanup(): Promise<void> };
beforeAll(async () => {
  child = await buildRegistryForChild();
});
afterAll(async () => {
  await child.cleanup();
});

describe("IniRegistry", () => {
  let dir: string;
  let file: string;
  let registry: IniRegistry;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "kb-ini-"));
    file = join(dir, "keybridge", "registry.ini");
    registry = new IniRegistry({ path: file });
  });
  afterEach(async () => {
    await registry.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("creates the file 0600 in a 0700 directory, in the documented format", async () => {
    await registry.set(BORROW, "Product", u32(1001));
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, "keybridge"))).mode & 0o777).toBe(0o700);
    const text = await readFile(file, "utf8");
    expect(text).toContain("[Borrows\\K-1\\1]\nProduct=u32:1001\n");
    expect(await readdir(join(dir, "keybridge"))).toEqual(["registry.ini"]);
  });

  it("reads a missing file as an empty registry (the registry-lost case)", async () => {
    expect(await registry.readTree(ROOT)).toEqual({ values: {}, subkeys: {} });
    await registry.set(BORROW, "Product", u32(1));
    await unlink(file);
    expect(await registry.get(BORROW, "Product")).toBeUndefined();
  });

  it("does not create the file for a change that changes nothing", async () => {
    expect(await registry.deleteKey(BORROW)).toBe(false);
    await registry.applyBatch([{ op: "deleteValue", path: BORROW, name: "Product" }]);
    await expect(stat(file)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("refuses to read or update a truncated file, and repairs from scratch", async () => {
    await registry.set(BORROW, "Product", u32(1));
    const bytes = await readFile(file);
    await writeFile(file, bytes.subarray(0, bytes.length - 10));
    await expect(registry.get(BORROW, "Product")).rejects.toMatchObject({
      code: "REGISTRY_CORRUPT",
      message: expect.stringContaining(file),
    });
    await expect(registry.set(BORROW, "Seats", u32(2))).rejects.toMatchObject({ code: "REGISTRY_CORRUPT" });
    await registry.repairFromScratch({ values: {}, subkeys: { Borrows: { values: { Count: u32(0) }, subkeys: {} } } });
    expect(await registry.get(`${ROOT}\\Borrows`, "Count")).toEqual(u32(0));
    expect(await registry.get(BORROW, "Product")).toBeUndefined();
  });

  it("detects a flipped bit even when the cached copy is still in memory", async () => {
    await registry.set(BORROW, "Product", u32(1001));
    expect(await registry.get(BORROW, "Product")).toEqual(u32(1001));
    const text = await readFile(file, "utf8");
    await writeFile(file, text.replace("u32:1001", "u32:1000"));
    await expect(registry.get(BORROW, "Product")).rejects.toMatchObject({ code: "REGISTRY_CORRUPT" });
  });

  it("notices a change made by another instance", async () => {
    const other = new IniRegistry({ path: file });
    try {
      await registry.set(BORROW, "Product", u32(1));
      expect(await other.get(BORROW, "Product")).toEqual(u32(1));
      await registry.set(BORROW, "Product", u32(2));
      expect(await other.get(BORROW, "Product")).toEqual(u32(2));
      await other.deleteKey(BORROW);
      expect(await registry.get(BORROW, "Product")).toBeUndefined();
    } finally {
      await other.close();
    }
  });

  it("keeps every concurrent write of one process", async () => {
    await Promise.all(Array.from({ length: 20 }, (_, i) => registry.set(`${ROOT}\\Borrows\\K-1\\${i}`, "N", u32(i))));
    const reread = new IniRegistry({ path: file });
    expect((await reread.listSubkeys(`${ROOT}\\Borrows\\K-1`)).length).toBe(20);
    await reread.close();
  });

  it("writes and reads back 10 000 borrow keys in one batch", async () => {
    const ops = Array.from({ length: 10_000 }, (_, i) => [
      { op: "set" as const, path: `${ROOT}\\Borrows\\K-1\\${i}`, name: "Product", value: u32(1001) },
      {
        op: "set" as const,
        path: `${ROOT}\\Borrows\\K-1\\${i}`,
        name: "Client",
        value: { type: "string" as const, value: `ws-${i}` },
      },
      {
        op: "set" as const,
        path: `${ROOT}\\Borrows\\K-1\\${i}`,
        name: "Tag",
        value: { type: "binary" as const, value: new Uint8Array(16).fill(i & 0xff) },
      },
    ]).flat();
    await registry.applyBatch(ops);
    const fresh = new IniRegistry({ path: file });
    const tree = await fresh.readTree(`${ROOT}\\Borrows\\K-1`);
    await fresh.close();
    expect(Object.keys(tree?.subkeys ?? {}).length).toBe(10_000);
    expect(tree?.subkeys["9999"]?.values.Client).toEqual({ type: "string", value: "ws-9999" });
  });

  it("leaves the old file intact when the writer dies between temp write and rename", async () => {
    await registry.set(BORROW, "Product", u32(1001));
    const before = await readFile(file);
    const crashing = spawnChild(child.dir, "crash-before-rename", file);
    expect(await waitForExit(crashing)).toMatchObject({ signal: "SIGKILL" });
    expect(await readFile(file)).toEqual(before);
    const leftovers = (await readdir(join(dir, "keybridge"))).filter((n) => n.endsWith(".tmp"));
    expect(leftovers.length).toBe(1);
    // The dead writer's lock is stale; the next write takes it over and removes the temp file.
    const next = new IniRegistry({ path: file, lockTimeoutMs: 2_000 });
    expect(await next.get(BORROW, "Product")).toEqual(u32(1001));
    expect(await next.get(`${ROOT}\\Borrows\\K-1\\2`, "Product")).toBeUndefined();
    await next.set(BORROW, "Seats", u32(3));
    await next.close();
    expect((await readdir(join(dir, "keybridge"))).sort()).toEqual(["registry.ini"]);
  });

  it("waits for a lock held by another live process and fails with REGISTRY_LOCKED", async () => {
    await registry.set(BORROW, "Product", u32(1));
    const holder = spawnChild(child.dir, "hold-lock", file);
    try {
      await waitForLine(holder, "locked");
      const impatient = new IniRegistry({ path: file, lockTimeoutMs: 150 });
      await expect(impatient.set(BORROW, "Product", u32(2))).rejects.toMatchObject({
        code: "REGISTRY_LOCKED",
        message: expect.stringContaining(`pid ${holder.pid}`),
      });
      expect(await impatient.get(BORROW, "Product")).toEqual(u32(1));
      const patient = new IniRegistry({ path: file, lockTimeoutMs: 10_000 });
      const write = patient.set(BORROW, "Product", u32(3));
      holder.stdin.write("release\n");
      await write;
      expect(await registry.get(BORROW, "Product")).toEqual(u32(3));
      await impatient.close();
      await patient.close();
    } finally {
      holder.kill("SIGKILL");
      await waitForExit(holder);
    }
  });

  it("takes over a lock whose holder died", async () => {
    await registry.set(BORROW, "Product", u32(1));
    const holder = spawnChild(child.dir, "hold-lock", file);
    await waitForLine(holder, "locked");
    holder.kill("SIGKILL");
    await waitForExit(holder);
    expect(await readFile(`${file}.lock`, "utf8")).toContain(`pid=${holder.pid}`);
    await registry.set(BORROW, "Product", u32(2));
    expect(await registry.get(BORROW, "Product")).toEqual(u32(2));
    await expect(stat(`${file}.lock`)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("does not take over a lock from another host", async () => {
    await registry.set(BORROW, "Product", u32(1));
    await writeFile(`${file}.lock`, "pid=1\nhost=elsewhere.example\ntoken=abc\nsince=2024-01-01T00:00:00Z\n");
    const impatient = new IniRegistry({ path: file, lockTimeoutMs: 100 });
    await expect(impatient.set(BORROW, "Product", u32(2))).rejects.toMatchObject({ code: "REGISTRY_LOCKED" });
    await impatient.close();
  });
});

describe("registry file locations and fs errors", () => {
  it("defaults to /var/lib for root and the XDG state directory otherwise", () => {
    expect(defaultIniRegistryPath({}, 0)).toBe("/var/lib/keybridge/registry.ini");
    expect(defaultIniRegistryPath({ XDG_STATE_HOME: "/home/a/.state" }, 1000)).toBe(
      "/home/a/.state/keybridge/registry.ini",
    );
    expect(defaultIniRegistryPath({}, 1000)).toMatch(/\/\.local\/state\/keybridge\/registry\.ini$/);
  });

  it("maps permission, read-only and full-disk errors to actionable codes", () => {
    const err = (code: string) => Object.assign(new Error(code), { code });
    expect(mapFsError(err("EACCES"), "write", "/x")).toMatchObject({ code: "REGISTRY_ACCESS_DENIED" });
    expect(mapFsError(err("EROFS"), "write", "/x")).toMatchObject({
      code: "REGISTRY_ACCESS_DENIED",
      message: expect.stringContaining("read-only"),
    });
    expect(mapFsError(err("ENOSPC"), "write", "/x")).toMatchObject({
      code: "REGISTRY_IO",
      message: expect.stringContaining("full"),
    });
  });

  it("reports a registry path that cannot be created", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kb-ini-"));
    await writeFile(join(dir, "not-a-dir"), "");
    const registry = new IniRegistry({ path: join(dir, "not-a-dir", "registry.ini") });
    await expect(registry.set(BORROW, "Product", u32(1))).rejects.toMatchObject({ code: "REGISTRY_IO" });
    await registry.close();
    await rm(dir, { recursive: true, force: true });
  });
});
