#!/usr/bin/env node
import { spawnSync } from "node:child_process";
// Builds the QEMU test guest: a Debian kernel (unpacked to ELF for a PVH boot) and an initramfs made of three concatenated cpio
// layers, each cached by a hash of what went into it:
//   base    - busybox, udev, kmod, libudev, libusb, the host's node and their libraries, the
//             kernel's USB gadget/HID modules (changes when a Debian package or node changes);
//   deps    - the project's production node_modules and the libraries of their addons;
//   project - dist/, udev/, test/vm/guest/, /init and the generated gadget configuration
//             (rebuilt every run: a few MB).
// The kernel unpacks concatenated archives in order, so the small project layer is all a
// rerun has to write. Usage: node test/vm/build-guest.mjs [--gzip] [--rebuild]
import { createHash } from "node:crypto";
import {
  createReadStream,
  createWriteStream,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { createGzip } from "node:zlib";
import { CpioWriter } from "./lib/cpio.mjs";
import { kernelPackageName, resolvePackages, unpackDeb } from "./lib/debian.mjs";
import { packageFiles, productionPackageDirs, treeFiles } from "./lib/project-files.mjs";
import { isElf, sharedLibraries } from "./lib/shared-libs.mjs";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
/** Bump when the base layer's recipe changes in a way its inputs' hashes do not show. */
const BASE_RECIPE = "base-4";
const DEPS_RECIPE = "deps-2";
/** Kernel modules in load order (measured on Debian 12's 6.1 kernel). */
export const GUEST_MODULES = [
  "usb-common",
  "usbcore",
  "udc-core",
  "configfs",
  "libcomposite",
  "usb_f_hid",
  "dummy_hcd",
  "hid",
  "usbhid",
  "hid-generic",
];
const GUEST_PACKAGES = ["busybox-static", "udev", "kmod", "libudev1", "libusb-1.0-0"];
/** Paths of the guest packages that a guest without systemd never uses. */
const UNUSED_PACKAGE_PATH =
  /^(usr\/share|usr\/lib\/systemd\/(system|network)|usr\/lib\/udev\/hwdb\.d|usr\/bin\/systemd-hwdb|etc\/init\.d)(\/|$)/;
/**
 * Where the guest puts the key: the defaults of systemd/keybridge-key.service (the guest checks
 * they agree). The gadget's USB identity is not here: the guest writes it to configfs with
 * `keybridge key setup`, from the protocol constants and the key's own state, so nothing is copied.
 */
const GUEST_KEY = {
  serial: "KB-VM-0001",
  keyState: "/var/lib/keybridge-key/key.json",
  device: "/dev/hidg0",
  udc: "dummy_udc.0",
  configfsDir: "/sys/kernel/config/usb_gadget/keybridge",
  group: "keybridge",
  /**
   * A SYNTHETIC CmStick beside the key (test/vm/guest/cmstick-gadget.mjs), on the second dummy
   * controller: the key's board names its own controller in /etc/keybridge/key.env, as a board
   * with two would. Its USB ids come from the protocol constants, not from here.
   */
  cmStick: {
    serial: "3-7000001",
    udc: "dummy_udc.1",
    configfsDir: "/sys/kernel/config/usb_gadget/cmstick",
  },
};

export function defaultCacheDir() {
  return process.env.KEYBRIDGE_VM_CACHE || join(homedir(), ".cache", "keybridge-vm");
}

const started = Date.now();
const defaultLog = (message) =>
  process.stderr.write(`[vm-build +${((Date.now() - started) / 1000).toFixed(1)}s] ${message}\n`);

/**
 * Builds (or reuses) the guest and returns `{kernel, initrd, kernelVersion, compression, layers}`.
 * `compression` is "none" (default: faster to boot under TCG, see docs/vm.md) or "gzip".
 */
export async function buildGuest({
  cacheDir = defaultCacheDir(),
  compression = process.env.KEYBRIDGE_VM_COMPRESSION || "none",
  rebuild = false,
  log = defaultLog,
} = {}) {
  if (!["none", "gzip"].includes(compression)) throw new Error(`unknown compression ${compression}`);
  mkdirSync(cacheDir, { recursive: true });
  if (rebuild) rmSync(join(cacheDir, "layers"), { recursive: true, force: true });
  const [meta, ...packages] = resolvePackages(["linux-image-amd64", ...GUEST_PACKAGES]);
  const [kernelPackage] = resolvePackages([kernelPackageName(meta)]);
  const kernel = prepareKernel(kernelPackage, cacheDir, log);
  const base = buildBaseLayer(packages, cacheDir, kernel, log);
  ensureProjectBuilt(cacheDir, log);
  const deps = buildDepsLayer(cacheDir, base, log);
  const project = await buildProjectLayer(cacheDir, kernel, log);
  const layers = [];
  for (const layer of [base, deps, project]) layers.push(await compressed(layer.path, compression, log));
  const initrd = join(cacheDir, "guest", `initrd-${compression}.img`);
  await concatenate(layers, initrd);
  const size = (p) => `${(statSync(p).size / 1e6).toFixed(1)} MB`;
  log(
    `initrd ${initrd} (${size(initrd)}: base ${size(layers[0])}, deps ${size(layers[1])}, project ${size(layers[2])})`,
  );
  pruneLayers(cacheDir, [base.path, deps.path, project.path, ...layers]);
  return { kernel: kernel.image, initrd, kernelVersion: kernel.version, compression, layers };
}

// --- kernel -----------------------------------------------------------------------------------

function prepareKernel(pkg, cacheDir, log) {
  const patterns = [
    "./boot/vmlinuz-*",
    "./boot/config-*",
    "./lib/modules/*/modules.order",
    "./lib/modules/*/modules.builtin",
    "./lib/modules/*/modules.builtin.modinfo",
    ...GUEST_MODULES.map((m) => `*/${m}.ko*`),
  ];
  const root = unpackDeb(pkg, cacheDir, log, patterns);
  const [vmlinuzName] = readdirSync(join(root, "boot")).filter((f) => f.startsWith("vmlinuz-"));
  const version = vmlinuzName.slice("vmlinuz-".length);
  const moduleDir = join(root, "lib", "modules", version);
  const found = new Map();
  for (const file of treeFiles(join(moduleDir, "kernel"))) {
    const base = file.split(sep).at(-1);
    const compressedWith = base.endsWith(".ko.xz") ? "xz" : base.endsWith(".ko.zst") ? "zstd" : null;
    let path = file;
    if (compressedWith) {
      // busybox insmod cannot read compressed modules: unpack them once, here.
      const result = spawnSync(compressedWith, ["-d", "-f", file], { stdio: "inherit" });
      if (result.status !== 0) throw new Error(`${compressedWith} -d ${file} failed`);
      path = file.replace(/\.(xz|zst)$/, "");
    }
    if (path.endsWith(".ko")) found.set(path.split(sep).at(-1).slice(0, -3), path);
  }
  const missing = GUEST_MODULES.filter((m) => !found.has(m));
  if (missing.length > 0) throw new Error(`kernel ${version} lacks modules: ${missing.join(", ")}`);
  if (!existsSync(join(moduleDir, "modules.dep"))) {
    const depmod = spawnSync("depmod", ["-b", root, version], { encoding: "utf8" });
    if (depmod.status !== 0) log(`depmod failed (modules still load by path): ${depmod.stderr}`);
  }
  const vmlinuz = join(root, "boot", vmlinuzName);
  return {
    version,
    sha256: pkg.sha256,
    root,
    image: pvhImage(vmlinuz, join(root, "boot", `config-${version}`), log) ?? vmlinuz,
    modules: GUEST_MODULES.map((m) => relative(moduleDir, found.get(m))),
  };
}

/**
 * The uncompressed ELF kernel, which QEMU starts directly through its PVH entry point: under TCG
 * this saves the ~4 s the bzImage spends decompressing itself. Null when the kernel has no PVH
 * entry or is not xz-compressed; the bzImage is used then.
 */
function pvhImage(vmlinuz, configPath, log) {
  const target = vmlinuz.replace("vmlinuz-", "vmlinux-");
  if (existsSync(target)) return target;
  const config = existsSync(configPath) ? readFileSync(configPath, "utf8") : "";
  if (!/^CONFIG_PVH=y$/m.test(config)) return null;
  const image = readFileSync(vmlinuz);
  const start = image.indexOf(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]));
  if (start < 0) return null;
  const xz = spawnSync("xz", ["-dc", "--single-stream"], { input: image.subarray(start), maxBuffer: 1 << 30 });
  if (xz.status !== 0 || xz.stdout.subarray(0, 4).toString("latin1") !== "\x7fELF") {
    log(`warning: cannot unpack the ELF kernel from ${vmlinuz}; booting the bzImage`);
    return null;
  }
  writeFileSync(`${target}.tmp`, xz.stdout);
  renameSync(`${target}.tmp`, target);
  return target;
}

