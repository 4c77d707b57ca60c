import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkDataDir, lookupUid } from "../../../src/cli/doctor/data-dir-check.js";
import { openLedger } from "../../../src/ledger/open.js";
import { IniRegistry } from "../../../src/registry/ini-registry.js";
import { REGISTRY_ROOT } from "../../../src/registry/path.js";

let root: string;
let dataDir: string;
const uid = process.getuid?.() ?? 0;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "kb-doctor-data-"));
  dataDir = join(root, "data");
  mkdirSync(dataDir, { mode: 0o700 });
  chmodSync(dataDir, 0o700);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const inputs = (extra: Partial<Parameters<typeof checkDataDir>[0]> = {}) => ({
  dataDir,
  registryKind: "ini",
  platform: "linux" as const,
  uid,
  serviceUid: async () => undefined,
  serviceDataDir: join(root, "no-service-here"),
  ...extra,
});

async function writeRegistry(): Promise<string> {
  const file = join(dataDir, "registry.ini");
  const registry = new IniRegistry({ path: file });
  await registry.set(`${REGISTRY_ROOT}\\Borrows\\KB-0001\\1`, "Client", { type: "string", value: "ws-07" });
  await registry.close();
  return file;
}

describe("data-dir check", () => {
  it("warns that a missing directory is created at the first serve", async () => {
    const result = await checkDataDir(inputs({ dataDir: join(root, "absent") }));
    expect(result.status).toBe("warn");
    expect(result.detail).toMatch(/created at the first `keybridge serve`/);
  });

  it("points a user without a data directory at the system service's", async () => {
    const serviceDataDir = join(root, "var-lib-keybridge");
    mkdirSync(serviceDataDir);
    const result = await checkDataDir(inputs({ dataDir: join(root, "absent"), serviceDataDir }));
    expect(result.status).toBe("warn");
    expect(result.detail).toContain(`the keybridge service keeps its data in ${serviceDataDir}`);
    expect(result.fix).toContain(`--data-dir ${serviceDataDir}`);
  });

  it("fails when the path is a file", async () => {
    const file = join(root, "file");
    writeFileSync(file, "x");
    expect((await checkDataDir(inputs({ dataDir: file }))).status).toBe("fail");
  });

  it("is ok for a private directory with an intact ledger and registry, and never writes to them", async () => {
    openLedger({ dir: dataDir }).close();
    const registryFile = await writeRegistry();
    const ledgerFile = join(dataDir, "ledger.db");
    const before = {
      ledger: readFileSync(ledgerFile),
      mtime: statSync(ledgerFile).mtimeMs,
      registry: readFileSync(registryFile),
    };
    const result = await checkDataDir(inputs());
    expect(result.status, result.detail).toBe("ok");
    expect(result.detail).toMatch(/ledger passes its integrity check \(0 outstanding borrows\)/);
    expect(result.detail).toMatch(/registry .* is intact/);
    expect(readFileSync(ledgerFile).equals(before.ledger)).toBe(true);
    expect(statSync(ledgerFile).mtimeMs).toBe(before.mtime);
    expect(readFileSync(registryFile).equals(before.registry)).toBe(true);
  });

  it("warns about a directory others can read, with the chmod", async () => {
    chmodSync(dataDir, 0o755);
    const result = await checkDataDir(inputs());
    expect(result.status).toBe("warn");
    expect(result.detail).toMatch(/mode 0755, expected 0700/);
    expect(result.fix).toBe(`sudo chmod 700 ${dataDir}`);
  });

  it("warns when another user owns it, with the chown", async () => {
    const someoneElse = await checkDataDir(inputs({ uid: uid + 4242 }));
    expect(someoneElse.status).toBe("warn");
    expect(someoneElse.detail).toMatch(new RegExp(`owned by uid ${uid}, not by you`));
    expect(someoneElse.fix).toBe(`sudo chown -R $USER ${dataDir}`);
  });

  it.runIf(uid === 0)("as root, accepts the keybridge service account as the owner, and no other", async () => {
    chownSync(dataDir, 991, 991);
    expect((await checkDataDir(inputs({ serviceUid: async () => 991 }))).status).toBe("ok");
    const other = await checkDataDir(inputs({ serviceUid: async () => 992 }));
    expect(other.status).toBe("warn");
    expect(other.fix).toBe(`sudo chown -R keybridge:keybridge ${dataDir}`);
  });

  it("skips, asking for sudo, when this user cannot read the directory", async () => {
    const result = await checkDataDir(
      inputs({
        canRead: async () => {
          throw Object.assign(new Error("permission denied"), { code: "EACCES" });
        },
      }),
    );
    expect(result.status).toBe("skip");
    expect(result.detail).toMatch(/EACCES.*sudo keybridge doctor/);
  });

  it("fails on a corrupt ledger, with the restart that rebuilds it", async () => {
    writeFileSync(join(dataDir, "ledger.db"), Buffer.alloc(4096, 0x41), { mode: 0o600 });
    const result = await checkDataDir(inputs());
    expect(result.status).toBe("fail");
    expect(result.detail).toMatch(/ledger.*corrupt/);
    expect(result.fix).toMatch(/preflight restart-service/);
  });

  it("fails on a registry file whose checksum does not match", async () => {
    const file = await writeRegistry();
    writeFileSync(file, readFileSync(file, "utf8").replace("ws-07", "ws-08"));
    const result = await checkDataDir(inputs());
    expect(result.status).toBe("fail");
    expect(result.detail).toMatch(/^.*registry:/);
    expect(result.fix).toMatch(/reconcile --repair/);
  });

  it("reads the registry at the configured path", async () => {
    const elsewhere = join(root, "elsewhere.ini");
    writeFileSync(elsewhere, "garbage without a checksum\n");
    const result = await checkDataDir(inputs({ registryPath: elsewhere }));
    expect(result.status).toBe("fail");
    expect(result.detail).toContain(elsewhere);
  });
});

describe("service account lookup", () => {
  it("finds a user's uid in a passwd file", async () => {
    const file = join(root, "passwd");
    writeFileSync(file, "root:x:0:0::/root:/bin/sh\nkeybridge:x:991:991::/var/lib/keybridge:/usr/sbin/nologin\n");
    expect(await lookupUid("keybridge", file)).toBe(991);
    expect(await lookupUid("nobody", file)).toBeUndefined();
  });
});
