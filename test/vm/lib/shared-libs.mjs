// The shared libraries an ELF binary needs, as `ldd` resolves them on this host, with the
// unpacked Debian packages searched first so the guest gets the packaged libudev/libusb.
import { spawnSync } from "node:child_process";
import { closeSync, openSync, readSync } from "node:fs";

export function isElf(path) {
  const fd = openSync(path, "r");
  try {
    const magic = Buffer.alloc(4);
    return readSync(fd, magic, 0, 4, 0) === 4 && magic.toString("latin1") === "\x7fELF";
  } finally {
    closeSync(fd);
  }
}

/**
 * Absolute paths (as the loader names them, i.e. the soname link) of every library `binary`
 * loads, the dynamic loader included. Libraries ldd cannot find are returned in `missing`.
 */
export function sharedLibraries(binary, libraryDirs = []) {
  const result = spawnSync("ldd", [binary], {
    encoding: "utf8",
    env: { ...process.env, LD_LIBRARY_PATH: libraryDirs.join(":") },
  });
  const found = [];
  const missing = [];
  for (const line of result.stdout.split("\n")) {
    const resolved = line.match(/=>\s+(\/\S+)\s+\(/);
    const loader = line.match(/^\s*(\/\S+)\s+\(/);
    const notFound = line.match(/^\s*(\S+)\s+=>\s+not found/);
    if (resolved) found.push(resolved[1]);
    else if (loader) found.push(loader[1]);
    else if (notFound) missing.push(notFound[1]);
  }
  return { found, missing };
}