// --- base layer ---------------------------------------------------------------------------------

/** Debian 12 is usr-merged: keep it so in the guest, whatever the package says. */
function guestPath(rel) {
  const clean = rel.replace(/^\.?\/+/, "");
  return /^(bin|sbin|lib|lib64)(\/|$)/.test(clean) ? `usr/${clean}` : clean;
}

function buildBaseLayer(packages, cacheDir, kernel, log) {
  const roots = packages.map((pkg) => unpackDeb(pkg, cacheDir, log));
  const libraryDirs = roots.flatMap((r) => ["lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu"].map((d) => join(r, d)));
  const node = process.execPath;

  // The package files first, then the libraries their binaries and node load.
  const entries = new Map(); // archive path -> {source} | {symlink}
  const elfs = [node];
  for (const root of roots) {
    for (const rel of walkAll(root)) {
      const path = join(root, rel);
      const target = guestPath(rel);
      if (UNUSED_PACKAGE_PATH.test(target) || rel === ".complete") continue;
      const stat = lstatSync(path);
      if (stat.isSymbolicLink()) entries.set(target, { symlink: readlinkSync(path) });
      else if (stat.isFile()) {
        entries.set(target, { source: path });
        if (isElf(path)) elfs.push(path);
      }
    }
  }
  entries.set("usr/bin/node", { source: node });
  const libraries = collectLibraries(elfs, libraryDirs, roots, log);
  for (const [target, source] of libraries) if (!entries.has(target)) entries.set(target, { source });

  const nodeHash = hashFile(node);
  const libHash = hashStrings([...libraries].map(([t, s]) => `${t} ${hashFile(s)}`));
  const hash = hashStrings([BASE_RECIPE, kernel.sha256, ...packages.map((p) => p.sha256), nodeHash, libHash]);
  const path = join(cacheDir, "layers", `base-${hash.slice(0, 16)}.cpio`);
  const manifestPath = `${path}.json`;
  if (existsSync(path) && existsSync(manifestPath)) {
    log(`base layer cached (${relative(cacheDir, path)})`);
    return { path, files: new Set(JSON.parse(readFileSync(manifestPath, "utf8"))) };
  }
  log("writing base layer");
  mkdirSync(dirname(path), { recursive: true });
  const cpio = new CpioWriter(`${path}.tmp`);
  for (const dir of ["usr/bin", "usr/sbin", "usr/lib", "usr/lib64", "dev", "proc", "sys", "run", "root", "mnt"]) {
    cpio.dir(dir);
  }
  cpio.dir("tmp", 0o1777);
  for (const link of ["bin", "sbin", "lib", "lib64"]) cpio.symlink(link, `usr/${link}`);
  // The kernel opens /dev/console before /init runs, which is before devtmpfs is mounted.
  cpio.charDevice("dev/console", 5, 1, 0o600);
  cpio.charDevice("dev/null", 1, 3, 0o666);
  cpio.content("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
  cpio.content("etc/group", guestGroups());
  cpio.content("etc/nsswitch.conf", "passwd: files\ngroup: files\nshadow: files\n");
  cpio.dir("etc/udev/rules.d");

  for (const [target, entry] of [...entries].sort(([a], [b]) => a.localeCompare(b))) {
    if (entry.symlink) cpio.symlink(target, entry.symlink);
    else cpio.file(target, entry.source);
  }
  for (const applet of busyboxApplets(entries)) cpio.symlink(applet, "/usr/bin/busybox");
  for (const rel of walkAll(join(kernel.root, "lib", "modules"))) {
    const path = join(kernel.root, "lib", "modules", rel);
    if (statSync(path).isFile() && !rel.endsWith(".xz") && !rel.endsWith(".zst"))
      cpio.file(`usr/lib/modules/${rel}`, path);
  }
  cpio.close();
  renameSync(`${path}.tmp`, path);
  writeFileSync(manifestPath, JSON.stringify([...entries.keys()]));
  log(`base layer: ${cpio.entries} entries, ${(cpio.bytes / 1e6).toFixed(1)} MB`);
  return { path, files: new Set(entries.keys()) };
}

/** Groups the stock udev rules name (so udevd does not warn about each), without `keybridge`: init adds it. */
function guestGroups() {
  const names = ["root", "tty", "disk", "lp", "kmem", "dialout", "cdrom", "tape", "audio", "video", "input"];
  names.push("kvm", "render", "sgx", "floppy", "plugdev", "users");
  return names.map((name, i) => `${name}:x:${i === 0 ? 0 : 100 + i}:\n`).join("");
}

function busyboxApplets(entries) {
  const busybox = entries.get("usr/bin/busybox")?.source;
  if (!busybox) throw new Error("busybox-static has no /bin/busybox");
  const list = spawnSync(busybox, ["--list-full"], { encoding: "utf8" });
  if (list.status !== 0) throw new Error(`busybox --list-full failed: ${list.stderr}`);
  return list.stdout
    .split("\n")
    .filter(Boolean)
    .map(guestPath)
    .filter((applet) => !entries.has(applet) && applet !== "usr/bin/busybox");
}

/** Archive path -> host path of every library the given ELF files load. */
function collectLibraries(elfs, libraryDirs, roots, log) {
  const libraries = new Map();
  for (const elf of elfs) {
    const { found, missing } = sharedLibraries(elf, libraryDirs);
    if (missing.length > 0) log(`warning: ${elf} needs libraries not found: ${missing.join(", ")}`);
    for (const lib of found) {
      const root = roots.find((r) => lib.startsWith(r + sep));
      libraries.set(guestPath(root ? relative(root, lib) : lib), lib);
    }
  }
  return libraries;
}

// --- deps layer -----------------------------------------------------------------------------------

function buildDepsLayer(cacheDir, base, log) {
  const files = productionPackageDirs(REPO).flatMap(packageFiles);
  const fingerprint = files.map((f) => {
    const s = statSync(f);
    return `${relative(REPO, f)} ${s.size} ${s.mtimeMs}`;
  });
  const hash = hashStrings([DEPS_RECIPE, base.path, ...fingerprint]);
  const path = join(cacheDir, "layers", `deps-${hash.slice(0, 16)}.cpio`);
  if (existsSync(path)) {
    log(`deps layer cached (${relative(cacheDir, path)})`);
    return { path };
  }
  log(`writing deps layer (${files.length} files)`);
  const addons = files.filter((f) => f.endsWith(".node") && isElf(f));
  const libraries = collectLibraries(addons, [], [], log);
  const cpio = new CpioWriter(`${path}.tmp`);
  for (const file of files) cpio.file(`kb/${relative(REPO, file)}`, file);
  for (const [target, source] of libraries) if (!base.files.has(target)) cpio.file(target, source);
  cpio.close();
  renameSync(`${path}.tmp`, path);
  log(`deps layer: ${cpio.entries} entries, ${(cpio.bytes / 1e6).toFixed(1)} MB`);
  return { path };
}

// --- project layer --------------------------------------------------------------------------------

/**
 * Builds dist/ when it is missing or older than a source file; partial output is accepted.
 * The build is incremental with its state in the cache (not the repository): about half the
 * time of a full build when a few sources changed.
 */
function ensureProjectBuilt(cacheDir, log) {
  const constants = join(REPO, "dist", "src", "protocol", "constants.js");
  const newest = (dir) => treeFiles(dir).reduce((m, f) => Math.max(m, statSync(f).mtimeMs), 0);
  const sourceTime = Math.max(
    ...["src", "native-mocks", join("test", "conformance")].map((dir) => newest(join(REPO, dir))),
  );
  if (existsSync(constants) && newest(join(REPO, "dist")) >= sourceTime) return;
  log("building the project (tsc -p tsconfig.build.json)");
  const buildInfo = join(cacheDir, "tsc", "build.tsbuildinfo");
  // Incremental state says nothing about outputs someone deleted: start over without dist/.
  if (!existsSync(constants)) rmSync(buildInfo, { force: true });
  const tsc = join(REPO, "node_modules", "typescript", "bin", "tsc");
  const tscArgs = [tsc, "-p", "tsconfig.build.json", "--incremental", "--tsBuildInfoFile", buildInfo];
  const result = spawnSync(process.execPath, tscArgs, { cwd: REPO, encoding: "utf8" });
  if (result.status !== 0) {
    const errors = result.stdout.split("\n").filter((l) => l.includes("error TS"));
    log(
      `warning: the build reported ${errors.length} type errors; using its partial output. First: ${errors[0] ?? ""}`,
    );
  }
  if (!existsSync(constants)) throw new Error(`build produced no ${relative(REPO, constants)}`);
}

/** What init and the checks read: where the key lives, not what it looks like on the bus. */
function guestConfig(kernel) {
  const board = join(REPO, "dist", "native-mocks", "board", "index.js");
  if (!existsSync(board)) throw new Error(`the build has no ${relative(REPO, board)}`);
  const json = { ...GUEST_KEY, kernelVersion: kernel.version };
  const env = {
    KB_SERIAL: GUEST_KEY.serial,
    KB_UDC: GUEST_KEY.udc,
    KB_CMSTICK_SERIAL: GUEST_KEY.cmStick.serial,
    KB_GROUP: GUEST_KEY.group,
    KB_KERNEL: kernel.version,
    KB_MODULES: kernel.modules.join(" "),
  };
  const shellQuote = (v) => `'${v.replaceAll("'", "'\\''")}'`;
  const envText = Object.entries(env)
    .map(([k, v]) => `${k}=${shellQuote(v)}`)
    .join("\n");
  return { json, envText: `# generated by test/vm/build-guest.mjs\n${envText}\n` };
}

async function buildProjectLayer(cacheDir, kernel, log) {
  const config = guestConfig(kernel);
  {
    const path = join(cacheDir, "layers", "project.cpio");
    const cpio = new CpioWriter(`${path}.tmp`);
    cpio.file("init", join(REPO, "test", "vm", "guest", "init.sh"), 0o755);
    cpio.file("kb/package.json", join(REPO, "package.json"));
    for (const dir of ["dist", "udev", "systemd", join("test", "vm", "guest")]) {
      for (const file of treeFiles(join(REPO, dir))) cpio.file(`kb/${relative(REPO, file)}`, file);
    }
    cpio.content("etc/keybridge-vm/guest.env", config.envText);
    cpio.content("etc/keybridge-vm/guest.json", `${JSON.stringify(config.json, null, 2)}\n`);
    cpio.close();
    renameSync(`${path}.tmp`, path);
    log(`project layer: ${cpio.entries} entries, ${(cpio.bytes / 1e6).toFixed(1)} MB`);
    return { path };
  }
}

// --- helpers --------------------------------------------------------------------------------------

async function compressed(path, compression, log) {
  if (compression === "none") return path;
  const gz = `${path}.gz`;
  if (existsSync(gz) && statSync(gz).mtimeMs >= statSync(path).mtimeMs) return gz;
  log(`gzip ${relative(dirname(path), path)}`);
  await pipeline(createReadStream(path), createGzip({ level: 6 }), createWriteStream(`${gz}.tmp`));
  renameSync(`${gz}.tmp`, gz);
  return gz;
}

async function concatenate(parts, output) {
  mkdirSync(dirname(output), { recursive: true });
  const out = createWriteStream(`${output}.tmp`);
  for (const part of parts) await pipeline(createReadStream(part), out, { end: false });
  await new Promise((resolveEnd, reject) => out.end((error) => (error ? reject(error) : resolveEnd())));
  renameSync(`${output}.tmp`, output);
}

/** Old base and deps layers are dead weight once their inputs changed. */
function pruneLayers(cacheDir, keep) {
  const dir = join(cacheDir, "layers");
  const kept = new Set(keep.flatMap((p) => [p, `${p}.json`, `${p}.gz`]));
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (!kept.has(path)) rmSync(path, { force: true });
  }
}

function* walkAll(root, prefix = "") {
  for (const name of readdirSync(join(root, prefix))) {
    const rel = prefix ? `${prefix}/${name}` : name;
    yield rel;
    const stat = lstatSync(join(root, rel));
    if (stat.isDirectory()) yield* walkAll(root, rel);
  }
}

function hashFile(path) {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

function hashStrings(values) {
  const hash = createHash("sha256");
  for (const v of values) hash.update(`${v}\n`);
  return hash.digest("hex");
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const guest = await buildGuest({
    rebuild: args.includes("--rebuild"),
    ...(args.includes("--gzip") ? { compression: "gzip" } : {}),
  });
  process.stdout.write(`${JSON.stringify(guest)}\n`);
}
