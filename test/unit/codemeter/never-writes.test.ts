import { chmodSync, lstatSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { FilePositionStore, POSITIONS_FILE } from "../../../src/codemeter/sources/position-store.js";
import { PREFLIGHT_ACTIONS } from "../../../src/reconcile/index.js";
import { simWorld, snapshot, tempDir, watchedWorld } from "./helpers.js";

/**
 * The promise of the CodeMeter mode: it never writes anything CodeMeter owns. The whole mode
 * (every source, following the log, a restart of the watch, preflight, maintenance advice,
 * capture) runs over a SYNTHETIC simulated installation whose files are made read-only first;
 * afterwards every file and directory is compared with how it was, byte for byte. Root may write
 * read-only files, so the comparison, not the permission bits, is the proof.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

function setWritable(path: string, writable: boolean): void {
  const info = lstatSync(path);
  if (info.isDirectory()) {
    for (const name of readdirSync(path)) setWritable(join(path, name), writable);
    chmodSync(path, writable ? 0o755 : 0o555);
  } else if (info.isFile()) {
    chmodSync(path, writable ? info.mode | 0o200 : info.mode & ~0o222);
  }
}

describe("the CodeMeter mode never writes", () => {
  it("leaves a read-only CodeMeter tree byte for byte as it was, whatever it does", async () => {
    const world = simWorld();
    const { sim } = world;
    sim.advance(3_600_000);
    sim.borrow("ws-1", "anna", 1001);
    sim.borrow("ws-2", "ben", 1001);
    sim.borrow("ws-3", "cleo", 2001);
    sim.advance(86_400_000);
    sim.restartService();
    sim.advance(10 * 60_000);

    const codemeterTree = [join(sim.root, "etc"), join(sim.root, "var"), join(sim.root, "usr")];
    for (const path of codemeterTree) setWritable(path, false);
    const before = codemeterTree.map(snapshot);

    const data = tempDir();
    const positions = new FilePositionStore(join(data, POSITIONS_FILE), sim.paths.logDir);
    const first = await watchedWorld({ world, positions });
    await first.look();
    for (const action of PREFLIGHT_ACTIONS) await first.watch.preflight(action);
    first.watch.maintenanceAdvice({ at: sim.now() + 7 * 86_400_000 });
    await first.watch.capture();
    await first.watch.capture({ redact: false, lastLines: 5 });
    expect(first.watch.view().borrows).toHaveLength(3);
    await first.watch.close();
    const second = await watchedWorld({
      world,
      store: first.store,
      positions: new FilePositionStore(join(data, POSITIONS_FILE), sim.paths.logDir),
    });
    await second.look();
    await second.watch.close();

    const after = codemeterTree.map(snapshot);
    for (const path of codemeterTree) setWritable(path, true);
    expect(after).toEqual(before);
    // Only the read positions were written, and in keybridge's data directory.
    expect(readdirSync(data)).toEqual([POSITIONS_FILE]);
    const asked = readFileSync(sim.paths.invocations, "utf8").trim().split("\n");
    expect(new Set(asked)).toEqual(new Set(['["--version"]', '["--list"]']));
  });

  it("no module of the mode but the positions store has a way to write a file", () => {
    const writers =
      /\b(writeFile|writeFileSync|appendFile|appendFileSync|rename|renameSync|mkdir|mkdirSync|rm|rmSync|unlink|unlinkSync|chmod|chmodSync|truncate|ftruncate|copyFile|createWriteStream|symlink|link|utimes)\s*\(|\bopen\s*\([^)]*,\s*"(w|wx|a|r\+|w\+|a\+)"/;
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
        const path = `${dir}/${entry.name}`;
        if (entry.isDirectory()) walk(path);
        else if (entry.name.endsWith(".ts")) files.push(path);
      }
    };
    walk("src/codemeter");
    const code = (file: string) =>
      readFileSync(join(ROOT, file), "utf8")
        .replace(/\/\*[\s\S]*?\*\//g, "")
        .replace(/^\s*\/\/.*$/gm, "");
    const writing = files.filter((file) => writers.test(code(file)));
    expect(writing).toEqual(["src/codemeter/sources/position-store.ts"]);
  });
});
