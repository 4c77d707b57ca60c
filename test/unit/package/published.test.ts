import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(".");
const built = existsSync(join(ROOT, "dist/src/index.d.ts"));
if (!built) process.stderr.write("package tests skipped: run `npm run build` first (dist/src/index.d.ts is missing)\n");

let work: string;
let packed: { path: string }[];
let project: string;

/**
 * `npm pack` as a release would, then an install of the tarball into a fresh project. The install
 * is done by hand so the test needs no network: the tarball is unpacked into node_modules/keybridge
 * and the package's own dependencies are linked from this checkout's node_modules, as npm would
 * place them. Only what a user gets is there: no @types/better-sqlite3, none of our devDependencies.
 */
beforeAll(() => {
  if (!built) return;
  work = mkdtempSync(join(tmpdir(), "kb-pack-"));
  const pack = spawnSync("npm", ["pack", "--json", "--pack-destination", work], { cwd: ROOT, encoding: "utf8" });
  if (pack.status !== 0) throw new Error(`npm pack failed: ${pack.stderr}`);
  const [result] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
  if (result === undefined) throw new Error("npm pack printed no result");
  packed = result.files;

  project = join(work, "consumer");
  const installed = join(project, "node_modules", "keybridge");
  mkdirSync(installed, { recursive: true });
  const untar = spawnSync("tar", ["-xzf", join(work, result.filename), "-C", installed, "--strip-components=1"]);
  if (untar.status !== 0) throw new Error(`tar failed: ${untar.stderr}`);
  const manifest = JSON.parse(readFileSync(join(installed, "package.json"), "utf8")) as {
    dependencies: Record<string, string>;
  };
  for (const name of [...Object.keys(manifest.dependencies), "@types/node"]) {
    const link = join(project, "node_modules", name);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(join(ROOT, "node_modules", name), link, "dir");
  }
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", type: "module", private: true }));
  writeFileSync(
    join(project, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        skipLibCheck: false,
        noEmit: true,
        types: ["node"],
      },
      files: ["use.ts"],
    }),
  );
  writeFileSync(
    join(project, "use.ts"),
    [
      'import { type BorrowView, type Bridge, createServer, isCodedError, openBridge, STATUS_BY_CODE } from "keybridge";',
      'const bridge: Bridge = await openBridge({ dataDir: "/var/lib/my-service/keybridge", mode: "virtual" });',
      "const borrows: BorrowView[] = await bridge.borrows();",
      'const server = await createServer({ bridge, token: "t" });',
      "try {",
      '  await bridge.borrow({ product: 1001, client: "ws-07" });',
      "} catch (error) {",
      "  if (isCodedError(error)) console.log(STATUS_BY_CODE[error.code]?.status);",
      "}",
      "console.log(borrows.length, server.metrics);",
      "await bridge.close();",
      "",
    ].join("\n"),
  );
});

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe.skipIf(!built)("the published package", () => {
  it("ships the library, the CLI and the virtual key, and no test code", () => {
    const paths = packed.map((file) => file.path);
    expect(paths).toContain("dist/src/index.js");
    expect(paths).toContain("dist/src/index.d.ts");
    expect(paths).toContain("dist/src/cli/main.js");
    expect(paths).toContain("dist/native-mocks/index.js");
    expect(paths.filter((path) => path.startsWith("dist/test/"))).toEqual([]);
    expect(paths.filter((path) => /\.test\.(js|d\.ts)$/.test(path))).toEqual([]);
  });

  it("its types stand on their own: a strict TypeScript user without @types/better-sqlite3 compiles, skipLibCheck off", () => {
    expect(existsSync(join(project, "node_modules", "@types", "better-sqlite3"))).toBe(false);
    const tsc = spawnSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", project], {
      encoding: "utf8",
    });
    expect(`${tsc.stdout}${tsc.stderr}`).toBe("");
    expect(tsc.status).toBe(0);
    // A full type check of the package and its dependencies' types (about 10 s of CPU); on a machine
    // shared with other jobs it took over 30 s of wall time.
  }, 180_000);
});
