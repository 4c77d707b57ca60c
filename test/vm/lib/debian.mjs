// Debian packages for the guest: resolved with the local apt lists, downloaded once with
// `apt-get download` into the cache, and unpacked with `dpkg-deb` into a directory named by
// the package's SHA-256, so a rerun touches neither the network nor the disk.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { basename, join } from "node:path";

/**
 * The candidate versions of packages as apt would install them, from one `apt-cache show`
 * (each call costs about a second): `[{name, version, sha256, filename, depends}]`.
 */
export function resolvePackages(names) {
  let text;
  try {
    text = withAptLists(() =>
      execFileSync("apt-cache", ["show", "--no-all-versions", ...names], { encoding: "utf8", stdio: "pipe" }),
    );
  } catch (error) {
    throw new Error(`apt-cache does not know all of ${names.join(", ")} (even after apt-get update)`, {
      cause: error,
    });
  }
  const stanzas = text.split(/\n\s*\n/).filter((s) => s.trim());
  return names.map((name) => {
    const stanza = stanzas.find((s) => s.match(/^Package: (.*)$/m)?.[1]?.trim() === name);
    const field = (key) => stanza?.match(new RegExp(`^${key}: (.*)$`, "m"))?.[1]?.trim();
    const version = field("Version");
    const sha256 = field("SHA256");
    const pool = field("Filename");
    if (!version || !sha256 || !pool) throw new Error(`apt-cache show ${name}: no Version/SHA256/Filename`);
    return { name, version, sha256, filename: basename(pool), depends: field("Depends") ?? "" };
  });
}

let listsUpdated = false;

/**
 * Runs an apt command; when it fails and the lists were not refreshed in this run yet, runs
 * `apt-get update` once and tries again. A fresh machine (or a CI image with its lists removed)
 * then works without a manual step; a second failure is the real error.
 */
function withAptLists(command) {
  try {
    return command();
  } catch (error) {
    if (listsUpdated) throw error;
    listsUpdated = true;
    process.stderr.write("[vm-build] apt failed; running apt-get update once and retrying\n");
    try {
      execFileSync("apt-get", ["update"], { stdio: ["ignore", "ignore", "inherit"] });
    } catch (updateError) {
      throw new Error("apt-get update failed (root and network are needed for a first build)", {
        cause: updateError,
      });
    }
    return command();
  }
}

/** The versioned kernel image package that the `linux-image-amd64` metapackage points at. */
export function kernelPackageName(meta) {
  const image = meta.depends
    .split(",")
    .map((d) => d.trim().split(" ")[0])
    .find((d) => /^linux-image-\d/.test(d));
  if (!image) throw new Error(`linux-image-amd64 depends on no versioned image: ${meta.depends}`);
  return image;
}

/** Path of the package's .deb in the cache, downloading it when absent. */
export function fetchDeb(pkg, cacheDir, log) {
  const debDir = join(cacheDir, "debs");
  mkdirSync(debDir, { recursive: true });
  const target = join(debDir, `${pkg.sha256.slice(0, 16)}-${pkg.filename}`);
  if (existsSync(target)) return target;
  log(`downloading ${pkg.name} ${pkg.version}`);
  const tmp = join(debDir, `.download-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  withAptLists(() =>
    execFileSync("apt-get", ["download", `${pkg.name}=${pkg.version}`], {
      cwd: tmp,
      stdio: ["ignore", "ignore", "pipe"],
    }),
  );
  const [deb] = readdirSync(tmp).filter((f) => f.endsWith(".deb"));
  if (!deb) throw new Error(`apt-get download ${pkg.name} produced no .deb`);
  const sha = execFileSync("sha256sum", [join(tmp, deb)], { encoding: "utf8" }).split(" ")[0];
  if (sha !== pkg.sha256) throw new Error(`${pkg.name}: SHA-256 ${sha} differs from apt's ${pkg.sha256}`);
  renameSync(join(tmp, deb), target);
  rmSync(tmp, { recursive: true, force: true });
  return target;
}

/**
 * Unpacked contents of a package (optionally only some members, as tar patterns), in a
 * directory of the cache keyed by the package's hash. Returns that directory.
 */
export function unpackDeb(pkg, cacheDir, log, members = []) {
  const deb = fetchDeb(pkg, cacheDir, log);
  const key = members.length === 0 ? "all" : "part";
  const root = join(cacheDir, "pkgroot", `${pkg.name}-${pkg.sha256.slice(0, 16)}-${key}`);
  if (existsSync(join(root, ".complete"))) return root;
  log(`unpacking ${pkg.name}`);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  const wildcards = members.length > 0 ? ["--wildcards", ...members] : [];
  const script = 'deb="$1" root="$2"; shift 2; dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$root" "$@"';
  execFileSync("sh", ["-c", script, "sh", deb, root, ...wildcards], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  execFileSync("touch", [join(root, ".complete")]);
  return root;
}
