// What of the repository goes into the guest: the built project and its production
// dependencies, trimmed of what can never load on linux-x64 glibc.
import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, readdirSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";

/** Directories of the production dependency tree (`npm ls --omit=dev`), the root excluded. */
export function productionPackageDirs(repo) {
  const result = spawnSync("npm", ["ls", "--omit=dev", "--parseable", "--all"], { cwd: repo, encoding: "utf8" });
  // npm ls exits non-zero for problems such as extraneous packages but still lists the tree.
  const dirs = result.stdout
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && l !== repo && l.includes(`${sep}node_modules${sep}`) && existsSync(l));
  if (dirs.length === 0) throw new Error(`npm ls --omit=dev listed no packages: ${result.stderr}`);
  return dirs;
}

const SKIPPED_FILE = /\.(map|md|markdown|d\.ts|d\.mts|d\.cts|ts|tsbuildinfo)$|^(CHANGELOG|HISTORY)/i;

/**
 * Files of one package worth shipping, as absolute paths. Nested node_modules are left to their
 * own entries of the dependency list; native sources, intermediate build objects and prebuilt
 * binaries for other platforms stay behind.
 */
export function packageFiles(packageDir) {
  const files = [];
  const hasNativeBuild = existsSync(join(packageDir, "build", "Release"));
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const rel = relative(packageDir, path).split(sep);
      const stat = lstatSync(path);
      if (stat.isDirectory()) {
        if (name === "node_modules" || name === ".github") continue;
        if (hasNativeBuild && rel.length === 1 && (name === "deps" || name === "src")) continue;
        if (hasNativeBuild && rel[0] === "build" && rel.length === 2 && name !== "Release") continue;
        if (hasNativeBuild && rel[0] === "build" && rel.length === 3) continue; // obj.target, .deps
        if (rel.at(-2) === "prebuilds" && !isLinuxX64(name)) continue;
        walk(path);
      } else if (stat.isFile() || stat.isSymbolicLink()) {
        if (SKIPPED_FILE.test(name)) continue;
        if (rel.includes("prebuilds") && /musl/.test(name)) continue;
        if (hasNativeBuild && rel[0] === "build" && !name.endsWith(".node")) continue;
        files.push(path);
      }
    }
  };
  walk(packageDir);
  return files;
}

function isLinuxX64(prebuildDir) {
  return /linux-x64/.test(prebuildDir) && !/musl/.test(prebuildDir);
}

/** Every file under `dir`, skipping source maps and declaration files. */
export function treeFiles(dir) {
  if (!existsSync(dir)) return [];
  const files = [];
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      const stat = statSync(path);
      if (stat.isDirectory()) walk(path);
      else if (!/\.(map|d\.ts)$/.test(name)) files.push(path);
    }
  };
  walk(dir);
  return files;
}
