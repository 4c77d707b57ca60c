// A writer for the "newc" cpio format the Linux kernel unpacks as an initramfs.
// Written by hand so that ownership (root), device nodes and timestamps are under our
// control without root privileges or a particular cpio binary, and so that files stream
// straight from their source without a staging copy.
import { closeSync, openSync, readFileSync, statSync, writeSync } from "node:fs";
import { posix } from "node:path";

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

const hex8 = (n) => n.toString(16).padStart(8, "0");
const pad4 = (n) => (4 - (n % 4)) % 4;

export class CpioWriter {
  #fd;
  #inode = 1;
  #dirs = new Set([""]);
  #written = new Set();
  bytes = 0;
  entries = 0;

  constructor(outputPath) {
    this.#fd = openSync(outputPath, "w");
  }

  /** True when `archivePath` was already written to this archive. */
  has(archivePath) {
    return this.#written.has(normalize(archivePath));
  }

  dir(archivePath, mode = 0o755) {
    const name = normalize(archivePath);
    if (this.#dirs.has(name)) return;
    this.#parents(name);
    this.#dirs.add(name);
    this.#entry(name, S_IFDIR | mode, Buffer.alloc(0), { nlink: 2 });
  }

  /** Regular file copied from a path on disk; its permission bits are kept unless `mode` is given. */
  file(archivePath, sourcePath, mode) {
    this.content(archivePath, readFileSync(sourcePath), mode ?? statSync(sourcePath).mode & 0o7777);
  }

  /** Regular file with the given content (string or bytes). */
  content(archivePath, data, mode = 0o644) {
    const name = normalize(archivePath);
    this.#parents(name);
    this.#entry(name, S_IFREG | mode, Buffer.from(data));
  }

  symlink(archivePath, target) {
    const name = normalize(archivePath);
    this.#parents(name);
    this.#entry(name, S_IFLNK | 0o777, Buffer.from(target));
  }

  charDevice(archivePath, major, minor, mode = 0o600) {
    const name = normalize(archivePath);
    this.#parents(name);
    this.#entry(name, S_IFCHR | mode, Buffer.alloc(0), { rdevMajor: major, rdevMinor: minor });
  }

  close() {
    this.#entry("TRAILER!!!", 0, Buffer.alloc(0), { inode: 0, nlink: 1 });
    closeSync(this.#fd);
  }

  #parents(name) {
    const parent = posix.dirname(name);
    if (parent !== "." && !this.#dirs.has(parent)) this.dir(parent);
  }

  #entry(name, mode, data, { nlink = 1, rdevMajor = 0, rdevMinor = 0, inode } = {}) {
    const nameBytes = Buffer.from(`${name}\0`);
    const header =
      "070701" +
      [
        inode ?? this.#inode++,
        mode,
        0, // uid
        0, // gid
        nlink,
        0, // mtime: fixed, so equal inputs give equal archives
        data.length,
        0,
        0,
        rdevMajor,
        rdevMinor,
        nameBytes.length,
        0,
      ]
        .map(hex8)
        .join("");
    this.#write(Buffer.from(header, "ascii"));
    this.#write(nameBytes);
    this.#write(Buffer.alloc(pad4(110 + nameBytes.length)));
    this.#write(data);
    this.#write(Buffer.alloc(pad4(data.length)));
    this.#written.add(name);
    this.entries++;
  }

  #write(buffer) {
    let offset = 0;
    while (offset < buffer.length) offset += writeSync(this.#fd, buffer, offset, buffer.length - offset);
    this.bytes += buffer.length;
  }
}

function normalize(archivePath) {
  const name = posix.normalize(archivePath).replace(/^\/+/, "");
  if (name === "" || name.startsWith("..")) throw new Error(`bad archive path: ${archivePath}`);
  return name;
}
