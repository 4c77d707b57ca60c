import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CONFIG_DEFAULTS, type KeybridgeConfig } from "../../../src/config/index.js";
import { startDaemon } from "../../../src/server/daemon.js";

const dir = mkdtempSync(join(tmpdir(), "kb-ro-"));
const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
let mounted: string | undefined;

/** A read-only bind mount of a fresh directory, when this process may mount (root); else undefined. */
function readOnlyMount(): string | undefined {
  if (!isRoot) return undefined;
  const source = join(dir, "source");
  const target = join(dir, "ro");
  mkdirSync(join(source, "existing"), { recursive: true });
  mkdirSync(target);
  if (spawnSync("mount", ["--bind", source, target]).status !== 0) return undefined;
  mounted = target;
  if (spawnSync("mount", ["-o", "remount,ro,bind", target]).status !== 0) return undefined;
  return target;
}
const ro = readOnlyMount();

afterAll(() => {
  if (mounted !== undefined) spawnSync("umount", [mounted]);
  chmodSync(dir, 0o700);
  rmSync(dir, { recursive: true, force: true });
});

const start = (dataDir: string) =>
  startDaemon({
    config: {
      ...CONFIG_DEFAULTS,
      dataDir,
      listen: "127.0.0.1:0",
      mode: "virtual",
      logLevel: "error",
    } as KeybridgeConfig,
  });

describe("a data directory that cannot be written names the real cause", () => {
  it.skipIf(ro === undefined)(
    "on a read-only mount: EROFS and the mount's directory, not ENOENT from mkdir",
    async () => {
      const mount = ro as string;
      const missing = join(mount, "keybridge");
      const error = (await start(missing).catch((e: unknown) => e)) as Error & { code: string; details: unknown };
      expect(error.code).toBe("DATA_DIR_UNWRITABLE");
      expect(error.message).toBe(
        `the data directory ${missing} cannot be created: ${mount} is on a read-only file system (EROFS); ` +
          "choose a writable --data-dir (or KEYBRIDGE_DATA_DIR), or fix the mount or the permissions",
      );
      expect(error.details).toEqual({ dataDir: missing, path: mount, reason: "EROFS" });
      const existing = join(mount, "existing");
      await expect(start(existing)).rejects.toMatchObject({
        code: "DATA_DIR_UNWRITABLE",
        message: expect.stringContaining(
          `the data directory ${existing} cannot be written: it is on a read-only file system (EROFS)`,
        ),
      });
    },
  );

  it.skipIf(isRoot)("in a directory this user may not write: EACCES and that directory", async () => {
    const parent = join(dir, "locked");
    mkdirSync(parent);
    chmodSync(parent, 0o555);
    const missing = join(parent, "keybridge");
    await expect(start(missing)).rejects.toMatchObject({
      code: "DATA_DIR_UNWRITABLE",
      message: expect.stringContaining(`${parent} may not be written by this user (EACCES)`),
    });
    chmodSync(parent, 0o700);
  });
});
